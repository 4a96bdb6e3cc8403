//! `mergesearch bench searchers`: what each searcher finds on a real (toy) merge study at the
//! budgets merge studies run — the demo study (`configs/demo.yaml`, 24 genes, two objectives)
//! run once per searcher and seed, everything else unchanged. Prints, per searcher, the median
//! over seeds of the best weighted sum of the objectives found so far (lower is better: the
//! study's scalar, whose sign follows each objective's direction) and of the hypervolume of
//! the feasible trials so far, at a third, two thirds and all of the budget.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use mergesearch_searchers::functions::median;

use crate::study::{Study, Trial, TrialState};

/// Arguments of `bench searchers`.
#[derive(Debug, Args)]
pub struct BenchSearchersArgs {
    /// The study file to run (its zoo must exist: `mergesearch zoo results/zoo`).
    #[arg(long, default_value = "configs/demo.yaml")]
    pub config: PathBuf,
    /// Searchers, as a type (`bo`) or a study-file mapping (`{type: bo, n_init: 5}`);
    /// repeatable (default: random, cmaes, nsga2, bo, parego, ehvi).
    #[arg(long = "searcher")]
    pub searchers: Vec<String>,
    /// Seeds per searcher (the study's `seed:`).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Trials per study.
    #[arg(long, default_value_t = 60)]
    pub trials: usize,
    /// Keep the studies here (default: a temporary directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The study file `text` with its `name:`, `searcher:`, `seed:` and `budget:` lines replaced.
/// Each must be a single top-level line (as in every file of `configs/`): a multi-line
/// mapping would be half-replaced, so it is an error naming the key.
pub fn rewrite_study(
    text: &str,
    file: &Path,
    name: &str,
    searcher: &str,
    seed: u64,
    trials: usize,
) -> Result<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut seen = [false; 4];
    let keys = ["name:", "searcher:", "seed:", "budget:"];
    for line in text.lines() {
        match keys.iter().position(|k| line.starts_with(k)) {
            Some(i) => {
                let value = line[keys[i].len()..].trim();
                if value.is_empty() {
                    bail!(
                        "{}: `{}` must be written on one line for `bench searchers` to replace it",
                        file.display(),
                        keys[i].trim_end_matches(':')
                    );
                }
                seen[i] = true;
                out += &match i {
                    0 => format!("name: {name}"),
                    1 => format!("searcher: {searcher}"),
                    2 => format!("seed: {seed}"),
                    _ => format!("budget: {{trials: {trials}}}"),
                };
            }
            None => out += line,
        }
        out.push('\n');
    }
    if !seen[0] || !seen[1] {
        bail!(
            "{}: a study file needs top-level `name:` and `searcher:` lines",
            file.display()
        );
    }
    if !seen[2] {
        out += &format!("seed: {seed}\n");
    }
    if !seen[3] {
        out += &format!("budget: {{trials: {trials}}}\n");
    }
    Ok(out)
}

/// A searcher argument as the study file's mapping.
fn searcher_mapping(arg: &str) -> String {
    if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else {
        format!("{{type: {arg}}}")
    }
}

/// Best scalar (lowest) among the feasible complete trials of `trials` (∞ without any).
fn best_scalar(trials: &[Trial]) -> f64 {
    crate::study::best_trial(trials)
        .and_then(|t| t.scalar)
        .unwrap_or(f64::INFINITY)
}

/// One searcher's results: per seed, the best scalar and the hypervolume at each checkpoint.
struct Row {
    label: String,
    best: Vec<Vec<f64>>,
    hv: Vec<Vec<f64>>,
    seconds: f64,
    failed: usize,
}

