//! The `Harness` trait: score a model on a fixed data set.

use crate::tally::Tally;
use crate::{CausalLm, EvalError, Metrics, TextTokenizer};

/// An evaluation that scores a causal LM on data it loaded when it was built.
///
/// Evaluating the same model twice gives the same metrics (no sampling). A harness scores
/// examples one by one into additive sums ([`Harness::score_examples`]) and turns their
/// totals into metrics ([`Harness::metrics`]), so that it can be scored a few examples at a
/// time (successive halving, [`crate::tally`]); [`Harness::evaluate`] scores them all.
pub trait Harness: Send + Sync {
    /// Name used to prefix this harness's metrics in a suite.
    fn name(&self) -> &str;

    /// The metrics `evaluate` returns, with their directions, known before any scoring (so
    /// a study can reject an objective naming a metric no harness produces).
    fn metric_names(&self) -> &'static [(&'static str, crate::Direction)];

    /// Number of examples the harness scores.
    fn examples(&self) -> usize;

    /// Scores the examples at `indices` (each `< examples()`) and returns their additive
    /// sums, one vector per index, in the order of `indices`.
    fn score_examples(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
        indices: &[usize],
    ) -> Result<Vec<Vec<f64>>, EvalError>;

    /// The metrics of the scored examples in `tally` (at least one).
    fn metrics(&self, tally: &Tally) -> Result<Metrics, EvalError>;

    /// Scores every example and returns the harness's metrics.
    fn evaluate(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
    ) -> Result<Metrics, EvalError> {
        let all: Vec<usize> = (0..self.examples()).collect();
        let tally = score_tally(self, model, tok, &all)?;
        self.metrics(&tally)
    }
}

/// Scores the examples at `indices` of `harness` into a new [`Tally`].
pub fn score_tally<H: Harness + ?Sized>(
    harness: &H,
    model: &dyn CausalLm,
    tok: &dyn TextTokenizer,
    indices: &[usize],
) -> Result<Tally, EvalError> {
    let sums = harness.score_examples(model, tok, indices)?;
    let mut tally = Tally::new();
    for (&i, s) in indices.iter().zip(sums) {
        tally.add(harness.name(), i, s)?;
    }
    Ok(tally)
}

/// The error for an example index past the end of a harness's data.
pub(crate) fn check_indices(harness: &str, n: usize, indices: &[usize]) -> Result<(), EvalError> {
    if n == 0 {
        return Err(EvalError::Invalid {
            harness: harness.to_string(),
            message: "no examples".into(),
        });
    }
    match indices.iter().find(|&&i| i >= n) {
        Some(i) => Err(EvalError::Invalid {
            harness: harness.to_string(),
            message: format!("example {i} asked for, but there are {n}"),
        }),
        None => Ok(()),
    }
}

/// `totals[k] / tally.len()`: the mean of sum `k` over the scored examples (accuracy-like
/// metrics); an error when nothing is scored.
pub(crate) fn mean_of(harness: &str, tally: &Tally, k: usize) -> Result<f64, EvalError> {
    if tally.is_empty() {
        return Err(EvalError::Invalid {
            harness: harness.to_string(),
            message: "no example scored".into(),
        });
    }
    Ok(tally.totals().get(k).copied().unwrap_or(0.0) / tally.len() as f64)
}

/// Warns on stderr, the first time it is called with `warned`, when some of `prompts` hold
/// words the tokenizer does not know (scored as its unknown token, they make every metric
/// meaningless without any error): `warning: harness add: 3 of 40 prompts contain 5 words
/// not in the tokenizer's vocabulary (e.g. "xyz")`.
pub(crate) fn warn_unknown_words<'a>(
    warned: &std::sync::OnceLock<()>,
    harness: &str,
    tok: &dyn TextTokenizer,
    prompts: impl Iterator<Item = &'a str>,
) {
    warned.get_or_init(|| {
        if let Some(line) = unknown_words_summary(harness, tok, prompts) {
            eprintln!("{line}");
        }
    });
}

/// The warning of [`warn_unknown_words`], if any prompt has an unknown word.
pub fn unknown_words_summary<'a>(
    harness: &str,
    tok: &dyn TextTokenizer,
    prompts: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let (mut total, mut affected, mut words) = (0usize, 0usize, 0usize);
    let mut examples: Vec<String> = Vec::new();
    for p in prompts {
        total += 1;
        let unknown = tok.unknown_words(p);
        if unknown.is_empty() {
            continue;
        }
        affected += 1;
        words += unknown.len();
        for w in unknown {
            if examples.len() < 3 && !examples.contains(&w) {
                examples.push(w);
            }
        }
    }
    (affected > 0).then(|| {
        let e: Vec<String> = examples.iter().map(|w| format!("{w:?}")).collect();
        format!(
            "warning: harness {harness}: {affected} of {total} prompts contain {words} words not in the tokenizer's vocabulary (e.g. {})",
            e.join(", ")
        )
    })
}
