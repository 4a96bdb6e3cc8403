//! Exact match of greedy generations against reference answers.
//!
//! Each prompt is extended greedily (argmax token) up to `max_new_tokens`, stopping at the
//! tokenizer's end-of-sequence token (not included) or at a `stop` string (lm-eval's
//! `until`; the text from it on is dropped), through [`CausalLm::greedy`] (a model with a
//! key/value cache generates the same tokens faster). With a regex, the first match's first
//! capture group (or the whole match when the pattern has no group) is the model's answer;
//! no match counts as wrong. The answer and the reference are compared after trimming
//! whitespace.

use regex::Regex;
use serde::Deserialize;

use crate::batching::token_batches;
use crate::data::DataSpec;
use crate::{CausalLm, Direction, EvalError, Harness, Metrics, Tally, TextTokenizer};

/// One JSONL line: `{"prompt": ..., "answer": ...}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    /// Text the model continues.
    pub prompt: String,
    /// The reference answer.
    pub answer: String,
}

/// `accuracy` (maximized): the fraction of prompts whose extracted answer matches.
#[derive(Debug, Clone)]
pub struct ExactMatch {
    name: String,
    examples: Vec<Example>,
    max_new_tokens: usize,
    regex: Option<Regex>,
    stop: Vec<String>,
    unknown_warned: std::sync::OnceLock<()>,
}

impl ExactMatch {
    /// A harness over `examples`, generating at most `max_new_tokens` tokens per prompt.
    pub fn new(name: impl Into<String>, examples: Vec<Example>, max_new_tokens: usize) -> Self {
        Self {
            name: name.into(),
            examples,
            max_new_tokens,
            regex: None,
            stop: Vec::new(),
            unknown_warned: std::sync::OnceLock::new(),
        }
    }

    /// Reads `{"prompt", "answer"}` lines from `data`.
    pub fn from_jsonl(
        name: impl Into<String>,
        data: &DataSpec,
        max_new_tokens: usize,
    ) -> Result<Self, EvalError> {
        let examples = data.load::<Example>()?.into_iter().map(|r| r.value);
        Ok(Self::new(name, examples.collect(), max_new_tokens))
    }

    /// Extracts the answer from the generation with `regex` (first capture group, or the
    /// whole match).
    pub fn with_regex(mut self, regex: Regex) -> Self {
        self.regex = Some(regex);
        self
    }

    /// Generation also stops at the first of these strings (lm-eval's `until`); the answer
    /// is the text before it.
    pub fn with_stop(mut self, stop: Vec<String>) -> Self {
        self.stop = stop;
        self
    }

    /// Greedy continuations of `prompts` as text: each stops at the end-of-sequence token
    /// (not included) or at a stop string (cut off).
    fn generate(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
        prompts: Vec<Vec<u32>>,
    ) -> Result<Vec<String>, EvalError> {
        let eos = tok.eos_id();
        let mut failed = None;
        let stops = &self.stop;
        let mut stop = |_: usize, gen: &[u32]| -> bool {
            if gen.last().copied() == eos && eos.is_some() {
                return true;
            }
            if stops.is_empty() {
                return false;
            }
            match tok.decode(gen) {
                Ok(text) => stops.iter().any(|s| text.contains(s.as_str())),
                Err(e) => {
                    failed = Some(e);
                    true
                }
            }
        };
        let generated = model.greedy(&prompts, self.max_new_tokens, &mut stop)?;
        if let Some(e) = failed {
            return Err(e);
        }
        generated
            .into_iter()
            .map(|mut g| {
                if eos.is_some() && g.last().copied() == eos {
                    g.pop();
                }
                let text = tok.decode(&g)?;
                let cut = stops
                    .iter()
                    .filter_map(|s| text.find(s.as_str()))
                    .min()
                    .unwrap_or(text.len());
                Ok(text[..cut].to_string())
            })
            .collect()
    }

    /// The model's answer in `generated` (after the regex, if any).
    fn extract<'a>(&self, generated: &'a str) -> Option<&'a str> {
        match &self.regex {
            None => Some(generated),
            Some(re) => re
                .captures(generated)
                .map(|c| c.get(1).or_else(|| c.get(0)).map_or("", |m| m.as_str())),
        }
    }
}

impl Harness for ExactMatch {
    fn metric_names(&self) -> &'static [(&'static str, Direction)] {
        &[("accuracy", Direction::Maximize)]
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn examples(&self) -> usize {
        self.examples.len()
    }

    /// One sum per example: 1 when its answer matches, else 0.
    fn score_examples(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
        indices: &[usize],
    ) -> Result<Vec<Vec<f64>>, EvalError> {
        crate::harness::check_indices(&self.name, self.examples.len(), indices)?;
        crate::harness::warn_unknown_words(
            &self.unknown_warned,
            &self.name,
            tok,
            self.examples.iter().map(|e| e.prompt.as_str()),
        );
        let mut prompts = Vec::with_capacity(indices.len());
        for &i in indices {
            let ex = &self.examples[i];
            let ids = tok.encode(&ex.prompt)?;
            if ids.is_empty() {
                return Err(EvalError::Invalid {
                    harness: self.name.clone(),
                    message: format!("prompt {:?} encodes to no tokens", ex.prompt),
                });
            }
            prompts.push(ids);
        }
        // A batch's cache grows to its longest prompt plus the new tokens.
        let lengths: Vec<usize> = prompts
            .iter()
            .map(|p| p.len() + self.max_new_tokens)
            .collect();
        let mut out = vec![Vec::new(); indices.len()];
        for batch in token_batches(&lengths, model.max_batch_tokens()) {
            let group = batch.iter().map(|&j| prompts[j].clone()).collect();
            for (&j, text) in batch.iter().zip(self.generate(model, tok, group)?) {
                let answer = self.examples[indices[j]].answer.trim();
                let hit = self.extract(&text).map(str::trim) == Some(answer);
                out[j] = vec![f64::from(u8::from(hit))];
            }
        }
        Ok(out)
    }

    fn metrics(&self, tally: &Tally) -> Result<Metrics, EvalError> {
        let mut m = Metrics::new();
        m.push(
            "accuracy",
            crate::harness::mean_of(&self.name, tally, 0)?,
            Direction::Maximize,
        );
        Ok(m)
    }
}
