//! Deterministic training of the zoo's tiny llama models with candle.
//!
//! Weights are initialised from a ChaCha stream (candle's own CPU RNG cannot be seeded) and
//! batches are drawn from a second one, so the same seed gives the same bytes. The loss is
//! the causal-LM loss of HF transformers with `labels = input_ids` (every next token, padding
//! excluded), for pre-training and fine-tuning alike, so a fine-tune also lowers the
//! perplexity of its task's text. AdamW with linear warmup and cosine decay; fine-tunes stop
//! once they answer their task (see [`Convergence`]).
//!
//! The bytes do not depend on the machine either, on any x86-64 CPU with AVX2 and FMA in
//! the default build: candle's matrix products run gemm's AVX2 kernels there, whose
//! summation order depends only on the shapes once the inner dimension stays within one
//! cache block (see [`MAX_TOKENS_PER_PRODUCT`]); the other kernels are plain loops compiled
//! for the baseline instruction set, and threads split outputs, never sums. The opt-in
//! `avx512` build uses gemm's AVX-512 kernels, which sum some small products in another
//! order, so its zoo differs in the last bits (and its numerics probe retrains a cached one).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tasks::Task;
use super::vocab;
use crate::error::{Error, Result};
use crate::models::{ForwardMode, LlamaConfig, Model};

/// Hyper-parameters of one training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSpec {
    /// Optimizer steps.
    pub steps: usize,
    /// Sequences per batch.
    pub batch: usize,
    /// Peak learning rate (after warmup).
    pub lr: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Seed of the batch stream.
    pub seed: u64,
}

/// When a fine-tune has learned its task. Tiny models learn some tasks in a sudden jump
/// after a plateau whose length depends on the seed and on the last bits of the arithmetic
/// (the reversal fine-tune learned its task after 300 steps with one seed and had not begun
/// with another), so a fixed step count either wastes time or stops too early. Instead,
/// every `every` steps the model answers `examples` prompts of its task (greedy, a seeded
/// stream of its own, the same prompts at every check) and training stops once it answers
/// at least `target` of them exactly (checks begin at `min_steps`), or after the spec's
/// `steps` at the latest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Convergence {
    /// Steps before the first check: a fine-tune that answers its check prompts after a few
    /// dozen steps has barely moved from the base, and its task vector would be mostly noise.
    pub min_steps: usize,
    /// Steps between checks.
    pub every: usize,
    /// Check prompts.
    pub examples: usize,
    /// Exact-match accuracy on the check prompts at which training stops.
    pub target: f64,
}

/// What [`train`] produced.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The final weights by tensor name.
    pub weights: HashMap<String, Tensor>,
    /// Mean loss over the last tenth of the steps run.
    pub final_loss: f64,
    /// Optimizer steps run (fewer than the spec's when the convergence check stopped it).
    pub steps: usize,
    /// Accuracy at the last convergence check, if there was one.
    pub check_accuracy: Option<f64>,
}

/// Initial weights: norms at one, biases at zero, every matrix N(0, 0.02²) as HF's `initializer_range`,
/// drawn from a ChaCha stream keyed by `seed` (Box–Muller, tensors in name order).
pub fn init_weights(cfg: &LlamaConfig, seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = HashMap::new();
    for (name, shape) in cfg.tensor_shapes() {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            (0..n).map(|_| 0.02 * normal(&mut rng) as f32).collect()
        };
        let t = Tensor::from_vec(data, shape, &Device::Cpu).map_err(|e| Error::model(&name, e))?;
        out.insert(name, t);
    }
    Ok(out)
}

/// One standard normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A batch of task sequences as tensors: inputs, one-hot targets and the loss mask.
struct Batch {
    ids: Tensor,
    mask: Tensor,
    targets: Tensor,
    weights: Tensor,
    count: f64,
}

