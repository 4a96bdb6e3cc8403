//! `mergesearch bench budget`: does a search pay for itself? A study file is run once per
//! seed (its searcher and trial budget unchanged, `name:` and `seed:` rewritten), its front is
//! re-scored on the held-out split, and the table counts the seeds whose front dominates each
//! baseline there — as written, with `--enqueue` warm starts, and with a `--pruner`
//! (successive halving). Also the median best scalar and hypervolume on the search split,
//! the median held-out scalar of the best trial, the search-split examples scored, and
//! seconds per run.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use mergesearch_searchers::functions::median;

use super::searchers::rewrite_study;
use crate::study::baselines::dominates;
use crate::study::{Study, StudyConfig};

/// Arguments of `bench budget`.
#[derive(Debug, Args)]
pub struct BenchBudgetArgs {
    /// The study file (its zoo must exist: `mergesearch zoo results/zoo`).
    #[arg(long, default_value = "configs/demo.yaml")]
    pub config: PathBuf,
    /// Seeds (the study's `seed:`).
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Trials per study (default: the file's budget).
    #[arg(long)]
    pub trials: Option<usize>,
    /// A warm-start variant: this `enqueue:` list (YAML, e.g. `[{weight: 0.3}]`) is added to
    /// the study file and run over the same seeds.
    #[arg(long)]
    pub enqueue: Option<String>,
    /// A successive-halving variant: this `pruner:` (YAML, e.g. `{type:
    /// successive_halving}`) is added to the study file and run over the same seeds.
    #[arg(long)]
    pub pruner: Option<String>,
    /// Keep the studies here (default: a temporary directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// One variant's results over the seeds.
struct Row {
    label: String,
    /// Per baseline: seeds whose held-out front dominates it.
    dominating: Vec<usize>,
    best: Vec<f64>,
    /// The held-out scalar of each run's best trial.
    best_heldout: Vec<f64>,
    hv: Vec<f64>,
    /// Search-split examples scored per run.
    examples: Vec<f64>,
    seconds: f64,
}

/// Runs the benchmark and prints the table.
pub fn run_budget_bench(a: BenchBudgetArgs) -> Result<()> {
    crate::runtime::set_threads(a.threads)?;
    anyhow::ensure!(a.seeds >= 1, "--seeds must be at least 1");
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let cfg = StudyConfig::parse(&text, &a.config)?;
    let trials = a
        .trials
        .or(cfg.budget.trials)
        .context("the study has no trial budget: pass --trials")?;
    let searcher = serde_json::to_string(&cfg.searcher)?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let root = a.out.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(root.join("configs"))?;
    let mut variants = vec![("as written".to_string(), String::new())];
    // Each variant appends one top-level key to the study file, which must not have it.
    for (key, value, present) in [
        ("enqueue", &a.enqueue, !cfg.enqueue.is_empty()),
        ("pruner", &a.pruner, cfg.pruner.is_some()),
    ] {
        if let Some(v) = value {
            anyhow::ensure!(!present, "{} already has `{key}:`", a.config.display());
            variants.push((format!("{key}: {v}"), format!("{key}: {v}\n")));
        }
    }
    let stop = AtomicBool::new(false);
    let mut names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (vi, (label, extra)) in variants.iter().enumerate() {
        let mut row = Row {
            label: label.clone(),
            dominating: Vec::new(),
            best: Vec::new(),
            best_heldout: Vec::new(),
            hv: Vec::new(),
            examples: Vec::new(),
            seconds: 0.0,
        };
        for seed in 0..a.seeds {
            let name = format!("v{vi}-seed{seed}");
            let study_text =
                rewrite_study(&text, &a.config, &name, &searcher, seed, trials)? + extra;
            let path = root.join("configs").join(format!("{name}.yaml"));
            std::fs::write(&path, study_text)?;
            let t0 = Instant::now();
            let mut study = Study::open(&path, &root.join("results").join(&name), false)?;
            let baselines = study.score_baselines(|_, _| {})?;
            let summary = study.run(&stop, 1, &mut [])?;
            let validated = study.validate()?;
            row.seconds += t0.elapsed().as_secs_f64();
            let o = &study.objectives;
            if names.is_empty() {
                names = baselines.iter().map(|b| b.name.clone()).collect();
            }
            row.dominating.resize(baselines.len(), 0);
            for (k, b) in baselines.iter().enumerate() {
                let Some(held) = o.baseline_values(b).1 else {
                    continue;
                };
                let q = o.to_minimized(&held);
                if validated
                    .iter()
                    .any(|v| dominates(&o.to_minimized(&v.heldout), &q))
                {
                    row.dominating[k] += 1;
                }
            }
            let trials = study.trials()?;
            let best = crate::study::best_trial(&trials);
            row.best
                .push(best.and_then(|t| t.scalar).unwrap_or(f64::INFINITY));
            row.best_heldout.push(
                best.and_then(|t| t.heldout.as_ref())
                    .and_then(|m| o.evaluate(m).ok())
                    .map_or(f64::INFINITY, |e| e.scalar),
            );
            row.hv.push(o.hypervolume(&summary.trials));
            row.examples.push(crate::study::halving::examples_scored(
                &summary.trials,
                study.search_examples(),
            ) as f64);
            eprintln!(
                "{label} seed {seed}: best {:.4} (held-out {:.4}), hypervolume {:.4}, dominates {:?}, {} examples ({:.0} s)",
                row.best.last().copied().unwrap_or(f64::NAN),
                row.best_heldout.last().copied().unwrap_or(f64::NAN),
                row.hv.last().copied().unwrap_or(f64::NAN),
                row.dominating,
                row.examples.last().copied().unwrap_or(f64::NAN),
                t0.elapsed().as_secs_f64()
            );
        }
        rows.push(row);
    }
    println!(
        "{}: {} seeds × {trials} trials, searcher {searcher}; seeds whose held-out front dominates each baseline on the held-out split\n",
        a.config.display(),
        a.seeds
    );
    let mut head = String::from("| variant |");
    for n in &names {
        head += &format!(" dominates {n} |");
    }
    head += " median best scalar | its held-out scalar (median) | median hypervolume | examples scored (median) | s/run |\n|---|";
    head += &"---|".repeat(names.len() + 5);
    println!("{head}");
    for r in &rows {
        let mut line = format!("| {} |", r.label);
        for d in &r.dominating {
            line += &format!(" {d}/{} |", a.seeds);
        }
        line += &format!(
            " {:.4} | {:.4} | {:.4} | {:.0} | {:.0} |",
            median(&r.best),
            median(&r.best_heldout),
            median(&r.hv),
            median(&r.examples),
            r.seconds / a.seeds as f64
        );
        println!("{line}");
    }
    Ok(())
}
