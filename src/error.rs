//! The library's error type: every variant names the file, field or tensor at fault.

use std::path::PathBuf;

/// Errors from checkpoint I/O, config validation and merging.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error (shown in the message, so not also chained as a `source`).
        cause: std::io::Error,
    },
    /// A checkpoint directory or safetensors file is malformed or lacks what the merge needs.
    #[error("checkpoint {path}: {msg}")]
    Checkpoint {
        /// The model directory or shard file.
        path: PathBuf,
        /// What was expected and what was found.
        msg: String,
    },
    /// A merge config is invalid (unknown key, missing or out-of-range parameter, ...).
    #[error("config {path}: {msg}")]
    Config {
        /// The YAML file (or `<memory>` for configs built in code).
        path: PathBuf,
        /// The field at fault and what was expected.
        msg: String,
    },
    /// A model could not be built or run (a candle error, with what was being done).
    #[error("model {what}: {msg}")]
    Model {
        /// The model directory, candidate or operation.
        what: String,
        /// What went wrong.
        msg: String,
    },
    /// A `tokenizer.json` could not be read or used.
    #[error("tokenizer {path}: {msg}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// An eval harness or suite failed (its own error names the file or harness).
    #[error(transparent)]
    Eval(#[from] mergesearch_evals::EvalError),
    /// A study's storage is unreadable, inconsistent or refused a write: names the storage,
    /// the study and (where one is at fault) the trial.
    #[error("study `{study}` in {location}{}: {msg}", trial.map(|t| format!(", trial {t}")).unwrap_or_default())]
    Storage {
        /// The database (file path or URL).
        location: String,
        /// The study name.
        study: String,
        /// The trial at fault, if one is.
        trial: Option<u64>,
        /// What was expected and what was found.
        msg: String,
    },
    /// A study cannot be opened or continued as asked (locked, damaged, changed inputs).
    #[error("study {dir}: {msg}")]
    Study {
        /// The study directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        msg: String,
    },
    /// A merge method could not merge one tensor.
    #[error("merging tensor {tensor}: {msg}")]
    Merge {
        /// The output tensor name.
        tensor: String,
        /// What went wrong.
        msg: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// A checkpoint error at `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// A config error in `path`.
    pub fn config(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// A model error about `what`.
    pub fn model(what: impl Into<String>, msg: impl std::fmt::Display) -> Self {
        Error::Model {
            what: what.into(),
            msg: msg.to_string(),
        }
    }

    /// A tokenizer error for the file at `path`.
    pub fn tokenizer(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        Error::Tokenizer {
            path: path.into(),
            msg: msg.to_string(),
        }
    }

    /// A study error about the study directory `dir`.
    pub fn study(dir: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Study {
            dir: dir.into(),
            msg: msg.into(),
        }
    }

    /// A merge error for output tensor `tensor`.
    pub fn merge(tensor: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Merge {
            tensor: tensor.into(),
            msg: msg.into(),
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