/// Draws `n` sequences (`prompt answer </s>`), each from a task drawn with probability
/// proportional to its weight in `mixture`, right-padded to the longest.
fn draw_batch(
    mixture: &[(Task, f64)],
    n: usize,
    rng: &mut ChaCha8Rng,
) -> candle_core::Result<Batch> {
    let eos = vocab::id(vocab::EOS);
    let total: f64 = mixture.iter().map(|m| m.1).sum();
    let seqs: Vec<Vec<u32>> = (0..n)
        .map(|_| {
            let mut u = rng.random::<f64>() * total;
            let mut task = mixture[mixture.len() - 1].0;
            for &(t, w) in mixture {
                if u < w {
                    task = t;
                    break;
                }
                u -= w;
            }
            let ex = task.sample(rng);
            let mut s = vocab::encode(&ex.prompt);
            s.extend(vocab::encode(&ex.answer));
            s.push(eos);
            s
        })
        .collect();
    let t = seqs.iter().map(|s| s.len() - 1).max().unwrap_or(0);
    let v = vocab::VOCAB_SIZE;
    let mut ids = vec![0u32; n * t];
    let mut targets = vec![0f32; n * t * v];
    let mut weights = vec![0f32; n * t];
    for (b, s) in seqs.iter().enumerate() {
        for p in 0..s.len() - 1 {
            ids[b * t + p] = s[p];
            targets[(b * t + p) * v + s[p + 1] as usize] = 1.0;
            weights[b * t + p] = 1.0;
        }
    }
    let count = weights.iter().map(|&w| w as f64).sum();
    let dev = &Device::Cpu;
    Ok(Batch {
        ids: Tensor::from_vec(ids, (n, t), dev)?,
        // Causal attention already hides the right padding from real tokens.
        mask: Tensor::ones((n, t), DType::U8, dev)?,
        targets: Tensor::from_vec(targets, (n, t, v), dev)?,
        weights: Tensor::from_vec(weights, (n, t), dev)?,
        count,
    })
}

/// The longest inner dimension a training matrix product may have. candle's CPU matmul is
/// gemm, which splits the inner dimension `k` into blocks sized from the CPU's L1 cache, but
/// never into blocks under 512 (gemm-common 0.19, `cache::kernel_params`: `auto_kc` is at
/// least 512). A product with `k` ≤ 512 is therefore summed in one block, in the same order
/// on every machine; a longer one is summed in machine-dependent blocks and rounds
/// differently (an L1 of 48 KiB, 12-way, gives one block of 768 where 32 KiB, 8-way, gives
/// two of 384). The weight gradients of a linear layer are products over the batch's tokens,
/// so batches are cut into chunks of at most this many token positions.
pub const MAX_TOKENS_PER_PRODUCT: usize = 512;

/// Mean next-token NLL of `batch` under `model` (a scalar with gradients). The batch is run
/// in row chunks of at most [`MAX_TOKENS_PER_PRODUCT`] positions, whose NLL sums are added
/// in chunk order, so the gradients are the same bytes on every machine.
fn batch_loss(model: &Model, batch: &Batch) -> candle_core::Result<Tensor> {
    let (n, t) = batch.ids.dims2()?;
    let rows = (MAX_TOKENS_PER_PRODUCT / t.max(1)).max(1);
    let mut total: Option<Tensor> = None;
    for start in (0..n).step_by(rows) {
        let len = rows.min(n - start);
        let ids = batch.ids.narrow(0, start, len)?;
        let mask = batch.mask.narrow(0, start, len)?;
        let logits = model.forward(&ids, &mask)?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let nll = (logp * batch.targets.narrow(0, start, len)?)?
            .sum(D::Minus1)?
            .neg()?;
        let sum = (nll * batch.weights.narrow(0, start, len)?)?.sum_all()?;
        total = Some(match total {
            None => sum,
            Some(t) => (t + sum)?,
        });
    }
    total.map_or_else(|| Tensor::new(0f32, &Device::Cpu), Ok)? / batch.count
}

/// Learning rate at `step`: linear warmup over the first 5% of steps, then cosine decay to a
/// tenth of the peak.
fn lr_at(spec: &TrainSpec, step: usize) -> f64 {
    let warm = (spec.steps / 20).max(1);
    if step < warm {
        return spec.lr * (step + 1) as f64 / warm as f64;
    }
    let p = (step - warm) as f64 / (spec.steps - warm).max(1) as f64;
    spec.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
}

