//! Command-line interface (binary-side glue): argument parsing and one file per command.

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

mod eval;
mod export;
mod merge;
mod report;
mod search;
mod zoo;

pub use eval::EvalArgs;
pub use export::ExportArgs;
pub use merge::MergeArgs;
pub use report::ReportArgs;
pub use search::SearchArgs;
pub use zoo::ZooArgs;

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
    Merge(mergesearch::bench::BenchMergeArgs),
    /// Our full-logits llama forward beside candle-transformers' on the same checkpoint and
    /// batch (f32, CPU), and the cost of building a lazy merge candidate.
    Forward(mergesearch::bench::BenchForwardArgs),
    /// A sequence of lazy TIES candidates merged with and without the task-vector ranking
    /// cache a search shares between candidates.
    Candidates(mergesearch::bench::BenchCandidatesArgs),
    /// Our CMA-ES on standard test functions: evaluations to reach f < 1e-8 over seeds.
    /// (`cargo bench -p mergesearch-searchers` prints the `cmaes` crate's numbers beside.)
    Optimizers(BenchOptimizersArgs),
    /// The study driver's overhead per trial (storage, CSVs, hypervolume, snapshot) over a
    /// long study of nearly free trials.
    Study(mergesearch::bench::BenchStudyArgs),
    /// Each searcher on a real (toy-zoo) study over several seeds: best weighted sum and
    /// hypervolume after a third, two thirds and all of the budget.
    Searchers(mergesearch::bench::BenchSearchersArgs),
    /// One AdaMerging step (merge, forward, backward, peak memory) on a synthetic family;
    /// with `--zoo`, held-out accuracy of the baselines and AdaMerging variants on the zoo.
    Adamerging(mergesearch::bench::BenchAdaMergingArgs),
    /// A study over seeds (and with `--enqueue` warm starts): how often its held-out front
    /// dominates its baselines.
    Budget(mergesearch::bench::BenchBudgetArgs),
    /// Batched greedy generation with the KV cache, beside transformers' `generate` when a
    /// Python with torch is installed.
    Generate(mergesearch::bench::BenchGenerateArgs),
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
    /// CMA-ES in a box (pycma's `bounds`) against pycma's medians, instead of the unbounded
    /// table.
    #[arg(long, conflicts_with = "efficiency")]
    pub bounded: bool,
    /// Sample efficiency at merge-study budgets instead: simple regret of random, CMA-ES and
    /// bo at 10–100 evaluations, hypervolume of random, NSGA-II, ParEGO and EHVI at 50–200,
    /// and bo's proposal time, beside Optuna's numbers (`--seeds` applies; default 10).
    #[arg(long)]
    pub efficiency: bool,
    /// With `--efficiency`: only these tables (repeatable; default all three).
    #[arg(long = "table", value_enum, requires = "efficiency")]
    pub tables: Vec<EfficiencyTable>,
}

/// The tables of `bench optimizers --efficiency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EfficiencyTable {
    /// Simple regret of random, cmaes and bo on the single-objective test problems.
    Regret,
    /// Hypervolume of random, nsga2, parego and ehvi on ZDT1, ZDT2 and DTLZ2.
    Hypervolume,
    /// bo's proposal time in 10 dimensions.
    AskTime,
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
        Command::Merge(a) => merge::run_merge(a),
        Command::Eval(a) => eval::run_eval(a),
        Command::Zoo(a) => zoo::run_zoo(a),
        Command::Search(a) => search::run_search(a),
        Command::Export(a) => export::run_export(a),
        Command::Report(a) => report::run_report(a),
        Command::Methods => {
            print!("{}", mergesearch::merge::methods_table());
            Ok(())
        }
        Command::Bench(BenchCommand::Merge(a)) => mergesearch::bench::run_merge_bench(a),
        Command::Bench(BenchCommand::Forward(a)) => mergesearch::bench::run_forward_bench(a),
        Command::Bench(BenchCommand::Candidates(a)) => mergesearch::bench::run_candidates_bench(a),
        Command::Bench(BenchCommand::Study(a)) => mergesearch::bench::run_study_bench(a),
        Command::Bench(BenchCommand::Searchers(a)) => mergesearch::bench::run_searchers_bench(a),
        Command::Bench(BenchCommand::Adamerging(a)) => mergesearch::bench::run_adamerging_bench(a),
        Command::Bench(BenchCommand::Budget(a)) => mergesearch::bench::run_budget_bench(a),
        Command::Bench(BenchCommand::Generate(a)) => mergesearch::bench::run_generate_bench(a),
        Command::Bench(BenchCommand::Optimizers(a)) => {
            run_optimizers_bench(a);
            Ok(())
        }
    }
}

/// `bench optimizers`: the unbounded CMA-ES table, `--bounded` or `--efficiency`.
fn run_optimizers_bench(a: BenchOptimizersArgs) {
    use mergesearch_searchers::{efficiency, functions};
    let dims = if a.dims.is_empty() {
        vec![2, 5, 10, 20]
    } else {
        a.dims
    };
    if a.bounded {
        print!(
            "{}",
            functions::bounded_table(&dims, a.seeds, a.budget_per_dim)
        );
    } else if a.efficiency {
        let wants = |t| a.tables.is_empty() || a.tables.contains(&t);
        if wants(EfficiencyTable::Regret) {
            let single = [
                ("random", efficiency::searcher(r#"{"type": "random"}"#)),
                ("cmaes", efficiency::searcher(r#"{"type": "cmaes"}"#)),
                ("bo", efficiency::searcher(r#"{"type": "bo"}"#)),
            ];
            println!(
                "{}",
                efficiency::regret_table(&single, a.seeds, &[10, 25, 50, 100])
            );
        }
        if wants(EfficiencyTable::Hypervolume) {
            let multi = [
                ("random", efficiency::searcher(r#"{"type": "random"}"#)),
                ("nsga2", efficiency::searcher(r#"{"type": "nsga2"}"#)),
                ("parego", efficiency::searcher(r#"{"type": "parego"}"#)),
                ("ehvi", efficiency::searcher(r#"{"type": "ehvi"}"#)),
            ];
            println!(
                "{}",
                efficiency::hypervolume_table(&multi, a.seeds, &[50, 100, 200])
            );
        }
        if wants(EfficiencyTable::AskTime) {
            print!("{}", efficiency::ask_time_table(&[25, 100, 300], 0));
        }
    } else {
        print!(
            "{}",
            functions::optimizer_table(&dims, a.seeds, a.budget_per_dim)
        );
    }
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
