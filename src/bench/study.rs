//! `mergesearch bench study`: the study driver's own overhead (ask, tell, storage, CSV
//! views, hypervolume, snapshot) over a long study whose trials are made nearly free: a
//! random search on the test-preset zoo scored on one example per task.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use crate::study::{Observer, Study, TrialEvent};

/// Collects each trial's driver overhead and total time.
#[derive(Default)]
struct Timings {
    over: Vec<f64>,
    total: Vec<f64>,
}

impl Observer for Timings {
    fn finished(&mut self, e: &TrialEvent) -> crate::Result<()> {
        self.over.push(e.overhead_seconds);
        self.total
            .push(e.overhead_seconds + e.trial.seconds.unwrap_or(0.0));
        Ok(())
    }
}

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
    let mut timings = Timings::default();
    let t0 = Instant::now();
    s.run(&AtomicBool::new(false), 1, &mut [&mut timings])?;
    let wall = t0.elapsed().as_secs_f64();
    let Timings { over, total } = timings;
    let n = over.len();
    anyhow::ensure!(n > 0, "no trial finished");
    let window = (n / 10).clamp(1, 1000);
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let (first, last) = (mean(&over[..window]), mean(&over[n - window..]));
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
    println!("| mean of the first {window} trials | {:.2} |", ms(first));
    println!("| mean of the last {window} trials | {:.2} |", ms(last));
    println!(
        "| last / first (flat = 1; the study-core target is ≤ 1.2) | {:.2} |",
        last / first
    );
    println!(
        "| mean trial (merge + evaluation + overhead) | {:.2} |",
        ms(total.iter().sum::<f64>() / n as f64)
    );
    Ok(())
}
