//! `mergesearch bench adamerging`: the cost of one AdaMerging step on a synthetic
//! llama-shaped family (`bench merge`'s, 271 M parameters by default) — merge, forward and
//! backward, peak memory — and, with `--zoo`, the paper-style table on the toy zoo: held-out
//! accuracy per task of each fine-tune alone, weight averaging, task arithmetic (λ = 0.3),
//! TIES and the AdaMerging variants of `configs/adamerging*.yaml`, with steps, wall time and
//! peak memory.
//!
//! Peak memory is the process's resident high-water mark (`VmHWM`), reset before each
//! measurement through `/proc/self/clear_refs` (Linux).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use mergesearch_evals::Split;
use mergesearch_searchers::GradientObjective;

use crate::adamerging::{DiffMerge, Task, Trainer};
use crate::eval::EvalTarget;
use crate::merge::{MergeConfig, MergeOptions, Plan};
use crate::space::{MergeSpec, SearchSpace, SearchedParam, SpaceSpec};
use crate::study::Study;

/// Arguments of `bench adamerging`.
#[derive(Debug, Args)]
pub struct BenchAdaMergingArgs {
    /// Approximate parameter count of each synthetic model.
    #[arg(long, default_value_t = 271_000_000)]
    pub params: u64,
    /// Sequences per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 64)]
    pub seq: usize,
    /// Also run the zoo table: the zoo in `results/zoo` (`mergesearch zoo results/zoo`), the
    /// study files `configs/adamerging*.yaml` and the suite `configs/evals/zoo.yaml`, from the
    /// repository root.
    #[arg(long)]
    pub zoo: bool,
    /// Skip the synthetic-family step measurement.
    #[arg(long)]
    pub no_step: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs the benchmark and prints its tables.
pub fn run_adamerging_bench(a: BenchAdaMergingArgs) -> Result<()> {
    crate::runtime::set_threads(a.threads)?;
    if !a.no_step {
        step_table(&a)?;
    }
    if a.zoo {
        zoo_table(Path::new("results/zoo"))?;
    }
    Ok(())
}

/// Resets the resident high-water mark (best effort; Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The resident high-water mark in MiB (`VmHWM`), if readable.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// One measured step on a synthetic family.
struct StepCost {
    params: usize,
    merge_s: f64,
    backward_s: f64,
    peak_mib: f64,
}

/// Base + 2 fine-tunes of `params`, layer-wise task arithmetic, one step on `batch × seq`
/// pseudo-random tokens (entropy at every position).
fn measure_step(root: &Path, params: u64, batch: usize, seq: usize) -> Result<StepCost> {
    let shape = super::synthetic::LlamaShape::for_params(params);
    for (i, n) in ["base", "ft1", "ft2"].iter().enumerate() {
        super::synthetic::write_model(&root.join(n), &shape, i as u64)?;
    }
    let dir = |n: &str| root.join(n).display().to_string();
    let file = root.join("bench.yaml");
    let space = SearchSpace::new(
        MergeSpec {
            method: "task_arithmetic".into(),
            base_model: Some(dir("base")),
            models: vec![dir("ft1"), dir("ft2")],
            dtype: Some("float32".into()),
            parameters: Default::default(),
        },
        SpaceSpec {
            layer_granularity: 1,
            filters: Vec::new(),
            parameters: [(
                "weight".to_string(),
                SearchedParam {
                    bounds: [0.0, 1.0],
                    init: Some(0.3),
                },
            )]
            .into_iter()
            .collect(),
        },
        &file,
    )?;
    let merge = Arc::new(DiffMerge::new(&space, MergeOptions::default(), &file)?);
    let vocab = merge.config().vocab_size as u64;
    let seqs: Vec<(Vec<u32>, usize)> = (0..batch as u64)
        .map(|b| {
            let ids = (0..seq as u64)
                .map(|i| (super::synthetic::mix64(b, i, 7) % vocab) as u32)
                .collect();
            (ids, 1)
        })
        .collect();
    let trainer = Trainer {
        merge: merge.clone(),
        tasks: vec![Task::from_tokens("random", 1.0, seqs)?],
        objective: GradientObjective::Entropy,
        batch_size: batch,
        seed: 0,
    };
    let lambda = space.init.clone();
    // Warm the page cache (the inputs are re-read every step, as in a study).
    let _ = trainer.loss(&lambda, 0)?;
    reset_peak();
    let t0 = Instant::now();
    let var = merge.coefficients(&lambda)?;
    let _model = merge.model(&var)?;
    let merge_s = t0.elapsed().as_secs_f64();
    drop(_model);
    let t1 = Instant::now();
    let r = trainer.step(&lambda, 0)?;
    let step_s = t1.elapsed().as_secs_f64();
    anyhow::ensure!(r.grad.iter().all(|g| g.is_finite()), "non-finite gradient");
    Ok(StepCost {
        params: shape.params(),
        merge_s,
        backward_s: step_s - merge_s,
        peak_mib: peak_mib().unwrap_or(f64::NAN),
    })
}

fn step_table(a: &BenchAdaMergingArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let sizes = [a.params / 4, a.params];
    println!(
        "AdaMerging step, layer-wise task arithmetic of base + 2 fine-tunes (bf16 on disk, f32 compute), batch {} × {} tokens",
        a.batch, a.seq
    );
    println!("| params | merge (s) | forward + backward (s) | step (s) | peak RSS (MiB) |");
    println!("|---|---|---|---|---|");
    let mut points = Vec::new();
    for (i, p) in sizes.iter().enumerate() {
        let c = measure_step(&tmp.path().join(i.to_string()), *p, a.batch, a.seq)?;
        println!(
            "| {:.0} M | {:.2} | {:.2} | {:.2} | {:.0} |",
            c.params as f64 / 1e6,
            c.merge_s,
            c.backward_s,
            c.merge_s + c.backward_s,
            c.peak_mib
        );
        points.push((c.params as f64, c.peak_mib));
    }
    // Peak grows linearly with the parameter count (merged weights, their gradients in
    // flight, the task vectors' pages): a line through the two sizes, read at 1 B.
    let ((x0, y0), (x1, y1)) = (points[0], points[1]);
    let slope = (y1 - y0) / (x1 - x0);
    println!(
        "projected peak for 1 B parameters (line through both rows): {:.1} GiB ({:.2} bytes per parameter)",
        (y1 + slope * (1e9 - x1)) / 1024.0,
        slope * 1024.0 * 1024.0
    );
    Ok(())
}

/// Held-out accuracy per task (add, reverse, sort, count) of `target` on `suite`.
fn accuracy(target: EvalTarget, suite: &Path) -> Result<Vec<f64>> {
    let m = crate::eval::evaluate_suite(target, suite, Split::Heldout)?;
    ["add", "reverse", "sort", "count"]
        .iter()
        .map(|t| {
            m.iter()
                .find(|x| x.name == format!("{t}/accuracy"))
                .map(|x| x.value)
                .with_context(|| format!("{} has no {t}/accuracy", suite.display()))
        })
        .collect()
}

fn merge_target(yaml: &str, label: &str) -> Result<EvalTarget> {
    let path = PathBuf::from(format!("<{label}>"));
    let plan = Plan::build(MergeConfig::from_yaml(yaml, &path)?, &path)?;
    Ok(EvalTarget::Merge {
        path,
        plan: Box::new(plan),
        opts: MergeOptions::default(),
    })
}

fn row(name: &str, acc: &[f64], extra: &str) {
    let mean = acc.iter().sum::<f64>() / acc.len() as f64;
    let cells: Vec<String> = acc.iter().map(|v| format!("{v:.3}")).collect();
    println!(
        "| {name} | {} | **{mean:.3}** | {extra} |",
        cells.join(" | ")
    );
}

fn zoo_table(zoo: &Path) -> Result<()> {
    let suite = Path::new("configs/evals/zoo.yaml");
    let z = zoo.display();
    let tasks = ["add", "reverse", "sort", "count"];
    println!(
        "\nHeld-out exact-match accuracy on the zoo ({z}), suite {}",
        suite.display()
    );
    println!("| merge | add | reverse | sort | count | average | steps · wall · peak RSS |");
    println!("|---|---|---|---|---|---|---|");
    for t in tasks {
        let acc = accuracy(EvalTarget::Dir(zoo.join(format!("ft-{t}"))), suite)?;
        row(&format!("ft-{t} alone"), &acc, "");
    }
    let models = |weight: &str| {
        tasks
            .iter()
            .map(|t| format!("  - {{model: {z}/ft-{t}, parameters: {{weight: {weight}}}}}\n"))
            .collect::<String>()
    };
    let baselines = [
        (
            "weight averaging",
            format!("merge_method: linear\nmodels:\n{}dtype: float32\n", models("0.25")),
        ),
        (
            "task arithmetic (λ = 0.3)",
            format!(
                "merge_method: task_arithmetic\nbase_model: {z}/base\nmodels:\n{}dtype: float32\n",
                models("0.3")
            ),
        ),
        (
            "TIES (density 0.2, weight 1, mergekit defaults)",
            format!(
                "merge_method: ties\nbase_model: {z}/base\nmodels:\n{}parameters: {{density: 0.2}}\ndtype: float32\n",
                models("1.0")
            ),
        ),
    ];
    for (name, yaml) in baselines {
        let acc = accuracy(merge_target(&yaml, name)?, suite)?;
        row(name, &acc, "");
    }
    zoo_step(Path::new("configs/adamerging.yaml"))?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    for (name, file) in [
        ("AdaMerging task-wise", "configs/adamerging-task.yaml"),
        ("AdaMerging layer-wise", "configs/adamerging.yaml"),
        ("AdaMerging++ layer-wise", "configs/adamerging-plus.yaml"),
        (
            "AdaMerging layer-wise, cross_entropy",
            "configs/adamerging-ce.yaml",
        ),
    ] {
        reset_peak();
        let t0 = Instant::now();
        let mut study = Study::open(Path::new(file), &tmp.path().join(name), false)?;
        let summary = study.run_gradient(&AtomicBool::new(false), &mut [])?;
        let wall = t0.elapsed().as_secs_f64();
        let peak = peak_mib().unwrap_or(f64::NAN);
        let last = summary
            .trials
            .last()
            .with_context(|| format!("{file}: no trial"))?;
        let steps = last
            .metrics
            .as_ref()
            .and_then(|m| m.get("adamerging/step"))
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN);
        let acc = accuracy(merge_target(&last.recipe, name)?, suite)?;
        row(
            name,
            &acc,
            &format!("{steps:.0} · {wall:.0} s · {peak:.0} MiB"),
        );
    }
    Ok(())
}

