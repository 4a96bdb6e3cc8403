//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading eval data or scoring a model.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of a JSONL data file is malformed or violates the harness's expectations.
    #[error("{}:{line}: {message}", path.display())]
    Data {
        /// The data file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What was wrong with the line.
        message: String,
    },
    /// A data file holds no records (it is empty or blank).
    #[error("{}: no examples (the data file is empty)", path.display())]
    NoData {
        /// The data file.
        path: PathBuf,
    },
    /// An eval-suite file is malformed (unknown type, unknown field, bad value).
    #[error("{}: {message}", path.display())]
    Suite {
        /// The suite file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The model failed or returned logits of the wrong shape.
    #[error("model: {0}")]
    Model(String),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An external command crashed, timed out or printed something other than a JSON object
    /// of numbers.
    #[error("command `{command}`: {message}")]
    Command {
        /// The command line as run (after substitution).
        command: String,
        /// What went wrong.
        message: String,
    },
    /// The data cannot be scored (e.g. no tokens to score).
    #[error("{harness}: {message}")]
    Invalid {
        /// The harness name.
        harness: String,
        /// What was wrong.
        message: String,
    },
}
