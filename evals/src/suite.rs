//! Eval-suite YAML files: a list of harnesses, each with a search and a held-out data split.
//!
//! ```yaml
//! harnesses:
//!   - type: perplexity
//!     data: {search: data/wiki.search.jsonl, heldout: data/wiki.heldout.jsonl}
//!     limit: 64
//!     seed: 1
//!   - type: exact_match
//!     name: arith
//!     data: {search: data/arith.search.jsonl, heldout: data/arith.heldout.jsonl}
//!     max_new_tokens: 8
//!     regex: '(-?\d+)'
//!     stop: ["\n"]                  # optional: generation ends at these strings
//!   - type: command
//!     command: python score.py {model_dir} --split {split}
//!     timeout_s: 600
//!     directions: {loss: minimize}
//! ```
//!
//! The raw structs mirror the file and reject unknown fields; [`Suite::resolve`] turns them
//! into harnesses for one split, with data paths relative to the suite file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::data::DataSpec;
use crate::{
    CommandHarness, Direction, Entropy, EvalError, ExactMatch, Harness, MultipleChoice, Perplexity,
};

/// Which data split to evaluate on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The split the search optimizes.
    Search,
    /// The split the final Pareto set is re-scored on.
    Heldout,
}

/// The two data files of one harness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSplits {
    /// JSONL file the search is scored on.
    pub search: PathBuf,
    /// JSONL file for the held-out re-scoring.
    pub heldout: PathBuf,
}

/// One harness entry as written in the suite file.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RawHarness {
    /// See [`Perplexity`].
    Perplexity {
        /// Metric prefix (default: the type).
        name: Option<String>,
        /// Data files.
        data: RawSplits,
        /// Seeded subsample size.
        limit: Option<usize>,
        /// Subsample seed (default 0).
        seed: Option<u64>,
    },
    /// See [`MultipleChoice`].
    MultipleChoice {
        /// Metric prefix (default: the type).
        name: Option<String>,
        /// Data files.
        data: RawSplits,
        /// Seeded subsample size.
        limit: Option<usize>,
        /// Subsample seed (default 0).
        seed: Option<u64>,
    },
    /// See [`ExactMatch`].
    ExactMatch {
        /// Metric prefix (default: the type).
        name: Option<String>,
        /// Data files.
        data: RawSplits,
        /// Seeded subsample size.
        limit: Option<usize>,
        /// Subsample seed (default 0).
        seed: Option<u64>,
        /// Most tokens generated per prompt.
        max_new_tokens: usize,
        /// Pattern extracting the answer (first capture group, or the whole match).
        regex: Option<String>,
        /// Strings that end a generation (lm-eval's `until`).
        #[serde(default)]
        stop: Vec<String>,
    },
    /// See [`Entropy`].
    Entropy {
        /// Metric prefix (default: the type).
        name: Option<String>,
        /// Data files.
        data: RawSplits,
        /// Seeded subsample size.
        limit: Option<usize>,
        /// Subsample seed (default 0).
        seed: Option<u64>,
    },
    /// See [`CommandHarness`].
    Command {
        /// Metric prefix (default: the type).
        name: Option<String>,
        /// Command template with `{model_dir}` placeholders (and `{split}`, replaced by
        /// `search` or `heldout`), run with `sh -c`.
        command: String,
        /// Seconds before the command is killed (default 3600).
        timeout_s: Option<f64>,
        /// Direction of each metric (default maximize).
        #[serde(default)]
        directions: BTreeMap<String, Direction>,
    },
}

impl RawHarness {
    /// The `limit` key, for the harnesses that read data.
    pub fn limit(&self) -> Option<usize> {
        match self {
            RawHarness::Perplexity { limit, .. }
            | RawHarness::MultipleChoice { limit, .. }
            | RawHarness::ExactMatch { limit, .. }
            | RawHarness::Entropy { limit, .. } => *limit,
            RawHarness::Command { .. } => None,
        }
    }
}

/// A suite file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuite {
    /// The harnesses, in order.
    pub harnesses: Vec<RawHarness>,
}

/// A harness resolved for one split: either it scores a loaded model, or it runs a command
/// on a model directory.
pub enum ResolvedHarness {
    /// A harness that needs a [`crate::CausalLm`].
    Model(Box<dyn Harness>),
    /// An external command on a model directory.
    Command(CommandHarness),
}

impl ResolvedHarness {
    /// The full names (`PREFIX/METRIC`) and directions of the metrics this harness returns;
    /// for a command harness only those named in its `directions` (it may print others).
    pub fn metric_names(&self) -> Vec<(String, Direction)> {
        match self {
            Self::Model(h) => h
                .metric_names()
                .iter()
                .map(|(n, d)| (format!("{}/{n}", h.name()), *d))
                .collect(),
            Self::Command(c) => c
                .directions()
                .iter()
                .map(|(n, d)| (format!("{}/{n}", c.name()), *d))
                .collect(),
        }
    }

    /// Whether metrics beyond [`ResolvedHarness::metric_names`] may appear (command harnesses
    /// report whatever their tool prints).
    pub fn open_ended(&self) -> bool {
        matches!(self, Self::Command(_))
    }

    /// The harness's name (metric prefix).
    pub fn name(&self) -> &str {
        match self {
            Self::Model(h) => h.name(),
            Self::Command(c) => c.name(),
        }
    }
}