/// Seconds per AdaMerging step (mean of 10, after one warm-up) of the study file `file`, and
/// the peak RSS over them: the gradient alone, without the trials' scoring.
fn zoo_step(file: &Path) -> Result<()> {
    let cfg = crate::study::StudyConfig::load(file)?;
    let mergesearch_searchers::SearcherConfig::Adamerging(ada) = &cfg.searcher else {
        anyhow::bail!("{}: not an adamerging study", file.display());
    };
    let space = cfg.space(file)?;
    let suite = mergesearch_evals::Suite::load(&cfg.evals)?;
    let opts = MergeOptions {
        seed: cfg.seed,
        ranks: Some(Arc::new(crate::merge::rank_cache::RankCache::new(1 << 30))),
    };
    let trainer = Trainer::new(&space, ada, &suite, opts, file)?;
    let _ = trainer.step(&space.init, 0)?;
    reset_peak();
    let t0 = Instant::now();
    for s in 1..=10 {
        trainer.step(&space.init, s)?;
    }
    println!(
        "\none step of {} ({} genes, {} tasks × {} records): {:.3} s, peak RSS {:.0} MiB",
        file.display(),
        space.dim(),
        trainer.tasks.len(),
        trainer.batch_size,
        t0.elapsed().as_secs_f64() / 10.0,
        peak_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
