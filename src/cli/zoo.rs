//! `mergesearch zoo`: build the built-in toy zoo.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

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

/// Runs `mergesearch zoo`.
pub fn run_zoo(a: ZooArgs) -> Result<()> {
    let preset = mergesearch::zoo::Preset::named(&a.preset).with_context(|| {
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
    let summary =
        mergesearch::zoo::build(&a.out_dir, &preset, a.seed, &|line| eprintln!("{line}"))?;
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
        let m = mergesearch::zoo::accuracy_matrix(&a.out_dir, mergesearch_evals::Split::Heldout)?;
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
