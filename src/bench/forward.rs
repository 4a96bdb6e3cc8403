//! `mergesearch bench forward`: our full-logits llama forward ([`crate::models::Model`],
//! [`ForwardMode::Fast`]) side by side with candle-transformers' llama on the same checkpoint,
//! batch and thread pool (both f32, CPU), plus the cost of building a lazy merge candidate.
//!
//! candle-transformers' `Llama::forward` returns the logits of the **last position only**, so
//! its LM head does `1/t` of ours; the table also times that missing work (the LM head over
//! every position) so the two rows can be compared on equal terms.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_transformers::models::llama as ct;
use clap::Args;

use super::synthetic::{self, LlamaShape};
use crate::candidate::LazyCandidate;
use crate::eval::{disk_var_builder, LlamaLm};
use crate::merge::{MergeConfig, MergeOptions, Plan};
use crate::models::{ForwardMode, LlamaConfig, Model, Variant};

/// Arguments of `bench forward`.
#[derive(Debug, Args)]
pub struct BenchForwardArgs {
    /// An HF llama checkpoint directory (default: a synthetic f32 model, hidden 256, 4 layers,
    /// 8 heads / 4 key-value heads, intermediate 688, vocab 4096).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Timed runs of each implementation (after one warm-up run each), interleaved.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// The Python that runs transformers on the same checkpoint (skipped, saying so, when it
    /// has no torch).
    #[arg(long, default_value = "python3")]
    pub python: String,
}

/// The transformers side: reads `{dir, ids, repeats, threads}` as JSON on stdin, loads the
/// checkpoint in f32, runs the forward once to warm up and `repeats` times timed, and prints
/// the median seconds.
const TRANSFORMERS: &str = r#"
import json, sys, time
import torch, transformers
job = json.load(sys.stdin)
torch.set_num_threads(job["threads"])
model = transformers.AutoModelForCausalLM.from_pretrained(job["dir"], dtype=torch.float32).eval()
ids = torch.tensor(job["ids"], dtype=torch.long)
mask = torch.ones_like(ids)
times = []
with torch.no_grad():
    model(input_ids=ids, attention_mask=mask)
    for _ in range(job["repeats"]):
        t0 = time.perf_counter()
        out = model(input_ids=ids, attention_mask=mask)
        times.append(time.perf_counter() - t0)
