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
