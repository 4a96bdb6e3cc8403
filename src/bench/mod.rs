//! `mergesearch bench merge`: merge throughput on a synthetic llama-shaped checkpoint family,
//! printed beside this machine's memcpy bandwidth measured in the same run; `bench forward`
//! ([`forward`]): our llama forward beside candle-transformers'; `bench candidates`
//! ([`ranks`]): lazy TIES candidates with and without the ranking cache; `bench study`
//! ([`study`]): the study driver's overhead per trial over a long study; `bench searchers`
//! ([`searchers`]): what each searcher finds on the demo study; `bench adamerging`
//! ([`adamerging`]): one AdaMerging step's cost, and the zoo table of merges; `bench budget`
//! ([`budget`]): over seeds, how often a study's held-out front dominates its baselines;
//! `bench generate` ([`generate`]): KV-cached greedy generation beside transformers'.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use rayon::prelude::*;

use crate::checkpoint::{CheckpointWriter, PlannedTensor};
use crate::merge::{self, MergeConfig, MergeOptions, Plan, METHODS};

pub mod adamerging;
pub mod budget;
pub mod forward;
pub mod generate;
pub mod ranks;
pub mod searchers;
pub mod study;
pub mod synthetic;
pub mod torch;

pub use adamerging::{run_adamerging_bench, BenchAdaMergingArgs};
pub use budget::{run_budget_bench, BenchBudgetArgs};
pub use forward::{run_forward_bench, BenchForwardArgs};
pub use generate::{run_generate_bench, BenchGenerateArgs};
pub use ranks::{run_candidates_bench, BenchCandidatesArgs};
pub use searchers::{run_searchers_bench, BenchSearchersArgs};
pub use study::{run_study_bench, BenchStudyArgs};

/// Arguments of `bench merge`.
#[derive(Debug, Args)]
pub struct BenchMergeArgs {
    /// Approximate parameter count of each synthetic model.
    #[arg(long, default_value_t = 271_000_000)]
    pub params: u64,
    /// Methods to run (repeatable; default: every method).
    #[arg(long = "method")]
    pub methods: Vec<String>,
    /// Where to write the synthetic family (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs the benchmark and prints the table.
pub fn run_merge_bench(a: BenchMergeArgs) -> Result<()> {
    crate::runtime::set_threads(a.threads)?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let root = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let shape = synthetic::LlamaShape::for_params(a.params);
    eprintln!(
        "generating base + 2 fine-tunes, bf16: hidden {}, intermediate {}, {} layers, vocab {} ({:.0} M params each)",
        shape.hidden,
        shape.intermediate,
        shape.layers,
        shape.vocab,
        shape.params() as f64 / 1e6
    );
    let names = ["base", "ft1", "ft2"];
    for (i, n) in names.iter().enumerate() {
        synthetic::write_model(&root.join(n), &shape, i as u64)?;
    }
    // Steady state: the inputs in the page cache (the writer bypasses it with O_DIRECT), as
    // they are when a search merges the same checkpoints over and over.
    for n in &names {
        let dir = root.join(n);
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let mut f = std::fs::File::open(&path)?;
            std::io::copy(&mut f, &mut std::io::sink())?;
        }
    }
    let bw = memcpy_bandwidth();
    let methods: Vec<String> = if a.methods.is_empty() {
        METHODS.iter().map(|m| m.name.to_string()).collect()
    } else {
        a.methods.clone()
    };
    println!(
        "memcpy bandwidth (read+write, all threads): {:.2} GB/s",
        bw / 1e9
    );
    println!(
        "| {:<16} | {:>12} | {:>8} | {:>7} | {:>9} | {:>11} | {:>12} |",
        "method", "read+written", "seconds", "GB/s", "% memcpy", "kernel GB/s", "kernel % mc"
    );
    println!(
        "|{:-<18}|{:->14}|{:->10}|{:->9}|{:->11}|{:->13}|{:->14}|",
        "", "", "", "", "", "", ""
    );
    for m in &methods {
        let cfg = bench_config(m, &root)?;
        let plan = Plan::build(cfg, Path::new("<bench>"))?;
        let out = root.join(format!("out-{m}"));
        let s = merge::run(
            &plan,
            &out,
            &MergeOptions::default(),
            5_000_000_000,
            |_, _, _| {},
        )?;
        let moved = (s.bytes_read + s.bytes_written) as f64;
        let rate = moved / s.seconds;
        // Kernel throughput: the same bytes over the time the merge kernels ran, i.e. without
        // the shard writes, which are bound by the disk (O_DIRECT, ~2 GB/s on the dev VM).
        let krate = moved / s.kernel_seconds.max(1e-9);
        println!(
            "| {:<16} | {:>9.2} GB | {:>8.2} | {:>7.2} | {:>8.1}% | {:>11.2} | {:>11.1}% |",
            m,
            moved / 1e9,
            s.seconds,
            rate / 1e9,
            100.0 * rate / bw,
            krate / 1e9,
            100.0 * krate / bw
        );
        std::fs::remove_dir_all(&out).ok();
    }
    Ok(())
}