assert list(out.logits.shape) == [len(job["ids"]), len(job["ids"][0]), model.config.vocab_size]
print(json.dumps({"seconds": sorted(times)[len(times) // 2], "torch": torch.__version__, "transformers": transformers.__version__}))
"#;

/// transformers' full-logits forward of `ids` on the checkpoint in `dir` (median seconds)
/// and its versions, at candle's thread count.
fn transformers_forward(
    python: &str,
    dir: &Path,
    ids: &Tensor,
    repeats: usize,
) -> Result<(f64, String)> {
    let dir = dir
        .canonicalize()
        .with_context(|| dir.display().to_string())?;
    let job = serde_json::json!({
        "dir": dir, "ids": ids.to_vec2::<u32>()?, "repeats": repeats,
        "threads": candle_core::utils::get_num_threads(),
    });
    let v = super::torch::run_json(python, TRANSFORMERS, &job)?;
    let s = v["seconds"]
        .as_f64()
        .context("no seconds from the transformers run")?;
    Ok((s, super::torch::versions(&v)))
}

/// The default synthetic model of `bench forward`.
pub const DEFAULT_SHAPE: LlamaShape = LlamaShape {
    vocab: 4096,
    hidden: 256,
    intermediate: 688,
    layers: 4,
};

/// `(num_attention_heads, num_key_value_heads)` of the default synthetic model.
pub const DEFAULT_HEADS: (usize, usize) = (8, 4);

/// What one `bench forward` run measured (median seconds over the repeats).
#[derive(Debug, Clone)]
pub struct ForwardReport {
    /// Batch size and sequence length.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq: usize,
    /// Our forward (logits of every position).
    pub ours_s: f64,
    /// candle-transformers' forward (logits of the last position).
    pub theirs_s: f64,
    /// The LM head over every position (`[b·t, hidden] × [hidden, vocab]`): the work ours
    /// does beyond theirs.
    pub full_head_s: f64,
    /// Largest |ours − theirs| over the last-position logits of the warm-up run.
    pub max_abs_diff: f32,
    /// transformers' full-logits forward (median seconds) and its versions, when a Python
    /// with torch ran it.
    pub transformers: Option<(f64, String)>,
    /// Plan + lazy candidate + model load (every tensor merged), when measured.
    pub lazy_build_s: Option<f64>,
    /// Plan + `mergesearch merge` of the same recipe to a directory, when measured.
    pub merge_to_disk_s: Option<f64>,
    /// One forward of the batch on the lazily merged model, when measured.
    pub lazy_forward_s: Option<f64>,
}

impl ForwardReport {
    /// Tokens per second of a run that took `s` seconds.
    pub fn tokens_per_s(&self, s: f64) -> f64 {
        (self.batch * self.seq) as f64 / s
    }
}

/// Runs the benchmark and prints the tables.
pub fn run_forward_bench(a: BenchForwardArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let (dir, ft) = match &a.model {
        Some(d) => (d.clone(), sibling_checkpoint(d)),
        None => {
            eprintln!(
                "generating a synthetic f32 llama: hidden {}, intermediate {}, {} layers, {}/{} heads, vocab {} ({:.1} M params)",
                DEFAULT_SHAPE.hidden,
                DEFAULT_SHAPE.intermediate,
                DEFAULT_SHAPE.layers,
                DEFAULT_HEADS.0,
                DEFAULT_HEADS.1,
                DEFAULT_SHAPE.vocab,
                DEFAULT_SHAPE.params() as f64 / 1e6
            );
            let (base, ft) = write_pair(tmp.path(), &DEFAULT_SHAPE, DEFAULT_HEADS)?;
            (base, Some(ft))
        }
    };
    let r = forward_bench(
        &dir,
        ft.as_deref(),
        a.batch,
        a.seq,
        a.repeats,
        Some(&a.python),
    )?;
    print_report(&r, &dir, ft.as_deref());
    Ok(())
}

/// Another checkpoint next to `dir` (a zoo's fine-tune beside its base), for the lazy
/// candidate; `None` when there is none.
fn sibling_checkpoint(dir: &Path) -> Option<PathBuf> {
    let own = dir.canonicalize().ok()?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(own.parent()?)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| *p != own && p.join("config.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().next()
}

/// Writes a synthetic f32 base and a perturbed copy of it under `root`; returns their paths.
pub fn write_pair(
    root: &Path,
    shape: &LlamaShape,
    heads: (usize, usize),
) -> Result<(PathBuf, PathBuf)> {
    let (base, ft) = (root.join("base"), root.join("ft"));
    synthetic::write_model_as(&base, shape, heads, crate::checkpoint::DType::F32, 0)?;
    synthetic::write_model_as(&ft, shape, heads, crate::checkpoint::DType::F32, 1)?;
    Ok((base, ft))
}

/// Times both forwards on the checkpoint in `dir` (interleaved, one warm-up each), with
/// `python` transformers' on the same ids, and, when `fine_tune` is given, a
/// task-arithmetic lazy candidate of `dir` + `fine_tune`.
pub fn forward_bench(
    dir: &Path,
    fine_tune: Option<&Path>,
    batch: usize,
    seq: usize,
    repeats: usize,
    python: Option<&str>,
) -> Result<ForwardReport> {
    if batch == 0 || seq == 0 || repeats == 0 {
        bail!("--batch, --seq and --repeats must be positive");
    }
    let cfg_path = dir.join("config.json");
    let cfg = LlamaConfig::from_file(&cfg_path)?;
    if cfg.variant != Variant::Llama || cfg.head_dim * cfg.num_attention_heads != cfg.hidden_size {
        bail!(
            "{}: candle-transformers' llama needs a plain llama with head_dim = hidden_size / num_attention_heads",
            cfg_path.display()
        );
    }
    let dev = Device::Cpu;
    let ours = Model::load(&cfg, disk_var_builder(dir)?, ForwardMode::Fast)?;
    let ct_cfg = their_config(&cfg_path, seq)?;
    let theirs = ct::Llama::load(disk_var_builder(dir)?, &ct_cfg)?;
    let head = disk_var_builder(dir)?;
    let head_w = if cfg.tie_word_embeddings || !head.contains_tensor("lm_head.weight") {
        head.get(
            (cfg.vocab_size, cfg.hidden_size),
            "model.embed_tokens.weight",
        )?
    } else {
        head.get((cfg.vocab_size, cfg.hidden_size), "lm_head.weight")?
    };

    let ids = token_ids(batch, seq, cfg.vocab_size, &dev)?;
    let mask = Tensor::ones((batch, seq), DType::U8, &dev)?;
    let hidden = Tensor::randn(0f32, 1f32, (batch * seq, cfg.hidden_size), &dev)?;
    let ours_once = || -> Result<(f64, Tensor)> {
        let t = Instant::now();
        let logits = ours.forward(&ids, &mask)?;
        Ok((t.elapsed().as_secs_f64(), logits))
    };
    // A fresh cache per call, built outside the timer (it holds the RoPE tables for
    // max_position_embeddings positions): with the KV cache off every call attends over the
    // whole sequence, causally, like ours.
    let theirs_once = || -> Result<(f64, Tensor)> {
        let mut cache = ct::Cache::new(false, DType::F32, &ct_cfg, &dev)?;
        let t = Instant::now();
        let logits = theirs.forward(&ids, 0, &mut cache)?;
        Ok((t.elapsed().as_secs_f64(), logits))
    };
    let head_once = || -> Result<f64> {
        let t = Instant::now();
        let logits = hidden.matmul(&head_w.t()?)?;
        std::hint::black_box(&logits);
        Ok(t.elapsed().as_secs_f64())
    };

    // Warm-up; its logits check that both compute the same function.
    let (_, ours_logits) = ours_once()?;
    let (_, their_logits) = theirs_once()?;
    head_once()?;
    let ours_last = ours_logits.i((.., seq - 1, ..))?;
    let max_abs_diff = (ours_last - their_logits)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;

    let (mut o, mut th, mut hd) = (vec![], vec![], vec![]);
    for _ in 0..repeats {
        o.push(ours_once()?.0);
        th.push(theirs_once()?.0);
        hd.push(head_once()?);
    }

    let transformers = match python.map(|py| transformers_forward(py, dir, &ids, repeats)) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            eprintln!("transformers not timed: {e:#}");
            None
        }
        None => None,
    };
    let (lazy_build_s, merge_to_disk_s, lazy_forward_s) = match fine_tune {
        Some(ft) => match lazy_candidate(dir, ft, &ids, &mask, repeats) {
            Ok(l) => (Some(l.build_s), Some(l.merge_s), Some(l.forward_s)),
            Err(e) => {
                eprintln!(
                    "warning: no lazy candidate of {} + {}: {e:#}",
                    dir.display(),
                    ft.display()
                );
                (None, None, None)
            }
        },
        None => (None, None, None),
    };
    Ok(ForwardReport {
        batch,
        seq,
        ours_s: median(o),
        theirs_s: median(th),
        full_head_s: median(hd),
        max_abs_diff,
        transformers,
        lazy_build_s,
        merge_to_disk_s,
        lazy_forward_s,
    })
}

/// candle-transformers' config from the same `config.json`; `max_position_embeddings` (which
/// it requires, and whose RoPE table it precomputes) is filled in when absent or shorter than
/// `seq`.
fn their_config(path: &Path, seq: usize) -> Result<ct::Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: serde_json::Value = serde_json::from_str(&text)?;
    let max_pos = v
        .get("max_position_embeddings")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if (max_pos as usize) < seq {
        v["max_position_embeddings"] = seq.into();
    }
    let raw: ct::LlamaConfig = serde_json::from_value(v)
        .with_context(|| format!("{}: not a candle-transformers llama config", path.display()))?;
    Ok(raw.into_config(false))
}

/// Median seconds of the lazy candidate's steps and of the same recipe merged to disk.
struct LazyTimes {
    /// Plan, wrap as a lazy candidate, load the model (merging every tensor).
    build_s: f64,
    /// Plan and `mergesearch merge` to a fresh directory (shards written, not synced).
    merge_s: f64,
    /// One forward of the batch on the lazily merged model.
    forward_s: f64,
}

/// Times a task-arithmetic merge of `base` + `fine_tune` (weight 1) built as a lazy
/// candidate and merged to disk, alternately, after one warm-up of each (so both read
/// inputs from the page cache), `repeats` times; then one forward of the candidate.
fn lazy_candidate(
    base: &Path,
    fine_tune: &Path,
    ids: &Tensor,
    mask: &Tensor,
    repeats: usize,
) -> Result<LazyTimes> {
    let yaml = format!(
        "merge_method: task_arithmetic\nbase_model: {}\nmodels:\n  - model: {}\n    parameters: {{weight: 1.0}}\n",
        base.display(),
        fine_tune.display()
    );
    let label = Path::new("<bench forward>");
    let plan =
        || -> Result<Plan> { Ok(Plan::build(MergeConfig::from_yaml(&yaml, label)?, label)?) };
    let build = || -> Result<(f64, LlamaLm)> {
        let t = Instant::now();
        let lm = LlamaLm::from_candidate(LazyCandidate::new(plan()?, MergeOptions::default()))?;
        Ok((t.elapsed().as_secs_f64(), lm))
    };
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let to_disk = |k: usize| -> Result<f64> {
        let out = tmp.path().join(format!("merged-{k}"));
        let t = Instant::now();
        crate::merge::run(
            &plan()?,
            &out,
            &MergeOptions::default(),
            u64::MAX,
            |_, _, _| {},
        )?;
        let s = t.elapsed().as_secs_f64();
        std::fs::remove_dir_all(&out).context("removing a benchmark merge")?;
        Ok(s)
    };
    let (_, lm) = build()?;
    drop(lm);
    to_disk(0)?;
    let (mut b, mut m) = (vec![], vec![]);
    for k in 0..repeats {
        let (s, lm) = build()?;
        b.push(s);
        drop(lm);
        m.push(to_disk(k + 1)?);
    }
    let (_, lm) = build()?;
    let t = Instant::now();
    std::hint::black_box(lm.model().forward(ids, mask)?);
    Ok(LazyTimes {
        build_s: median(b),
        merge_s: median(m),
        forward_s: t.elapsed().as_secs_f64(),
    })
}

/// Deterministic token ids `[batch, seq]` in `0..vocab`.
fn token_ids(batch: usize, seq: usize, vocab: usize, dev: &Device) -> Result<Tensor> {
    let ids: Vec<u32> = (0..batch * seq)
        .map(|i| (synthetic::mix64(i as u64, 0x1d5, 0) % vocab as u64) as u32)
        .collect();
    Ok(Tensor::from_vec(ids, (batch, seq), dev)?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn print_report(r: &ForwardReport, dir: &Path, fine_tune: Option<&Path>) {
    let tokens = r.batch * r.seq;
    println!(
        "model {}; batch {} × seq {} = {} tokens; f32, CPU, {} threads; median of the repeats",
        dir.display(),
        r.batch,
        r.seq,
        tokens,
        candle_core::utils::get_num_threads()
    );
    println!(
        "| {:<46} | {:>9} | {:>10} | {:>11} |",
        "forward", "seconds", "tokens/s", "ours ÷ row"
    );
    println!("|{:-<48}|{:->11}|{:->12}|{:->13}|", "", "", "", "");
    let row = |name: &str, s: f64| {
        println!(
            "| {:<46} | {:>9.4} | {:>10.0} | {:>10.1}% |",
            name,
            s,
            r.tokens_per_s(s),
            100.0 * s / r.ours_s
        );
    };
    row("ours (logits of every position)", r.ours_s);
    if let Some((s, _)) = &r.transformers {
        row("transformers (logits of every position)", *s);
    }
    row("candle-transformers (logits of last position)", r.theirs_s);
    row(
        "theirs + LM head on every position",
        r.theirs_s + r.full_head_s,
    );
    println!(
        "LM head over all {} positions alone: {:.4} s (the work theirs skips); max |ours − theirs| over last-position logits: {:.2e}",
        tokens, r.full_head_s, r.max_abs_diff
    );
    println!("(candle-transformers' cache is built outside its timer: KV cache off, one per call)");
    match &r.transformers {
        Some((s, versions)) => println!(
            "transformers: {versions}, same ids and threads; ours at {:.2}× its tokens/s",
            s / r.ours_s
        ),
        None => println!("transformers: not timed (no Python with torch; --python)"),
    }
    if let (Some(b), Some(f), Some(ft)) = (r.lazy_build_s, r.lazy_forward_s, fine_tune) {
        println!();
        println!(
            "lazy candidate: task_arithmetic, base {} + {} (weight 1)",
            dir.display(),
            ft.display()
        );
        println!("| {:<46} | {:>9} |", "lazy candidate", "seconds");
        println!("|{:-<48}|{:->11}|", "", "");
        println!(
            "| {:<46} | {:>9.4} |",
            "plan + load (merges every tensor)", b
        );
        if let Some(m) = r.merge_to_disk_s {
            println!(
                "| {:<46} | {:>9.4} |",
                "plan + `mergesearch merge` to disk (same recipe)", m
            );
        }
        println!("| {:<46} | {:>9.4} |", "one forward of the batch", f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_matches_candle_transformers_on_the_last_position() {
        // Both implement HF LlamaForCausalLM in f32 on the same weights: their last-position
        // logits agree up to summation order (1e-4 absolute on logits of size ~1).
        let tmp = tempfile::tempdir().unwrap();
        let shape = LlamaShape {
            vocab: 96,
            hidden: 32,
            intermediate: 88,
            layers: 2,
        };
        let (base, ft) = write_pair(tmp.path(), &shape, (4, 2)).unwrap();
        let r = forward_bench(&base, Some(&ft), 2, 8, 1, None).unwrap();
        assert!(
            r.max_abs_diff < 1e-4,
            "max |ours − theirs| = {}",
            r.max_abs_diff
        );
        assert!(r.lazy_build_s.is_some() && r.lazy_forward_s.is_some());
        assert!(r.merge_to_disk_s.is_some());
    }
}
