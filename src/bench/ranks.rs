//! `mergesearch bench candidates`: what the ranking cache saves a search. A sequence of TIES
//! candidates with different densities over one synthetic family is merged lazily (every
//! tensor), once without and once with a shared [`RankCache`].

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::synthetic;
use crate::candidate::LazyCandidate;
use crate::merge::rank_cache::RankCache;
use crate::merge::{MergeConfig, MergeOptions, Plan};

/// Arguments of `bench candidates`.
#[derive(Debug, Args)]
pub struct BenchCandidatesArgs {
    /// Approximate parameter count of each synthetic model.
    #[arg(long, default_value_t = 50_000_000)]
    pub params: u64,
    /// Candidates merged (densities cycle through 0.3 … 0.8).
    #[arg(long, default_value_t = 5)]
    pub candidates: usize,
    /// Ranking-cache budget in MB (default: enough for every task vector).
    #[arg(long)]
    pub cache_mb: Option<usize>,
}

/// Seconds to merge every tensor of a TIES candidate at `density` through a lazy candidate.
fn merge_candidate(
    root: &std::path::Path,
    density: f64,
    ranks: Option<Arc<RankCache>>,
) -> Result<f64> {
    let d = |n: &str| root.join(n).display().to_string();
    let yaml = format!(
        "merge_method: ties\nbase_model: {}\nmodels:\n  - model: {}\n    parameters: {{weight: 0.6, density: {density}}}\n  - model: {}\n    parameters: {{weight: 0.4, density: {density}}}\n",
        d("base"),
        d("ft1"),
        d("ft2")
    );
    let t0 = Instant::now();
    let path = root.join("candidate.yaml");
    let plan = Plan::build(MergeConfig::from_yaml(&yaml, &path)?, &path)?;
    let names: Vec<String> = plan.jobs.iter().map(|j| j.name.clone()).collect();
    let c = LazyCandidate::new(plan, MergeOptions { seed: 0, ranks });
    for n in &names {
        c.tensor(n)?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Runs the benchmark and prints the table.
pub fn run_candidates_bench(a: BenchCandidatesArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let shape = synthetic::LlamaShape::for_params(a.params);
    eprintln!(
        "generating base + 2 fine-tunes, bf16, {:.0} M params each",
        shape.params() as f64 / 1e6
    );
    for (i, n) in ["base", "ft1", "ft2"].iter().enumerate() {
        synthetic::write_model(&tmp.path().join(n), &shape, i as u64)?;
    }
    let budget = a
        .cache_mb
        .map_or(2 * shape.params() * 8 + (1 << 20), |mb| mb << 20);
    let cache = Arc::new(RankCache::new(budget));
    // Warm the page cache so the first row is not a disk read.
    merge_candidate(tmp.path(), 0.5, None)?;
    println!(
        "TIES lazy candidates, every tensor merged; ranking cache budget {} MB",
        budget >> 20
    );
    println!("| candidate | density | no cache (s) | ranking cache (s) | speed-up |");
    println!("|---|---|---|---|---|");
    let densities = [0.5, 0.3, 0.7, 0.4, 0.8, 0.6];
    for i in 0..a.candidates {
        let density = densities[i % densities.len()];
        let plain = merge_candidate(tmp.path(), density, None)?;
        let cached = merge_candidate(tmp.path(), density, Some(cache.clone()))?;
        println!(
            "| {} | {density} | {plain:.3} | {cached:.3} | {:.1}× |",
            i + 1,
            plain / cached
        );
    }
    let s = cache.stats();
    println!(
        "cache: {} rankings built, {} hits, {:.0} MB held, {} evictions",
        s.misses,
        s.hits,
        s.bytes as f64 / 1e6,
        s.evictions
    );
    Ok(())
}