/// A parsed suite file, ready to be resolved for a split.
#[derive(Debug, Clone)]
pub struct Suite {
    path: PathBuf,
    raw: RawSuite,
}

/// Default command timeout in seconds.
const DEFAULT_TIMEOUT_S: f64 = 3600.0;

impl Suite {
    /// Reads and parses the suite file at `path`.
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses suite `text`; `path` names the file in errors and anchors relative data paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, EvalError> {
        let raw: RawSuite = serde_saphyr::from_str(text).map_err(|e| EvalError::Suite {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            raw,
        })
    }

    /// The raw entries as written.
    pub fn raw(&self) -> &RawSuite {
        &self.raw
    }

    /// Builds the harnesses for `split`, loading their data (and failing on bad data now,
    /// not in the middle of a search).
    pub fn resolve(&self, split: Split) -> Result<Vec<ResolvedHarness>, EvalError> {
        let spec = |data: &RawSplits, limit: &Option<usize>, seed: &Option<u64>| {
            self.data_spec(data, *limit, *seed, split)
        };
        let named = |name: &Option<String>, default: &str| {
            name.clone().unwrap_or_else(|| default.to_string())
        };
        let mut out = Vec::with_capacity(self.raw.harnesses.len());
        for (i, raw) in self.raw.harnesses.iter().enumerate() {
            if raw.limit() == Some(0) {
                return Err(self.error(format!(
                    "harnesses[{i}].limit is 0: a harness needs at least one example (omit `limit` to use the whole file)"
                )));
            }
            let resolved = match raw {
                RawHarness::Perplexity {
                    name,
                    data,
                    limit,
                    seed,
                } => ResolvedHarness::Model(Box::new(Perplexity::from_jsonl(
                    named(name, "perplexity"),
                    &spec(data, limit, seed),
                )?)),
                RawHarness::MultipleChoice {
                    name,
                    data,
                    limit,
                    seed,
                } => ResolvedHarness::Model(Box::new(MultipleChoice::from_jsonl(
                    named(name, "multiple_choice"),
                    &spec(data, limit, seed),
                )?)),
                RawHarness::ExactMatch {
                    name,
                    data,
                    limit,
                    seed,
                    max_new_tokens,
                    regex,
                    stop,
                } => {
                    if stop.iter().any(String::is_empty) {
                        return Err(self.error(format!(
                            "harnesses[{i}].stop: an empty string would stop every generation at once"
                        )));
                    }
                    let mut h = ExactMatch::from_jsonl(
                        named(name, "exact_match"),
                        &spec(data, limit, seed),
                        *max_new_tokens,
                    )?
                    .with_stop(stop.clone());
                    if let Some(pattern) = regex {
                        let re = regex::Regex::new(pattern)
                            .map_err(|e| self.error(format!("harnesses[{i}].regex: {e}")))?;
                        h = h.with_regex(re);
                    }
                    ResolvedHarness::Model(Box::new(h))
                }
                RawHarness::Entropy {
                    name,
                    data,
                    limit,
                    seed,
                } => ResolvedHarness::Model(Box::new(Entropy::from_jsonl(
                    named(name, "entropy"),
                    &spec(data, limit, seed),
                )?)),
                RawHarness::Command {
                    name,
                    command,
                    timeout_s,
                    directions,
                } => {
                    let secs = timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
                    if !(secs.is_finite() && secs > 0.0) {
                        return Err(self.error(format!(
                            "harnesses[{i}].timeout_s must be a positive number, got {secs}"
                        )));
                    }
                    // `{split}` lets a tool score the held-out split differently.
                    let split_name = match split {
                        Split::Search => "search",
                        Split::Heldout => "heldout",
                    };
                    ResolvedHarness::Command(
                        CommandHarness::new(
                            named(name, "command"),
                            command.replace("{split}", split_name),
                            Duration::from_secs_f64(secs),
                        )
                        .with_directions(directions.clone()),
                    )
                }
            };
            out.push(resolved);
        }
        Ok(out)
    }

    /// The data of every `entropy` harness on `split`, by harness name, exactly as the
    /// harness reads it (path relative to the suite file, `limit` and `seed` applied by
    /// [`DataSpec::load`]): the unlabeled prompts a gradient searcher (AdaMerging) trains on.
    pub fn entropy_data(&self, split: Split) -> Vec<(String, DataSpec)> {
        self.raw
            .harnesses
            .iter()
            .filter_map(|h| match h {
                RawHarness::Entropy {
                    name,
                    data,
                    limit,
                    seed,
                } => Some((
                    name.clone().unwrap_or_else(|| "entropy".to_string()),
                    self.data_spec(data, *limit, *seed, split),
                )),
                _ => None,
            })
            .collect()
    }

    fn data_spec(
        &self,
        data: &RawSplits,
        limit: Option<usize>,
        seed: Option<u64>,
        split: Split,
    ) -> DataSpec {
        let base = self.path.parent().unwrap_or(Path::new(""));
        DataSpec {
            path: base.join(match split {
                Split::Search => &data.search,
                Split::Heldout => &data.heldout,
            }),
            limit,
            seed: seed.unwrap_or(0),
        }
    }

    fn error(&self, message: String) -> EvalError {
        EvalError::Suite {
            path: self.path.clone(),
            message,
        }
    }
}
