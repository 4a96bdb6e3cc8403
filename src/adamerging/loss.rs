//! The AdaMerging objectives on a seeded batch per task: mean predictive entropy at the
//! answer positions (unlabeled, the `entropy` harness's definition) or the token NLL of the
//! answers (FusionBench's supervised LLM variant).
//!
//! A task is an `entropy` harness of the study's eval suite: its search-split
//! `{prompt, continuation}` records, tokenized once. Position `p` of a sequence predicts
//! token `p + 1`; the scored positions are those that predict a continuation token, exactly
//! as [`mergesearch_evals::Entropy`] scores them.
//!
//! ## References
//! - Yang et al., *AdaMerging*, ICLR 2024, <https://arxiv.org/abs/2310.02575>: entropy
//!   `H(p) = −Σ_c p_c log p_c` of the predictions on unlabeled test inputs as the surrogate
//!   objective, summed over tasks.
//! - Tang et al., *FusionBench*, <https://arxiv.org/abs/2406.03280>: AdaMerging for LLMs on
//!   the cross-entropy of supervised data.

use candle_core::{DType, Device, Tensor, D};
use mergesearch_evals::entropy::Sample;
use mergesearch_evals::TextTokenizer;
use mergesearch_searchers::GradientObjective;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::models::Model;

/// One task's tokenized search split and its weight in the summed loss.
#[derive(Debug, Clone)]
pub struct Task {
    /// The harness name.
    pub name: String,
    /// Weight in the summed loss.
    pub weight: f64,
    /// `prompt ++ continuation` token ids, and the index of the first continuation token.
    seqs: Vec<(Vec<u32>, usize)>,
}

impl Task {
    /// Tokenizes `samples`; records with an empty prompt or continuation are skipped, as
    /// the harness skips them. An error if none is left.
    pub fn new(
        name: &str,
        weight: f64,
        samples: &[Sample],
        tok: &dyn TextTokenizer,
    ) -> Result<Self> {
        let mut seqs = Vec::with_capacity(samples.len());
        for s in samples {
            let prompt = tok.encode(&s.prompt).map_err(Error::from)?;
            let cont = tok.encode(&s.continuation).map_err(Error::from)?;
            if prompt.is_empty() || cont.is_empty() {
                continue;
            }
            let start = prompt.len();
            seqs.push(([prompt, cont].concat(), start));
        }
        if seqs.is_empty() {
            return Err(Error::model(
                format!("task `{name}`"),
                "no record has a non-empty prompt and continuation",
            ));
        }
        Ok(Self {
            name: name.to_string(),
            weight,
            seqs,
        })
    }

    /// A task over already tokenized sequences: `(ids, start)` scores the positions that
    /// predict `ids[start..]` (`start ≥ 1`). For benchmarks and tests.
    pub fn from_tokens(name: &str, weight: f64, seqs: Vec<(Vec<u32>, usize)>) -> Result<Self> {
        if seqs.is_empty() || seqs.iter().any(|(s, st)| *st == 0 || *st >= s.len()) {
            return Err(Error::model(
                format!("task `{name}`"),
                "every sequence needs a start in 1..len and there must be one",
            ));
        }
        Ok(Self {
            name: name.to_string(),
            weight,
            seqs,
        })
    }

    /// Number of usable records.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// Whether the task has no records (never: [`Task::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// The batch of step `step` for task number `task`: `size` distinct records (all of
    /// them when the split is smaller), drawn from a ChaCha stream keyed by
    /// (`seed`, `step`, `task`), so a resumed run draws exactly the same batches.
    pub fn batch(&self, seed: u64, step: usize, task: usize, size: usize) -> Vec<usize> {
        let key = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((step as u64) << 20)
            .wrapping_add(task as u64);
        let mut rng = ChaCha8Rng::seed_from_u64(key);
        let n = size.min(self.seqs.len());
        let mut idx = sample(&mut rng, self.seqs.len(), n).into_vec();
        idx.sort_unstable();
        idx
    }

    /// The objective on records `which` under `model`: a scalar tensor (with gradients
    /// when the model's weights carry them), the mean over every scored position.
    pub fn loss(
        &self,
        model: &Model,
        which: &[usize],
        objective: GradientObjective,
    ) -> Result<Tensor> {
        let err = |e: candle_core::Error| Error::model(format!("task `{}`", self.name), e);
        let batch: Vec<&(Vec<u32>, usize)> = which.iter().map(|&i| &self.seqs[i]).collect();
        let t = batch.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
        let b = batch.len();
        let mut ids = vec![0u32; b * t];
        let mut attn = vec![0u8; b * t];
        let mut targets = vec![0u32; b * t];
        let mut scored = vec![0f32; b * t];
        for (r, (seq, start)) in batch.iter().enumerate() {
            for (p, &id) in seq.iter().enumerate() {
                ids[r * t + p] = id;
                attn[r * t + p] = 1;
            }
            // Position p predicts token p + 1: the continuation starts at `start`.
            for p in start - 1..seq.len() - 1 {
                targets[r * t + p] = seq[p + 1];
                scored[r * t + p] = 1.0;
            }
        }
        let count: f32 = scored.iter().sum();
        let dev = &Device::Cpu;
        let ids = Tensor::from_vec(ids, (b, t), dev).map_err(err)?;
        let attn = Tensor::from_vec(attn, (b, t), dev).map_err(err)?;
        let scored = Tensor::from_vec(scored, (b, t), dev).map_err(err)?;
        let logits = model.forward(&ids, &attn).map_err(err)?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1).map_err(err)?;
        let per_position = match objective {
            GradientObjective::Entropy => (logp.exp().map_err(err)? * &logp)
                .and_then(|x| x.sum(D::Minus1))
                .and_then(|x| x.neg())
                .map_err(err)?,
            GradientObjective::CrossEntropy => {
                let targets = Tensor::from_vec(targets, (b, t, 1), dev).map_err(err)?;
                logp.gather(&targets, D::Minus1)
                    .and_then(|x| x.squeeze(D::Minus1))
                    .and_then(|x| x.neg())
                    .map_err(err)?
            }
        };
        (per_position * scored)
            .and_then(|x| x.sum_all())
            .and_then(|x| x / f64::from(count))
            .and_then(|x| x.to_dtype(DType::F32))
            .map_err(err)
    }
}
