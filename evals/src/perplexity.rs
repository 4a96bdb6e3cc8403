//! Perplexity of plain text, scored like HF `labels = input_ids`.
//!
//! Every token after the first is predicted by the previous position; the metric is the mean
//! negative log-likelihood over all scored tokens of all texts, and `perplexity = exp(nll)`.

use serde::Deserialize;

use crate::batching::for_each_logits;
use crate::data::DataSpec;
use crate::logprob::{log_softmax, row};
use crate::{CausalLm, Direction, EvalError, Harness, Metrics, Tally, TextTokenizer};

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
    unknown_warned: std::sync::OnceLock<()>,
}

impl Perplexity {
    /// A harness over the given texts.
    pub fn new(name: impl Into<String>, texts: Vec<String>) -> Self {
        Self {
            name: name.into(),
            texts,
            unknown_warned: std::sync::OnceLock::new(),
        }
    }

    /// Reads `{"text": ...}` lines from `data`.
    pub fn from_jsonl(name: impl Into<String>, data: &DataSpec) -> Result<Self, EvalError> {
        let texts = data.load::<Line>()?.into_iter().map(|r| r.value.text);
        Ok(Self::new(name, texts.collect()))
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

    fn examples(&self) -> usize {
        self.texts.len()
    }

    /// Two sums per text: its summed token NLL and its number of scored tokens (both 0 for
    /// a text of fewer than two tokens).
    fn score_examples(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
        indices: &[usize],
    ) -> Result<Vec<Vec<f64>>, EvalError> {
        crate::harness::check_indices(&self.name, self.texts.len(), indices)?;
        crate::harness::warn_unknown_words(
            &self.unknown_warned,
            &self.name,
            tok,
            self.texts.iter().map(String::as_str),
        );
        let vocab = model.vocab_size();
        let mut out = vec![vec![0.0, 0.0]; indices.len()];
        // (position in `indices`, token ids) of the texts that have something to score.
        let mut seqs = Vec::new();
        for (k, &i) in indices.iter().enumerate() {
            let ids = tok.encode(&self.texts[i])?;
            if ids.len() >= 2 {
                seqs.push((k, ids));
            }
        }
        let (ks, seqs): (Vec<usize>, Vec<Vec<u32>>) = seqs.into_iter().unzip();
        for_each_logits(model, &seqs, |j, lg| {
            let ids = &seqs[j];
            let mut nll = 0.0f64;
            for pos in 0..ids.len() - 1 {
                let lp = log_softmax(row(lg, pos, vocab));
                nll -= lp[ids[pos + 1] as usize];
            }
            out[ks[j]] = vec![nll, (ids.len() - 1) as f64];
            Ok(())
        })?;
        Ok(out)
    }

    /// `nll` = Σ NLL / Σ tokens over the scored texts, `perplexity` = exp(nll).
    fn metrics(&self, tally: &Tally) -> Result<Metrics, EvalError> {
        let totals = tally.totals();
        let (total, count) = (totals.first().copied(), totals.get(1).copied());
        let (Some(total), Some(count)) = (total, count) else {
            return Err(self.no_tokens());
        };
        if count == 0.0 {
            return Err(self.no_tokens());
        }
        let nll = total / count;
        let mut m = Metrics::new();
        m.push("nll", nll, Direction::Minimize);
        m.push("perplexity", nll.exp(), Direction::Minimize);
        Ok(m)
    }
}

impl Perplexity {
    fn no_tokens(&self) -> EvalError {
        EvalError::Invalid {
            harness: self.name.clone(),
            message: "no text has two or more tokens to score".into(),
        }
    }
}