/// Runs the benchmark and prints the table.
pub fn run_searchers_bench(a: BenchSearchersArgs) -> Result<()> {
    crate::runtime::set_threads(a.threads)?;
    anyhow::ensure!(a.trials >= 3, "--trials must be at least 3");
    anyhow::ensure!(a.seeds >= 1, "--seeds must be at least 1");
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let root = a.out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(root.join("configs"))
        .with_context(|| format!("creating {}", root.join("configs").display()))?;
    let searchers: Vec<String> = if a.searchers.is_empty() {
        ["random", "cmaes", "nsga2", "bo", "parego", "ehvi"]
            .map(String::from)
            .to_vec()
    } else {
        a.searchers.clone()
    };
    let checkpoints = [a.trials / 3, 2 * a.trials / 3, a.trials];
    let stop = AtomicBool::new(false);
    let mut rows = Vec::new();
    for (si, arg) in searchers.iter().enumerate() {
        let mapping = searcher_mapping(arg);
        let mut row = Row {
            label: arg.clone(),
            best: Vec::new(),
            hv: Vec::new(),
            seconds: 0.0,
            failed: 0,
        };
        for seed in 0..a.seeds {
            let name = format!("s{si}-seed{seed}");
            let study_text = rewrite_study(&text, &a.config, &name, &mapping, seed, a.trials)?;
            let path = root.join("configs").join(format!("{name}.yaml"));
            std::fs::write(&path, study_text)
                .with_context(|| format!("writing {}", path.display()))?;
            let t0 = Instant::now();
            let mut study = Study::open(&path, &root.join("results").join(&name), false)?;
            let summary = study.run(&stop, 1, &mut [])?;
            row.seconds += t0.elapsed().as_secs_f64();
            let trials = summary.trials;
            row.failed += trials
                .iter()
                .filter(|t| t.state != TrialState::Complete)
                .count();
            // The first k trials in id order (`summary.trials` is in id order).
            let first = |k: usize| &trials[..k.min(trials.len())];
            row.best
                .push(checkpoints.iter().map(|&k| best_scalar(first(k))).collect());
            row.hv.push(
                checkpoints
                    .iter()
                    .map(|&k| study.objectives.hypervolume(first(k)))
                    .collect(),
            );
            eprintln!(
                "{arg} seed {seed}: best {:.4}, hypervolume {:.4} ({:.0} s)",
                row.best.last().map_or(f64::NAN, |b| b[2]),
                row.hv.last().map_or(f64::NAN, |h| h[2]),
                t0.elapsed().as_secs_f64()
            );
        }
        rows.push(row);
    }
    print!("{}", table(&a, &checkpoints, &rows));
    Ok(())
}

fn table(a: &BenchSearchersArgs, checkpoints: &[usize; 3], rows: &[Row]) -> String {
    let at = |c: &usize| format!(" @{c} |");
    let mut out = format!(
        "{}: median over {} seeds (min–max at @{}) of the best weighted sum of the objectives (lower is better) and of the hypervolume (higher is better)\n\n| searcher |{} range | hypervolume{} range | failed | s/trial |\n|---|{}---|{}---|---|---|\n",
        a.config.display(),
        a.seeds,
        a.trials,
        checkpoints.iter().map(at).collect::<String>(),
        checkpoints.iter().map(at).collect::<String>(),
        "---|".repeat(3),
        "---|".repeat(3),
    );
    for r in rows {
        let col = |v: &[Vec<f64>], i: usize| v.iter().map(|s| s[i]).collect::<Vec<f64>>();
        let range = |v: &[Vec<f64>]| {
            let last = col(v, 2);
            let lo = last.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = last.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!(" {lo:.3}–{hi:.3} |")
        };
        out += &format!("| {} |", r.label);
        for i in 0..3 {
            out += &format!(" {:.3} |", median(&col(&r.best, i)));
        }
        out += &range(&r.best);
        for i in 0..3 {
            out += &format!(" {:.4} |", median(&col(&r.hv, i)));
        }
        out += &range(&r.hv);
        out += &format!(
            " {} | {:.2} |\n",
            r.failed,
            r.seconds / (a.seeds as f64 * a.trials as f64)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_four_keys_and_rejects_multiline_ones() {
        let text =
            "name: demo\nmerge: {}\nsearcher: {type: cmaes}\nbudget: {trials: 60}\nseed: 0\n";
        let out = rewrite_study(text, Path::new("d.yaml"), "x", "{type: bo}", 3, 9).unwrap();
        assert_eq!(
            out,
            "name: x\nmerge: {}\nsearcher: {type: bo}\nbudget: {trials: 9}\nseed: 3\n"
        );
        let err = rewrite_study(
            "name: demo\nsearcher:\n  type: cmaes\n",
            Path::new("d.yaml"),
            "x",
            "{type: bo}",
            0,
            9,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`searcher` must be written on one line"),
            "{err}"
        );
        assert_eq!(searcher_mapping("bo"), "{type: bo}");
        assert_eq!(
            searcher_mapping("{type: bo, n_init: 4}"),
            "{type: bo, n_init: 4}"
        );
    }
}
