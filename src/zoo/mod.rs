//! The built-in toy zoo: tiny llama checkpoints the project trains itself, offline and
//! deterministically, so every workflow (merge, eval, search) runs on two cores in minutes.
//!
//! `build` trains a base model on a mixture of the four [`Task`]s, then one fine-tune per
//! task from that base, and writes, under the output directory:
//!
//! ```text
//! base/  ft-add/  ft-reverse/  ft-sort/  ft-count/   HF checkpoints (config.json with
//!                                                    LlamaForCausalLM, model.safetensors,
//!                                                    tokenizer.json, tokenizer_config.json)
//! data/TASK.{search,heldout}.jsonl                   {prompt, answer, text, continuation}
//! data/TASK.mc.{search,heldout}.jsonl                {prompt, choices, answer}
//! evals.yaml                                         exact-match accuracy per task
//! evals-all.yaml                                     every model harness on every task
//! merges/task_arithmetic.yaml                        the λ = 0.3 baseline merge
//! accuracy.csv                                       models × tasks, held-out split
//! ```
//!
//! Each checkpoint carries a `zoo.json` fingerprint (preset, seed, format version and its
//! parent's fingerprint); a model whose fingerprint matches is reused, not retrained.

mod data;
mod matrix;
mod preset;
pub mod tasks;
pub mod train;
pub mod vocab;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Tensor;

pub use matrix::{accuracy_matrix, AccuracyMatrix};
pub use preset::Preset;
pub use tasks::Task;

use crate::checkpoint::writer::replace_dir;
use crate::error::{Error, Result};
use crate::models::LlamaConfig;
use train::TrainSpec;

/// Bumped whenever training or data generation changes, so stale caches are rebuilt.
/// (Version 3: batches are run in chunks of at most 512 token positions, see
/// [`train::MAX_TOKENS_PER_PRODUCT`], and fine-tunes train until they have learned their
/// task; version 4: fine-tunes replay the other tasks in their pre-training proportions.)
const FORMAT_VERSION: u32 = 4;

/// What `build` did for one model.
#[derive(Debug, Clone)]
pub struct BuiltModel {
    /// Directory name under the zoo (`base`, `ft-add`, ...).
    pub name: String,
    /// Whether a cached checkpoint was reused.
    pub cached: bool,
    /// Training wall time in seconds (0 when cached).
    pub seconds: f64,
    /// Mean training loss over the last tenth of the steps (from `zoo.json` when cached).
    pub final_loss: f64,
}

/// The outcome of [`build`].
#[derive(Debug, Clone)]
pub struct ZooSummary {
    /// The zoo directory.
    pub dir: PathBuf,
    /// The models in build order: the base, then one fine-tune per task.
    pub models: Vec<BuiltModel>,
}

/// Name of the fine-tune of `task`.
pub fn finetune_name(task: Task) -> String {
    format!("ft-{}", task.name())
}

