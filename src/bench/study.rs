//! `mergesearch bench study`: the study driver's own overhead (ask, tell, storage, CSV
//! views, hypervolume, snapshot) over a long study whose trials are made nearly free: a
//! random search on the test-preset zoo scored on one example per task.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::study::Study;

/// Arguments of `bench study`.
#[derive(Debug, Args)]
pub struct BenchStudyArgs {
    /// Trials to run.
    #[arg(long, default_value_t = 1000)]
    pub trials: usize,
    /// A zoo directory to use (default: build the test-preset zoo in a temporary directory).
    #[arg(long)]
    pub zoo: Option<std::path::PathBuf>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the benchmark and prints the table.
pub fn run_study_bench(a: BenchStudyArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let zoo = match a.zoo {
        Some(z) => z,
        None => {
            let z = tmp.path().join("zoo");
            eprintln!("building the test-preset zoo in {}", z.display());
            crate::zoo::build(&z, &crate::zoo::Preset::test(), 0, &|_| {})?;
            z
        }
    };
    let zoo = zoo.canonicalize().context("the zoo directory")?;
    let dir = tmp.path();
    let data = |task: &str, split: &str| zoo.join(format!("data/{task}.{split}.jsonl"));
    let mut suite = String::from("harnesses:\n");
    for task in ["add", "sort"] {
        suite += &format!(
            "  - type: exact_match\n    name: {task}\n    data: {{search: {}, heldout: {}}}\n    max_new_tokens: 3\n    limit: 1\n",
            data(task, "search").display(),
            data(task, "heldout").display()
        );
    }
    std::fs::write(dir.join("suite.yaml"), suite)?;
    let study = format!(
        "name: overhead\nmerge:\n  method: task_arithmetic\n  base_model: {z}/base\n  models: [{z}/ft-add, {z}/ft-sort]\nsearch:\n  parameters:\n    weight: {{bounds: [0.0, 1.5]}}\nevals: {s}\nobjectives:\n  - {{metric: add/accuracy}}\n  - {{metric: sort/accuracy}}\nreference_point: [0, 0]\nsearcher: {{type: random}}\nbudget: {{trials: {n}}}\n",
        z = zoo.display(),
        s = dir.join("suite.yaml").display(),
        n = a.trials
    );
    let path = dir.join("overhead.yaml");
    std::fs::write(&path, study)?;
    let mut s = Study::open(&path, &dir.join("results"), false)?;
    let (mut over, mut total) = (Vec::new(), Vec::new());
    let t0 = Instant::now();
    s.run(&AtomicBool::new(false), &mut |r| {
        over.push(r.overhead_seconds);
        total.push(r.overhead_seconds + r.trial.seconds.unwrap_or(0.0));
    })?;
    let wall = t0.elapsed().as_secs_f64();
    let n = over.len();
    let last: Vec<f64> = over[n.saturating_sub(100)..].to_vec();
    let mut sorted = over.clone();
    sorted.sort_by(f64::total_cmp);
    let ms = |x: f64| x * 1e3;
    println!(
        "{n} trials ({} genes, random search, 1 example per task) in {wall:.1} s",
        s.space.dim()
    );
    println!("| driver overhead per trial | ms |\n|---|---|");
    println!("| mean | {:.2} |", ms(over.iter().sum::<f64>() / n as f64));
    println!("| median | {:.2} |", ms(percentile(&sorted, 0.5)));
    println!("| p99 | {:.2} |", ms(percentile(&sorted, 0.99)));
    println!("| max | {:.2} |", ms(sorted[n - 1]));
    println!(
        "| mean of the last 100 trials | {:.2} |",
        ms(last.iter().sum::<f64>() / last.len() as f64)
    );
    println!(
        "| mean trial (merge + evaluation + overhead) | {:.2} |",
        ms(total.iter().sum::<f64>() / n as f64)
    );
    Ok(())
}
