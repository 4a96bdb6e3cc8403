//! Deterministic training of the zoo's tiny llama models with candle.
//!
//! Weights are initialised from a ChaCha stream (candle's own CPU RNG cannot be seeded) and
//! batches are drawn from a second one, so the same seed gives the same bytes. The loss is
//! the causal-LM loss of HF transformers with `labels = input_ids` (every next token, padding
//! excluded), for pre-training and fine-tuning alike, so a fine-tune also lowers the
//! perplexity of its task's text. AdamW with linear warmup and cosine decay.

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

/// Mean next-token NLL of `batch` under `model` (a scalar with gradients).
fn batch_loss(model: &Model, batch: &Batch) -> candle_core::Result<Tensor> {
    let logits = model.forward(&batch.ids, &batch.mask)?;
    let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let nll = (logp * &batch.targets)?.sum(D::Minus1)?.neg()?;
    (nll * &batch.weights)?.sum_all()? / batch.count
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
/// the weighted task `mixture`; returns the final weights and the mean loss of the last tenth of the steps.
/// `progress(step, loss)` is called after every step.
pub fn train(
    cfg: &LlamaConfig,
    init: &HashMap<String, Tensor>,
    mixture: &[(Task, f64)],
    spec: &TrainSpec,
    mut progress: impl FnMut(usize, f64),
) -> Result<(HashMap<String, Tensor>, f64)> {
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
    let (mut tail_sum, mut tail_n) = (0.0, 0usize);
    let tail_from = spec.steps - (spec.steps / 10).max(1);
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
        if step >= tail_from {
            tail_sum += l;
            tail_n += 1;
        }
        progress(step, l);
    }
    let data = varmap.data().lock().expect("training is single-threaded");
    let weights = data
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    Ok((weights, tail_sum / tail_n.max(1) as f64))
}