/// Builds (or reuses) the zoo in `out`. `log` receives one line per event (from the worker
/// threads that train fine-tunes in parallel).
///
/// candle sizes its CPU parallelism from `RAYON_NUM_THREADS`; these models are so small that
/// one thread per model is fastest, which is what `mergesearch zoo` sets.
pub fn build(
    out: &Path,
    preset: &Preset,
    seed: u64,
    log: &(dyn Fn(&str) + Sync),
) -> Result<ZooSummary> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let cfg_json = preset.config_json();
    let cfg = LlamaConfig::from_json_str(&cfg_json.to_string(), Path::new("<zoo preset>"))?;
    let mut models = Vec::new();

    let probe = numerics_probe(&cfg)?;
    let base_fp = format!(
        "{} numerics={probe}",
        fingerprint(preset, seed, "base", None)
    );
    let base_dir = out.join("base");
    let base = match cached_loss(&base_dir, &base_fp) {
        Some(loss) => {
            log(&format!("base: cached ({})", base_dir.display()));
            models.push(BuiltModel {
                name: "base".into(),
                cached: true,
                seconds: 0.0,
                final_loss: loss,
            });
            crate::eval::load_tensors(&base_dir)?
        }
        None => {
            let t0 = Instant::now();
            let init = train::init_weights(&cfg, seed)?;
            let spec = TrainSpec {
                seed: mix(seed, "base batches"),
                ..preset.base
            };
            log(&format!(
                "base: training {} steps on all {} tasks",
                spec.steps,
                Task::ALL.len()
            ));
            let trained = train::train(&cfg, &init, &preset.base_mixture, &spec, None, |_, _| {})?;
            let (w, loss) = (trained.weights, trained.final_loss);
            let seconds = t0.elapsed().as_secs_f64();
            write_model(&base_dir, &cfg_json, &w, &base_fp, loss)?;
            log(&format!("base: loss {loss:.3} in {seconds:.1} s"));
            models.push(BuiltModel {
                name: "base".into(),
                cached: false,
                seconds,
                final_loss: loss,
            });
            w
        }
    };

    // Fine-tunes are independent: train them on parallel workers. Each run's bytes depend
    // only on its seed, so the schedule does not change the result.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<BuiltModel>>>> = Task::ALL
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(Task::ALL.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(&task) = Task::ALL.get(i) else { break };
                let r = finetune(
                    out, preset, seed, &cfg, &cfg_json, &base, &base_fp, task, log,
                );
                *results[i]
                    .lock()
                    .expect("no worker panics while holding it") = Some(r);
            });
        }
    });
    for r in results {
        models.push(
            r.into_inner()
                .expect("workers are done")
                .expect("every task ran")?,
        );
    }

    data::write_all(out, preset, seed)?;
    Ok(ZooSummary {
        dir: out.to_path_buf(),
        models,
    })
}

/// Fine-tunes `task` from the base weights (or reuses a cached fine-tune).
#[allow(clippy::too_many_arguments)]
fn finetune(
    out: &Path,
    preset: &Preset,
    seed: u64,
    cfg: &LlamaConfig,
    cfg_json: &serde_json::Value,
    base: &HashMap<String, Tensor>,
    base_fp: &str,
    task: Task,
    log: &(dyn Fn(&str) + Sync),
) -> Result<BuiltModel> {
    let name = finetune_name(task);
    let fp = fingerprint(preset, seed, &name, Some(base_fp));
    let dir = out.join(&name);
    if let Some(loss) = cached_loss(&dir, &fp) {
        log(&format!("{name}: cached ({})", dir.display()));
        return Ok(BuiltModel {
            name,
            cached: true,
            seconds: 0.0,
            final_loss: loss,
        });
    }
    let t0 = Instant::now();
    let spec = TrainSpec {
        seed: mix(seed, &format!("{name} batches")),
        ..preset.finetune
    };
    let c = &preset.convergence;
    log(&format!(
        "{name}: fine-tuning on {} until it answers {:.0}% of {} check prompts (at most {} steps)",
        task.name(),
        100.0 * c.target,
        c.examples,
        spec.steps
    ));
    let mixture = finetune_mixture(preset, task);
    let trained = train::train(cfg, base, &mixture, &spec, Some((task, c)), |_, _| {})?;
    let seconds = t0.elapsed().as_secs_f64();
    let loss = trained.final_loss;
    write_model(&dir, cfg_json, &trained.weights, &fp, loss)?;
    let checked = trained.check_accuracy.unwrap_or(f64::NAN);
    log(&format!(
        "{name}: loss {loss:.3}, {} steps, check accuracy {checked:.3} in {seconds:.1} s",
        trained.steps
    ));
    if checked < c.target {
        log(&format!(
            "{name}: warning: did not reach the check target {:.2} in {} steps",
            c.target, spec.steps
        ));
    }
    Ok(BuiltModel {
        name,
        cached: false,
        seconds,
        final_loss: loss,
    })
}