/// Trains a model with `cfg`'s dimensions, starting from `init`, on batches drawn from
/// the weighted task `mixture`, for `spec.steps` steps or until `until`'s task is learned
/// (see [`Convergence`]). `progress(step, loss)` is called after every step.
pub fn train(
    cfg: &LlamaConfig,
    init: &HashMap<String, Tensor>,
    mixture: &[(Task, f64)],
    spec: &TrainSpec,
    until: Option<(Task, &Convergence)>,
    mut progress: impl FnMut(usize, f64),
) -> Result<Trained> {
    let err = |e: candle_core::Error| Error::model("zoo training", e);
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().expect("the var map is not shared yet");
        let mut names: Vec<&String> = init.keys().collect();
        names.sort();
        for name in names {
            // A fresh copy: training must not write through to the caller's tensors.
            let var = Var::from_tensor(&init[name].copy().map_err(err)?).map_err(err)?;
            data.insert(name.clone(), var);
        }
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = Model::load(cfg, vb, ForwardMode::Differentiable).map_err(err)?;
    let params = ParamsAdamW {
        lr: spec.lr,
        beta1: 0.9,
        beta2: 0.98,
        eps: 1e-8,
        weight_decay: spec.weight_decay,
    };
    let mut opt = AdamW::new(varmap.all_vars(), params).map_err(err)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let checks = until.map(|(task, c)| check_set(task, c, spec.seed));
    let weights = || -> HashMap<String, Tensor> {
        let data = varmap.data().lock().expect("training is single-threaded");
        data.iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    };
    let mut losses = Vec::with_capacity(spec.steps);
    let mut check_accuracy = None;
    for step in 0..spec.steps {
        opt.set_learning_rate(lr_at(spec, step));
        let batch = draw_batch(mixture, spec.batch, &mut rng).map_err(err)?;
        let loss = batch_loss(&model, &batch).map_err(err)?;
        opt.backward_step(&loss).map_err(err)?;
        let l = loss.to_scalar::<f32>().map_err(err)? as f64;
        if !l.is_finite() {
            return Err(Error::model(
                "zoo training",
                format!("the loss became {l} at step {step}"),
            ));
        }
        losses.push(l);
        progress(step, l);
        if let (Some((_, c)), Some(set)) = (until, &checks) {
            if step + 1 >= c.min_steps && (step + 1) % c.every == 0 {
                let acc = set.accuracy(cfg, weights()).map_err(err)?;
                check_accuracy = Some(acc);
                if acc >= c.target {
                    break;
                }
            }
        }
    }
    let tail = (losses.len() / 10).max(1);
    let final_loss = losses.iter().rev().take(tail).sum::<f64>() / tail as f64;
    Ok(Trained {
        weights: weights(),
        final_loss,
        steps: losses.len(),
        check_accuracy,
    })
}

/// The prompts of a convergence check and their answers (token ids, end token included).
struct CheckSet {
    prompts: Vec<Vec<u32>>,
    answers: Vec<Vec<u32>>,
}

/// Draws the check prompts of `task` from stream 1 of the batch seed (batches use stream 0).
fn check_set(task: Task, c: &Convergence, seed: u64) -> CheckSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    let eos = vocab::id(vocab::EOS);
    let (prompts, answers) = (0..c.examples)
        .map(|_| {
            let ex = task.sample(&mut rng);
            let mut answer = vocab::encode(&ex.answer);
            answer.push(eos);
            (vocab::encode(&ex.prompt), answer)
        })
        .unzip();
    CheckSet { prompts, answers }
}

