//! Scoring an eval suite on a target: a checkpoint directory, or a merge config merged lazily.

use std::path::{Path, PathBuf};

use mergesearch_evals::{CausalLm, Metrics, ResolvedHarness, Suite, TextTokenizer};

use super::{HfTokenizer, LlamaLm};
use crate::candidate::LazyCandidate;
use crate::error::{Error, Result};
use crate::merge::{self, MergeOptions, Plan};

/// What `mergesearch eval` scores.
#[derive(Debug)]
pub enum EvalTarget {
    /// An HF checkpoint directory.
    Dir(PathBuf),
    /// A merge config: merged lazily for model harnesses, to a temporary directory only if a
    /// command harness needs files.
    Merge {
        /// The YAML file (labels errors, is shown in reports).
        path: PathBuf,
        /// The validated plan (boxed: it is much larger than a path).
        plan: Box<Plan>,
        /// Seed of random masks.
        opts: MergeOptions,
    },
}

impl EvalTarget {
    /// A directory is a checkpoint; a file is a merge config (planned now, so bad configs
    /// fail before any data is scored).
    pub fn open(path: &Path, opts: MergeOptions) -> Result<Self> {
        if path.is_dir() {
            Ok(EvalTarget::Dir(path.to_path_buf()))
        } else {
            Ok(EvalTarget::Merge {
                path: path.to_path_buf(),
                plan: Box::new(Plan::from_file(path)?),
                opts,
            })
        }
    }

    /// Warnings the plan produced (none for a directory).
    pub fn warnings(&self) -> &[String] {
        match self {
            EvalTarget::Dir(_) => &[],
            EvalTarget::Merge { plan, .. } => &plan.warnings,
        }
    }

    /// Scores every harness of `harnesses` and returns their metrics, each prefixed with its
    /// harness name (`perplexity/nll`).
    pub fn evaluate(self, harnesses: &[ResolvedHarness]) -> Result<Metrics> {
        self.load(harnesses)?.evaluate(harnesses)
    }

    /// Builds what `harnesses` need: the model (for model harnesses) and a directory (for
    /// command harnesses; a merge is written out only then).
    pub fn load(self, harnesses: &[ResolvedHarness]) -> Result<LoadedTarget> {
        let needs_model = harnesses
            .iter()
            .any(|h| matches!(h, ResolvedHarness::Model(_)));
        let needs_dir = harnesses
            .iter()
            .any(|h| matches!(h, ResolvedHarness::Command(_)));
        let mut tmp = None;
        let (dir, model): (Option<PathBuf>, Option<(LlamaLm, HfTokenizer)>) = match self {
            EvalTarget::Dir(d) => {
                let m = if needs_model {
                    Some((LlamaLm::from_dir(&d)?, HfTokenizer::from_dir(&d)?))
                } else {
                    None
                };
                (Some(d), m)
            }
            EvalTarget::Merge { plan, opts, .. } => {
                let dir = if needs_dir {
                    // Removed on drop, on every path out of here (errors included).
                    let t = merge_tmp_dir()?;
                    let out = t.path().join("merged");
                    merge::run(&plan, &out, &opts, u64::MAX, |_, _, _| {})?;
                    tmp = Some(t);
                    Some(out)
                } else {
                    None
                };
                let m = if needs_model {
                    let tok = HfTokenizer::from_dir(&plan.models[plan.tokenizer_model].path)?;
                    Some((
                        LlamaLm::from_candidate(LazyCandidate::new(*plan, opts))?,
                        tok,
                    ))
                } else {
                    None
                };
                (dir, m)
            }
        };
        if let Some((lm, tok)) = &model {
            check_vocab(lm, tok)?;
        }
        Ok(LoadedTarget {
            dir,
            model,
            _tmp: tmp,
        })
    }
}

/// A target ready to be scored: its model and/or directory, as its harnesses need.
pub struct LoadedTarget {
    dir: Option<PathBuf>,
    model: Option<(LlamaLm, HfTokenizer)>,
    /// The temporary directory of a merge written out for command harnesses.
    _tmp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for LoadedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedTarget")
            .field("dir", &self.dir)
            .field("model", &self.model.is_some())
            .finish()
    }
}

impl LoadedTarget {
    /// The model and its tokenizer, when a model harness was among those it was loaded for.
    pub fn model(&self) -> Option<(&dyn CausalLm, &dyn TextTokenizer)> {
        self.model
            .as_ref()
            .map(|(lm, tok)| (lm as &dyn CausalLm, tok as &dyn TextTokenizer))
    }

    /// Scores every harness of `harnesses` (those it was loaded for) and returns their
    /// metrics, each prefixed with its harness name.
    pub fn evaluate(&self, harnesses: &[ResolvedHarness]) -> Result<Metrics> {
        let mut out = Metrics::new();
        for h in harnesses {
            let metrics = match (h, &self.model, &self.dir) {
                (ResolvedHarness::Model(h), Some((lm, tok)), _) => h.evaluate(lm, tok)?,
                (ResolvedHarness::Command(c), _, Some(d)) => c.evaluate_dir(d)?,
                _ => {
                    unreachable!("the model and the directory are built when a harness needs them")
                }
            };
            out.extend_prefixed(h.name(), metrics);
        }
        Ok(out)
    }
}

/// Prefix of the temporary directories a merge target is written to for command harnesses:
/// `mergesearch-eval-PID-XXXXXX` in the system temporary directory.
const TMP_PREFIX: &str = "mergesearch-eval-";

/// A fresh temporary directory for a merged checkpoint (removed when dropped). The first call
/// of a process removes those of processes that no longer exist (a killed `search` or `eval`
/// cannot remove its own).
fn merge_tmp_dir() -> Result<tempfile::TempDir> {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let root = std::env::temp_dir();
    SWEPT.call_once(|| sweep_merge_tmp_dirs(&root));
    tempfile::Builder::new()
        .prefix(&format!("{TMP_PREFIX}{}-", std::process::id()))
        .tempdir_in(&root)
        .map_err(|e| Error::io(&root, e))
}

/// Removes `root/mergesearch-eval-PID-*` directories whose process is gone (best effort).
fn sweep_merge_tmp_dirs(root: &Path) {
    let dead = crate::stale::dead_entries(root, |n| {
        n.strip_prefix(TMP_PREFIX)
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| crate::stale::parse_pid(pid))
    });
    for e in dead {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A tokenizer whose ids reach past the model's embedding rows cannot be scored: fail before
/// any data is read rather than on the first out-of-range token. (A model may have more rows
/// than the tokenizer has tokens; HF checkpoints often pad the vocabulary.)
fn check_vocab(lm: &LlamaLm, tok: &HfTokenizer) -> Result<()> {
    if tok.vocab_size() > lm.vocab_size() {
        return Err(Error::tokenizer(
            tok.path(),
            format!(
                "the tokenizer has {} tokens but the model's vocab_size is {}: they do not belong together",
                tok.vocab_size(),
                lm.vocab_size()
            ),
        ));
    }
    Ok(())
}

/// Loads `suite`, resolves it for `split` and scores `target` on it.
pub fn evaluate_suite(
    target: EvalTarget,
    suite: &Path,
    split: mergesearch_evals::Split,
) -> Result<Metrics> {
    let harnesses = Suite::load(suite)?.resolve(split)?;
    target.evaluate(&harnesses)
}
