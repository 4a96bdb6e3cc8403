//! `mergesearch eval`: score a checkpoint, or a merge config merged lazily, on a suite.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mergesearch::merge::MergeOptions;

use super::SplitArg;

/// `mergesearch eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A model directory, or a mergekit-style merge config (YAML) to merge lazily.
    pub target: PathBuf,
    /// Eval-suite YAML file.
    #[arg(long)]
    pub evals: PathBuf,
    /// Which data split to score.
    #[arg(long, value_enum, default_value_t = SplitArg::Search)]
    pub split: SplitArg,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Seed for DARE/DELLA masks when TARGET is a merge config.
    #[arg(long, default_value_t = 0)]
    pub random_seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most padded tokens per forward pass (sequences × longest length); default: derived
    /// from the model's shape and half the memory available when it is loaded.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch_tokens: Option<u64>,
}

/// Runs `mergesearch eval`.
pub fn run_eval(a: EvalArgs) -> Result<()> {
    use mergesearch_evals::{Direction, Split};
    mergesearch::runtime::set_threads(a.threads)?;
    mergesearch::runtime::set_max_batch_tokens(a.max_batch_tokens.map(|n| n as usize));
    let target = mergesearch::eval::EvalTarget::open(
        &a.target,
        MergeOptions {
            seed: a.random_seed,
            ..MergeOptions::default()
        },
    )?;
    for w in target.warnings() {
        eprintln!("warning: {w}");
    }
    let (split, split_name) = match a.split {
        SplitArg::Search => (Split::Search, "search"),
        SplitArg::Heldout => (Split::Heldout, "heldout"),
    };
    let metrics = mergesearch::eval::evaluate_suite(target, &a.evals, split)?;
    if a.json {
        let values: serde_json::Map<String, serde_json::Value> = metrics
            .iter()
            .map(|m| (m.name.clone(), m.value.into()))
            .collect();
        let directions: serde_json::Map<String, serde_json::Value> = metrics
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    serde_json::to_value(m.direction).unwrap_or_default(),
                )
            })
            .collect();
        let out = serde_json::json!({
            "target": a.target.display().to_string(),
            "split": split_name,
            "metrics": values,
            "directions": directions,
        });
        println!("{out}");
    } else {
        println!(
            "{} on {split_name} split of {}",
            a.target.display(),
            a.evals.display()
        );
        println!("| metric | value | better |\n|---|---|---|");
        for m in &metrics {
            let better = match m.direction {
                Direction::Maximize => "higher",
                Direction::Minimize => "lower",
            };
            println!("| {} | {:.6} | {better} |", m.name, m.value);
        }
    }
    Ok(())
}
