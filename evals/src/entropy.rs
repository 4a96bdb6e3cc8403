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

use crate::batching::for_each_logits;
use crate::data::DataSpec;
use crate::logprob::{entropy, row};
use crate::{CausalLm, Direction, EvalError, Harness, Metrics, Tally, TextTokenizer};

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
    unknown_warned: std::sync::OnceLock<()>,
}

impl Entropy {
    /// A harness over `samples`.
    pub fn new(name: impl Into<String>, samples: Vec<Sample>) -> Self {
        Self {
            name: name.into(),
            samples,
            unknown_warned: std::sync::OnceLock::new(),
        }
    }

    /// Reads `{"prompt", "continuation"}` lines from `data`.
    pub fn from_jsonl(name: impl Into<String>, data: &DataSpec) -> Result<Self, EvalError> {
        let samples = data.load::<Sample>()?.into_iter().map(|r| r.value);
        Ok(Self::new(name, samples.collect()))
    }
}

impl Harness for Entropy {
    fn metric_names(&self) -> &'static [(&'static str, Direction)] {
        &[("entropy", Direction::Minimize)]
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn examples(&self) -> usize {
        self.samples.len()
    }

    /// Two sums per sample: the summed entropy at its continuation positions and their
    /// number (both 0 for a sample with an empty prompt or continuation).
    fn score_examples(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
        indices: &[usize],
    ) -> Result<Vec<Vec<f64>>, EvalError> {
        crate::harness::check_indices(&self.name, self.samples.len(), indices)?;
        crate::harness::warn_unknown_words(
            &self.unknown_warned,
            &self.name,
            tok,
            self.samples.iter().map(|s| s.prompt.as_str()),
        );
        let vocab = model.vocab_size();
        let mut out = vec![vec![0.0, 0.0]; indices.len()];
        // (position in `indices`, index of its first continuation token), and the sequence.
        let (mut at, mut seqs) = (Vec::new(), Vec::new());
        for (k, &i) in indices.iter().enumerate() {
            let s = &self.samples[i];
            let prompt = tok.encode(&s.prompt)?;
            let cont = tok.encode(&s.continuation)?;
            if prompt.is_empty() || cont.is_empty() {
                continue;
            }
            at.push((k, prompt.len()));
            seqs.push([prompt, cont].concat());
        }
        for_each_logits(model, &seqs, |j, lg| {
            let ((k, start), len) = (at[j], seqs[j].len());
            let total: f64 = (start..len).map(|t| entropy(row(lg, t - 1, vocab))).sum();
            out[k] = vec![total, (len - start) as f64];
            Ok(())
        })?;
        Ok(out)
    }

    /// `entropy` = Σ entropy / Σ positions over the scored samples.
    fn metrics(&self, tally: &Tally) -> Result<Metrics, EvalError> {
        let totals = tally.totals();
        let count = totals.get(1).copied().unwrap_or(0.0);
        if count == 0.0 {
            return Err(EvalError::Invalid {
                harness: self.name.clone(),
                message: "no sample has a non-empty prompt and continuation".into(),
            });
        }
        let mut m = Metrics::new();
        m.push("entropy", totals[0] / count, Direction::Minimize);
        Ok(m)
    }
}
