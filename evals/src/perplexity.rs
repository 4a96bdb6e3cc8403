//! Perplexity of plain text, scored like HF `labels = input_ids`.
//!
//! Every token after the first is predicted by the previous position; the metric is the mean
//! negative log-likelihood over all scored tokens of all texts, and `perplexity = exp(nll)`.

use serde::Deserialize;

use crate::data::DataSpec;
use crate::logprob::{log_softmax, row};
use crate::model::checked_logits;
use crate::{CausalLm, Direction, EvalError, Harness, Metrics, TextTokenizer};

/// One JSONL line: `{"text": "..."}`.
#[derive(Debug, Clone, Deserialize)]
struct Line {
    text: String,
}

/// Mean token NLL (`nll`) and perplexity (`perplexity`) of a set of texts; both minimized.
#[derive(Debug, Clone)]
pub struct Perplexity {
    name: String,
    texts: Vec<String>,
    batch_size: usize,
    unknown_warned: std::sync::OnceLock<()>,
}

impl Perplexity {
    /// A harness over the given texts.
    pub fn new(name: impl Into<String>, texts: Vec<String>) -> Self {
        Self {
            name: name.into(),
            texts,
            batch_size: 8,
            unknown_warned: std::sync::OnceLock::new(),
        }
    }

    /// Reads `{"text": ...}` lines from `data`.
    pub fn from_jsonl(name: impl Into<String>, data: &DataSpec) -> Result<Self, EvalError> {
        let texts = data.load::<Line>()?.into_iter().map(|r| r.value.text);
        Ok(Self::new(name, texts.collect()))
    }

    /// Sequences per `logits` call (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }
}

impl Harness for Perplexity {
    fn metric_names(&self) -> &'static [(&'static str, Direction)] {
        &[
            ("nll", Direction::Minimize),
            ("perplexity", Direction::Minimize),
        ]
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
            self.texts.iter().map(String::as_str),
        );
        let vocab = model.vocab_size();
        let mut seqs = Vec::new();
        for text in &self.texts {
            let ids = tok.encode(text)?;
            // A single token has nothing before it to be predicted from.
            if ids.len() >= 2 {
                seqs.push(ids);
            }
        }
        let (mut total, mut count) = (0.0f64, 0usize);
        for batch in seqs.chunks(self.batch_size) {
            let logits = checked_logits(model, batch)?;
            for (ids, lg) in batch.iter().zip(&logits) {
                for pos in 0..ids.len() - 1 {
                    let lp = log_softmax(row(lg, pos, vocab));
                    total -= lp[ids[pos + 1] as usize];
                    count += 1;
                }
            }
        }
        if count == 0 {
            return Err(EvalError::Invalid {
                harness: self.name.clone(),
                message: "no text has two or more tokens to score".into(),
            });
        }
        let nll = total / count as f64;
        let mut m = Metrics::new();
        m.push("nll", nll, Direction::Minimize);
        m.push("perplexity", nll.exp(), Direction::Minimize);
        Ok(m)
    }
}
