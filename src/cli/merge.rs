//! `mergesearch merge`: a mergekit-style merge written as an HF checkpoint.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mergesearch::merge::{self, MergeOptions, Plan};

use super::parse_kmb;

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

/// Runs `mergesearch merge`.
pub fn run_merge(a: MergeArgs) -> Result<()> {
    mergesearch::runtime::set_threads(a.threads)?;
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