impl CheckSet {
    /// Share of the prompts whose greedy continuation (up to the end token) is the answer.
    fn accuracy(
        &self,
        cfg: &LlamaConfig,
        weights: HashMap<String, Tensor>,
    ) -> candle_core::Result<f64> {
        let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
        let model = Model::load(cfg, vb, ForwardMode::Fast)?;
        let eos = vocab::id(vocab::EOS);
        let longest = self.answers.iter().map(Vec::len).max().unwrap_or(0);
        let out = crate::models::generate::greedy(&model, &self.prompts, longest, &mut |_, g| {
            g.last() == Some(&eos)
        })?;
        let right = out
            .iter()
            .zip(&self.answers)
            .filter(|(o, a)| o == a)
            .count();
        Ok(right as f64 / self.answers.len().max(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-layer llama small enough to train for a few steps in milliseconds.
    fn tiny_config() -> LlamaConfig {
        let cfg_json = serde_json::json!({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16,
            "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "num_key_value_heads": 1, "rms_norm_eps": 1e-5, "vocab_size": vocab::VOCAB_SIZE,
        });
        LlamaConfig::from_json_str(&cfg_json.to_string(), std::path::Path::new("t")).unwrap()
    }

    /// The convergence check stops training at the first check that meets the target (a
    /// target of 0 is met at `min_steps`), never before `min_steps`, and a target no model
    /// can meet runs every step of the spec.
    #[test]
    fn convergence_stops_at_the_first_check_that_meets_the_target() {
        let cfg = tiny_config();
        let init = init_weights(&cfg, 1).unwrap();
        let spec = TrainSpec {
            steps: 12,
            batch: 4,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: 2,
        };
        let run = |target: f64| {
            let c = Convergence {
                min_steps: 6,
                every: 4,
                examples: 8,
                target,
            };
            let mut losses = Vec::new();
            let until = Some((Task::Count, &c));
            let t = train(&cfg, &init, &[(Task::Count, 1.0)], &spec, until, |_, l| {
                losses.push(l)
            })
            .unwrap();
            (t, losses)
        };
        // Checks at steps 8 and 12 (multiples of 4 from step 6 on).
        let (met, met_losses) = run(0.0);
        assert_eq!(met.steps, 8);
        assert!(met.check_accuracy.is_some_and(|a| (0.0..=1.0).contains(&a)));
        let (never, never_losses) = run(1.5);
        assert_eq!(never.steps, 12);
        assert!(never.check_accuracy.is_some());
        let mut losses = Vec::new();
        let unchecked = train(&cfg, &init, &[(Task::Count, 1.0)], &spec, None, |_, l| {
            losses.push(l)
        })
        .unwrap();
        assert_eq!((unchecked.steps, unchecked.check_accuracy), (12, None));
        // Checks draw their prompts from a stream of their own and leave training as it is.
        assert_eq!(never_losses, losses);
        assert_eq!(met_losses[..], losses[..8]);
    }

    /// A batch cut into chunks gives the loss of the whole batch at once: the mean NLL over
    /// every real position, computed here one row at a time from the model's logits.
    #[test]
    fn chunked_loss_is_the_mean_over_the_whole_batch() {
        let cfg = tiny_config();
        let weights = init_weights(&cfg, 3).unwrap();
        let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
        let model = Model::load(&cfg, vb, ForwardMode::Differentiable).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        // 100 sequences of up to 12 positions: more than 512 in all, so several chunks.
        let batch = draw_batch(&[(Task::Reverse, 1.0), (Task::Add, 1.0)], 100, &mut rng).unwrap();
        let (n, t) = batch.ids.dims2().unwrap();
        assert!(n * t > 2 * MAX_TOKENS_PER_PRODUCT, "{n} x {t}");
        let chunked = batch_loss(&model, &batch)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap() as f64;
        let (mut nll, mut count) = (0.0f64, 0.0f64);
        for row in 0..n {
            let ids = batch.ids.narrow(0, row, 1).unwrap();
            let logits = model
                .forward(&ids, &batch.mask.narrow(0, row, 1).unwrap())
                .unwrap();
            let logp = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap();
            let logp: Vec<Vec<f32>> = logp.squeeze(0).unwrap().to_vec2().unwrap();
            let targets: Vec<Vec<f32>> = batch.targets.get(row).unwrap().to_vec2().unwrap();
            let w: Vec<f32> = batch.weights.get(row).unwrap().to_vec1().unwrap();
            for p in 0..t {
                if w[p] > 0.0 {
                    let target = targets[p].iter().position(|&x| x == 1.0).unwrap();
                    nll -= logp[p][target] as f64;
                    count += 1.0;
                }
            }
        }
        assert_eq!(count, batch.count);
        let whole = nll / count;
        assert!(
            (chunked - whole).abs() < 1e-5 * whole,
            "{chunked} vs {whole}"
        );
    }
}