/// A config for `method` over the synthetic family in `root`.
fn bench_config(method: &str, root: &Path) -> Result<MergeConfig> {
    let def = merge::method(method).with_context(|| format!("unknown method {method}"))?;
    let p = |n: &str| root.join(n).display().to_string();
    let two = matches!(def.arity, merge::registry::Arity::Exactly(1));
    let models: Vec<String> = if def.name == "passthrough" || two {
        vec![p("ft1")]
    } else {
        vec![p("ft1"), p("ft2")]
    };
    let takes = |n: &str| {
        def.param(n).is_some()
            && def.param(n).map(|d| d.scope) == Some(merge::registry::Scope::PerModel)
    };
    let mut yaml = format!("merge_method: {method}\n");
    if def.name != "passthrough" && def.name != "linear" {
        yaml += &format!("base_model: {}\n", p("base"));
    }
    yaml += "models:\n";
    for m in &models {
        yaml += &format!("  - model: {m}\n");
        let mut params = vec![];
        if takes("weight") {
            params.push("weight: 0.5".to_string());
        }
        if takes("density") {
            params.push("density: 0.5".to_string());
        }
        if !params.is_empty() {
            yaml += &format!("    parameters: {{{}}}\n", params.join(", "));
        }
    }
    if def.param("t").is_some() {
        yaml += "parameters: {t: 0.5}\n";
    }
    Ok(MergeConfig::from_yaml(&yaml, Path::new("<bench>"))?)
}

/// Memory bandwidth of a large parallel copy, in bytes moved (read + written) per second.
pub fn memcpy_bandwidth() -> f64 {
    let n = 256 << 20; // 256 MiB each way: far beyond any cache
    let src = vec![1u8; n];
    let mut dst = vec![0u8; n];
    let chunk = 1 << 20;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(&dst);
    }
    2.0 * n as f64 / best
}

/// Fills a tensor's values.
pub(crate) type Filler<'a> = Box<dyn Fn(&mut [f32]) + Sync + 'a>;

/// Writes one tensor list with the streaming writer (shared by the synthetic generator).
pub(crate) fn write_tensors(dir: &Path, tensors: Vec<(PlannedTensor, Filler<'_>)>) -> Result<()> {
    let planned: Vec<PlannedTensor> = tensors.iter().map(|(p, _)| p.clone()).collect();
    let mut w = CheckpointWriter::create(dir, planned, u64::MAX)?;
    for (p, fill) in &tensors {
        let mut v = vec![0f32; p.shape.iter().product()];
        fill(&mut v);
        let bytes = merge::inputs::encode(p.dtype, &v);
        w.write_tensor(&p.name, &bytes)?;
    }
    std::fs::write(w.tmp_dir().join("config.json"), "{}")?;
    w.finish()?;
    Ok(())
}
