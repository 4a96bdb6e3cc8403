//! Mean predictive entropy on unlabeled text, the AdaMerging objective.
//!
//! For `{prompt, continuation}`, the entropy (natural log) of the next-token distribution is
//! taken at every position that predicts a continuation token, and averaged over all such
//! positions of all examples. No labels are needed: only the model's own distribution.
//!
//! ## References
//!
//! - Yang et al., *AdaMerging: Adaptive Model Merging for Multi-Task Learning*, ICLR 2024,
//!   entropy minimization on unlabeled test data as the surrogate objective,
//!   <https://arxiv.org/abs/2310.02575>.

use serde::Deserialize;

use crate::data::DataSpec;
use crate::logprob::{entropy, row};
use crate::model::checked_logits;
use crate::{CausalLm, Direction, EvalError, Harness, Metrics, TextTokenizer};

/// One JSONL line: `{"prompt": ..., "continuation": ...}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    /// Context before the scored positions.
    pub prompt: String,
    /// Text whose next-token distributions are scored.
    pub continuation: String,
}

/// `entropy` (minimized): mean next-token entropy over continuation positions.
#[derive(Debug, Clone)]
pub struct Entropy {
    name: String,
    samples: Vec<Sample>,
    batch_size: usize,
    unknown_warned: std::sync::OnceLock<()>,
}

impl Entropy {
    /// A harness over `samples`.
    pub fn new(name: impl Into<String>, samples: Vec<Sample>) -> Self {
        Self {
            name: name.into(),
            samples,
            batch_size: 8,
            unknown_warned: std::sync::OnceLock::new(),
        }
    }

    /// Reads `{"prompt", "continuation"}` lines from `data`.
    pub fn from_jsonl(name: impl Into<String>, data: &DataSpec) -> Result<Self, EvalError> {
        let samples = data.load::<Sample>()?.into_iter().map(|r| r.value);
        Ok(Self::new(name, samples.collect()))
    }

    /// Sequences per `logits` call (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }
}

impl Harness for Entropy {
    fn metric_names(&self) -> &'static [(&'static str, Direction)] {
        &[("entropy", Direction::Minimize)]
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
    ) -> Result<Metrics, EvalError> {
        crate::harness::warn_unknown_words(
            &self.unknown_warned,
            &self.name,
            tok,
            self.samples.iter().map(|s| s.prompt.as_str()),
        );
        let vocab = model.vocab_size();
        // (sequence, index of its first continuation token)
        let mut seqs = Vec::new();
        let mut starts = Vec::new();
        for s in &self.samples {
            let prompt = tok.encode(&s.prompt)?;
            let cont = tok.encode(&s.continuation)?;
            if prompt.is_empty() || cont.is_empty() {
                continue;
            }
            starts.push(prompt.len());
            seqs.push([prompt, cont].concat());
        }
        let (mut total, mut count) = (0.0f64, 0usize);
        for (batch, starts) in seqs
            .chunks(self.batch_size)
            .zip(starts.chunks(self.batch_size))
        {
            let logits = checked_logits(model, batch)?;
            for ((seq, &start), lg) in batch.iter().zip(starts).zip(&logits) {
                for t in start..seq.len() {
                    total += entropy(row(lg, t - 1, vocab));
                    count += 1;
                }
            }
        }
        if count == 0 {
            return Err(EvalError::Invalid {
                harness: self.name.clone(),
                message: "no sample has a non-empty prompt and continuation".into(),
            });
        }
        let mut m = Metrics::new();
        m.push("entropy", total / count as f64, Direction::Minimize);
        Ok(m)
    }
}
