//! Command-line interface: argument parsing and the `merge`, `eval`, `methods` and `bench`
//! subcommands.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::merge::{self, MergeOptions, Plan};

mod search;

/// mergesearch: merge models the way mergekit does, and search for merge recipes.
#[derive(Debug, Parser)]
#[command(name = "mergesearch", version, about)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Merge checkpoints with a mergekit YAML config and write an HF checkpoint.
    Merge(MergeArgs),
    /// Score a checkpoint directory, or a merge config merged lazily, on an eval suite.
    Eval(EvalArgs),
    /// Run a study: propose merge recipes, score them lazily, log every trial.
    Search(SearchArgs),
    /// Materialize one trial of a study as an HF checkpoint with its mergekit YAML.
    Export(ExportArgs),
    /// Print a study's Pareto table and trial summary.
    Report(ReportArgs),
    /// Build the built-in toy zoo: a tiny llama base and one fine-tune per task, trained
    /// here (no downloads), with eval data and suites.
    Zoo(ZooArgs),
    /// List the merge methods with their parameters (from the method registry).
    Methods,
    /// Benchmarks that print tables.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `mergesearch merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// mergekit-style merge config (YAML).
    pub config: PathBuf,
    /// Output directory (written atomically; an existing one is replaced at the end).
    pub out_dir: PathBuf,
    /// Seed for DARE/DELLA masks: the same seed gives the same bytes on any thread count.
    #[arg(long, default_value_t = 0)]
    pub random_seed: u64,
    /// Maximum bytes per output shard, with mergekit's K/M/B suffixes (`500M`, `5B`); a single
    /// larger tensor gets a shard of its own.
    #[arg(long, default_value = "5B", value_parser = parse_kmb)]
    pub out_shard_size: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

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
}

/// `mergesearch search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Study file (YAML).
    pub study: PathBuf,
    /// Continue the study in its directory: finished trials are kept, an interrupted one is
    /// re-run, the searcher continues from its snapshot.
    #[arg(long)]
    pub resume: bool,
    /// Study directory (default `results/NAME`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `mergesearch export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Study directory.
    pub study_dir: PathBuf,
    /// Output directory for the checkpoint.
    pub out_dir: PathBuf,
    /// Trial id to export.
    #[arg(long, conflicts_with = "best", required_unless_present = "best")]
    pub trial: Option<u64>,
    /// Export the best feasible trial (lowest weighted objective).
    #[arg(long)]
    pub best: bool,
}

/// `mergesearch report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Study directory.
    pub study_dir: PathBuf,
}

/// `mergesearch zoo`.
#[derive(Debug, Args)]
pub struct ZooArgs {
    /// Output directory (models whose fingerprint matches are reused, not retrained).
    pub out_dir: PathBuf,
    /// Seed of weight initialisation, training batches and eval data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// `full` (the default zoo) or `test` (a smaller one that builds in seconds).
    #[arg(long, default_value = "full")]
    pub preset: String,
    /// Skip scoring the accuracy matrix (models × tasks, held-out split).
    #[arg(long)]
    pub no_matrix: bool,
}

/// The data split of an eval suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    /// The split a search optimizes.
    Search,
    /// The held-out split.
    Heldout,
}

/// `mergesearch bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Merge a synthetic llama-shaped bf16 family with each method; print throughput next to
    /// this machine's memcpy bandwidth.
    Merge(crate::bench::BenchMergeArgs),
    /// Our full-logits llama forward beside candle-transformers' on the same checkpoint and
    /// batch (f32, CPU), and the cost of building a lazy merge candidate.
    Forward(crate::bench::BenchForwardArgs),
    /// A sequence of lazy TIES candidates merged with and without the task-vector ranking
    /// cache a search shares between candidates.
    Candidates(crate::bench::BenchCandidatesArgs),
    /// Our CMA-ES on standard test functions: evaluations to reach f < 1e-8 over seeds.
    /// (`cargo bench -p mergesearch-searchers` prints the `cmaes` crate's numbers beside.)
    Optimizers(BenchOptimizersArgs),
    /// The study driver's overhead per trial (storage, CSVs, hypervolume, snapshot) over a
    /// long study of nearly free trials.
    Study(crate::bench::BenchStudyArgs),
}

/// `mergesearch bench optimizers`.
#[derive(Debug, Args)]
pub struct BenchOptimizersArgs {
    /// Dimensions (repeatable; default 2, 5, 10, 20).
    #[arg(long = "dim")]
    pub dims: Vec<usize>,
    /// Seeds per (function, dimension).
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// Evaluation budget per dimension.
    #[arg(long, default_value_t = 20_000)]
    pub budget_per_dim: u64,
}

/// Parses a byte count with an optional K/M/B (thousand/million/billion) suffix, as mergekit's
/// `--out-shard-size` does.
pub fn parse_kmb(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (v * mult) as u64 > 0 => Ok((v * mult) as u64),
        _ => Err(format!(
            "`{s}` is not a byte count (examples: 1000000, 500M, 5B)"
        )),
    }
}

/// Runs the CLI.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Merge(a) => run_merge(a),
        Command::Eval(a) => run_eval(a),
        Command::Zoo(a) => run_zoo(a),
        Command::Search(a) => search::run_search(a),
        Command::Export(a) => search::run_export(a),
        Command::Report(a) => search::run_report(a),
        Command::Methods => {
            print!("{}", methods_table());
            Ok(())
        }
        Command::Bench(BenchCommand::Merge(a)) => crate::bench::run_merge_bench(a),
        Command::Bench(BenchCommand::Forward(a)) => crate::bench::run_forward_bench(a),
        Command::Bench(BenchCommand::Candidates(a)) => crate::bench::run_candidates_bench(a),
        Command::Bench(BenchCommand::Study(a)) => crate::bench::run_study_bench(a),
        Command::Bench(BenchCommand::Optimizers(a)) => {
            let dims = if a.dims.is_empty() {
                vec![2, 5, 10, 20]
            } else {
                a.dims
            };
            print!(
                "{}",
                mergesearch_searchers::functions::optimizer_table(&dims, a.seeds, a.budget_per_dim)
            );
            Ok(())
        }
    }
}

