//! The `Harness` trait: score a model on a fixed data set.

use crate::{CausalLm, EvalError, Metrics, TextTokenizer};

/// An evaluation that scores a causal LM on data it loaded when it was built.
///
/// Evaluating the same model twice gives the same metrics (no sampling).
pub trait Harness: Send + Sync {
    /// Name used to prefix this harness's metrics in a suite.
    fn name(&self) -> &str;

    /// The metrics `evaluate` returns, with their directions, known before any scoring (so
    /// a study can reject an objective naming a metric no harness produces).
    fn metric_names(&self) -> &'static [(&'static str, crate::Direction)];

    /// Scores `model` (with tokenizer `tok`) and returns the harness's metrics.
    fn evaluate(&self, model: &dyn CausalLm, tok: &dyn TextTokenizer)
        -> Result<Metrics, EvalError>;
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
