//! JSONL data files and seeded subsampling.
//!
//! Each non-blank line is one JSON object. Errors name the file and the 1-based line, e.g.
//! `data/arith.search.jsonl:17: missing field `answer``.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;

use crate::EvalError;

/// One record of a JSONL file with the line it came from (for later error messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    /// The file the record was read from.
    pub path: PathBuf,
    /// The 1-based line number.
    pub line: usize,
    /// The parsed record.
    pub value: T,
}

impl<T> Record<T> {
    /// An error about this record, naming its file and line.
    pub fn error(&self, message: impl Into<String>) -> EvalError {
        EvalError::Data {
            path: self.path.clone(),
            line: self.line,
            message: message.into(),
        }
    }
}

/// Reads every non-blank line of `path` as a `T`. A UTF-8 byte-order mark at the start of
/// the file (as some Windows editors write) is ignored.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<Record<T>>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|e| EvalError::Data {
            path: path.to_path_buf(),
            line: i + 1,
            message: without_position(&e),
        })?;
        out.push(Record {
            path: path.to_path_buf(),
            line: i + 1,
            value,
        });
    }
    Ok(out)
}

/// serde_json's message without its trailing " at line L column C" (the line is ours).
fn without_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

/// Keeps `limit` items chosen without replacement by a ChaCha8 generator seeded with `seed`,
/// in their original order. `None`, or a limit at least the number of items, keeps them all.
///
/// The same `(items.len(), limit, seed)` always selects the same positions.
pub fn subsample<T>(items: Vec<T>, limit: Option<usize>, seed: u64) -> Vec<T> {
    let Some(limit) = limit else { return items };
    if limit >= items.len() {
        return items;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut keep = vec![false; items.len()];
    for i in rand::seq::index::sample(&mut rng, items.len(), limit) {
        keep[i] = true;
    }
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, k)| k.then_some(item))
        .collect()
}

/// How a harness loads its data: the file, an optional seeded limit.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    /// The JSONL file.
    pub path: PathBuf,
    /// Keep at most this many records (seeded subsample), if set.
    pub limit: Option<usize>,
    /// Seed of the subsample.
    pub seed: u64,
}

impl DataSpec {
    /// The whole file, no limit.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            limit: None,
            seed: 0,
        }
    }

    /// Reads the file and applies the limit. A file without a single record (empty or
    /// blank) is an error naming it: a harness with no examples cannot score anything.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Vec<Record<T>>, EvalError> {
        let records = read_jsonl(&self.path)?;
        if records.is_empty() {
            return Err(EvalError::NoData {
                path: self.path.clone(),
            });
        }
        Ok(subsample(records, self.limit, self.seed))
    }
}