/// Sets the global rayon pool size and candle's kernel threads.
pub fn set_threads(n: Option<usize>) -> Result<()> {
    if let Some(n) = n {
        // candle sizes its CPU kernels from RAYON_NUM_THREADS, read on first use: set it too
        // so `--threads` governs the forward pass as well. Called before any thread starts.
        std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("setting the thread count")?;
    }
    Ok(())
}

fn run_merge(a: MergeArgs) -> Result<()> {
    set_threads(a.threads)?;
    let plan = Plan::from_file(&a.config)?;
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let bar = ProgressBar::new(plan.jobs.len() as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} tensors {elapsed} {msg}")
                .expect("valid template"),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let opts = MergeOptions {
        seed: a.random_seed,
        ..MergeOptions::default()
    };
    let s = merge::run(&plan, &a.out_dir, &opts, a.out_shard_size, |_, _, name| {
        bar.set_message(name.to_string());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let moved = (s.bytes_read + s.bytes_written) as f64;
    println!(
        "merged {} tensors ({} method) into {}: read {:.2} GB, wrote {:.2} GB in {} shard(s), {:.2} s, {:.2} GB/s",
        s.tensors,
        plan.method.name,
        a.out_dir.display(),
        s.bytes_read as f64 / 1e9,
        s.bytes_written as f64 / 1e9,
        s.shards,
        s.seconds,
        moved / 1e9 / s.seconds.max(1e-9)
    );
    Ok(())
}

fn run_eval(a: EvalArgs) -> Result<()> {
    use mergesearch_evals::{Direction, Split};
    set_threads(a.threads)?;
    let target = crate::eval::EvalTarget::open(
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
    let metrics = crate::eval::evaluate_suite(target, &a.evals, split)?;
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

fn run_zoo(a: ZooArgs) -> Result<()> {
    let preset = crate::zoo::Preset::named(&a.preset).with_context(|| {
        format!(
            "--preset: unknown preset `{}` (expected full or test)",
            a.preset
        )
    })?;
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // One candle thread per model (the zoo trains models in parallel instead): these
        // models are too small for candle's intra-op threads to pay off. No other thread
        // exists yet, so changing the environment is safe here.
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let t0 = std::time::Instant::now();
    let summary = crate::zoo::build(&a.out_dir, &preset, a.seed, &|line| eprintln!("{line}"))?;
    let trained = summary.models.iter().filter(|m| !m.cached).count();
    println!(
        "zoo `{}` (seed {}) in {}: {} model(s) trained, {} reused, {:.1} s",
        preset.name,
        a.seed,
        a.out_dir.display(),
        trained,
        summary.models.len() - trained,
        t0.elapsed().as_secs_f64()
    );
    if !a.no_matrix {
        let t1 = std::time::Instant::now();
        let m = crate::zoo::accuracy_matrix(&a.out_dir, mergesearch_evals::Split::Heldout)?;
        let csv = a.out_dir.join("accuracy.csv");
        std::fs::write(&csv, m.csv()).with_context(|| format!("writing {}", csv.display()))?;
        println!(
            "\nexact-match accuracy, held-out split ({:.1} s; also in {}):\n{}",
            t1.elapsed().as_secs_f64(),
            csv.display(),
            m.table()
        );
    }
    Ok(())
}

/// The method table printed by `mergesearch methods`, derived from the registry's schemas.
pub fn methods_table() -> String {
    use crate::merge::registry::{Arity, BaseRule, Kind, ParamDefault, Scope};
    let mut out = String::from(
        "| method | base model | inputs | global parameters | per-model parameters |\n|---|---|---|---|---|\n",
    );
    for m in crate::merge::METHODS {
        let fmt = |scope: Scope| {
            let v: Vec<String> = m
                .params
                .iter()
                .filter(|p| p.scope == scope)
                .map(|p| match p.default {
                    ParamDefault::Required => format!("`{}` (required)", p.name),
                    ParamDefault::Absent => format!("`{}` (optional)", p.name),
                    ParamDefault::Value(v) if p.kind == Kind::Bool => {
                        format!("`{}` = {}", p.name, v != 0.0)
                    }
                    ParamDefault::Value(v) => format!("`{}` = {:?}", p.name, v),
                })
                .collect();
            if v.is_empty() {
                "–".to_string()
            } else {
                v.join(", ")
            }
        };
        let base = match m.base {
            BaseRule::Required => "required",
            BaseRule::Optional => "optional",
        };
        let what = if m.base_is_input { "" } else { " non-base" };
        let inputs = match m.arity {
            Arity::AtLeast(k) => format!("≥ {k}{what}"),
            Arity::Exactly(k) => format!("{k}{what}"),
        };
        out += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            m.name,
            base,
            inputs,
            fmt(Scope::Global),
            fmt(Scope::PerModel)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_kmb;

    #[test]
    fn shard_sizes_take_mergekit_suffixes() {
        assert_eq!(parse_kmb("5B"), Ok(5_000_000_000));
        assert_eq!(parse_kmb("500M"), Ok(500_000_000));
        assert_eq!(parse_kmb("1.5k"), Ok(1_500));
        assert_eq!(parse_kmb("12345"), Ok(12_345));
        assert!(parse_kmb("lots").is_err());
        assert!(parse_kmb("0").is_err());
        assert!(parse_kmb("0.0001").is_err());
    }
}