/// The task shares of `task`'s fine-tuning batches: the task itself, and the replay split
/// over the other tasks in their pre-training proportions, as real fine-tunes replay general
/// data as it was. (Split evenly, the 0.2-share counting task was replayed 25 times more
/// often than in pre-training, and every fine-tune learned to count.)
fn finetune_mixture(preset: &Preset, task: Task) -> Vec<(Task, f64)> {
    let others: f64 = preset
        .base_mixture
        .iter()
        .filter(|(t, _)| *t != task)
        .map(|(_, w)| w)
        .sum();
    preset
        .base_mixture
        .iter()
        .map(|&(t, w)| {
            let share = if t == task {
                1.0 - preset.finetune_replay
            } else {
                preset.finetune_replay * w / others
            };
            (t, share)
        })
        .collect()
}

/// A stable 64-bit hash of a label under `seed` (FNV-1a over the label, then mixed).
fn mix(seed: u64, label: &str) -> u64 {
    let h = crate::hash::fnv1a64(label.as_bytes());
    crate::bench::synthetic::mix64(h, seed, 0x007a_6f6f)
}

/// What identifies a trained model: everything its bytes depend on.
fn fingerprint(preset: &Preset, seed: u64, name: &str, parent: Option<&str>) -> String {
    format!(
        "v{FORMAT_VERSION} preset={} seed={seed} model={name} parent=[{}]",
        preset.fingerprint(),
        parent.unwrap_or("")
    )
}

/// A hash of the weights after two training steps of a small batch from seeded initial
/// weights of the preset's shape. It changes whenever the numerics of training change (the
/// model's forward pass, candle's kernels and backward pass, the optimizer), which the
/// preset and the format version cannot see: a cached zoo trained by other numerics is then
/// retrained instead of silently reused (a change to the rotary tables once left a stale
/// test zoo passing here while a fresh one failed elsewhere).
fn numerics_probe(cfg: &LlamaConfig) -> Result<String> {
    let spec = TrainSpec {
        steps: 2,
        batch: 4,
        lr: 1e-3,
        weight_decay: 0.0,
        seed: 0,
    };
    let init = train::init_weights(cfg, 0)?;
    let mixture: Vec<(Task, f64)> = Task::ALL.iter().map(|&t| (t, 1.0)).collect();
    let weights = train::train(cfg, &init, &mixture, &spec, None, |_, _| {})?.weights;
    let mut names: Vec<&String> = weights.keys().collect();
    names.sort();
    let mut h = crate::hash::fnv1a64(b"zoo numerics");
    for name in names {
        let values: Vec<f32> = weights[name]
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .map_err(|e| Error::model(name, e))?;
        for v in values {
            h = crate::hash::fnv1a64_extend(h, &v.to_bits().to_le_bytes());
        }
    }
    Ok(format!("{h:016x}"))
}

/// The recorded final loss if `dir` holds a complete model with fingerprint `fp`.
fn cached_loss(dir: &Path, fp: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("zoo.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let complete = ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .all(|f| dir.join(f).is_file());
    (complete && v["fingerprint"] == fp)
        .then(|| v["final_loss"].as_f64())
        .flatten()
}

/// Writes one HF checkpoint directory atomically (temporary directory, then rename); the
/// `zoo.json` fingerprint is written last inside it.
fn write_model(
    dir: &Path,
    cfg_json: &serde_json::Value,
    weights: &HashMap<String, Tensor>,
    fp: &str,
    loss: f64,
) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".{}.partial-{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let write = |name: &str, text: String| -> Result<()> {
        let p = tmp.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
    };
    write(
        "config.json",
        serde_json::to_string_pretty(cfg_json).expect("JSON values serialize"),
    )?;
    let st = tmp.join("model.safetensors");
    candle_core::safetensors::save(weights, &st)
        .map_err(|e| Error::checkpoint(&st, e.to_string()))?;
    vocab::write_tokenizer(&tmp)?;
    write(
        "zoo.json",
        serde_json::to_string_pretty(&serde_json::json!({"fingerprint": fp, "final_loss": loss}))
            .expect("JSON values serialize"),
    )?;
    replace_dir(&tmp, dir)
}
