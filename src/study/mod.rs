//! Studies: the driver loop, its storage, and the files of a study directory.
//!
//! Data flows one way: study file → [`SearchSpace`](crate::space::SearchSpace) and
//! [`Objectives`] → searcher `ask(trial id)` → recipe → lazy candidate → harnesses →
//! [`Storage::finish_trial`] (outcome and searcher snapshot in one transaction) → searcher
//! `tell(trial id)` → [`Observer`]s.
//!
//! Files under a study directory:
//!
//! ```text
//! study.db      the storage (SQLite): study metadata, every trial, the searcher snapshot
//! study.lock    held (flock) by the process running the study
//! study.yaml    the study file as run
//! trials.csv    one row per finished trial, appended as trials finish (pandas-friendly)
//! pareto.csv    the feasible Pareto front, with held-out scores once validated
//! plots/        SVG plots written by `mergesearch report`
//! ```

pub mod baselines;
pub mod config;
pub mod driver;
pub mod enqueue;
pub mod fingerprint;
pub mod front;
pub mod gradient;
pub mod halving;
mod ledger;
pub mod lock;
pub mod objectives;
pub mod observer;
pub mod open;
pub mod storage;
pub mod trial;
pub mod validate;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;

use mergesearch_evals::{ResolvedHarness, Suite};

pub use config::StudyConfig;
pub use driver::RunSummary;
pub use front::{FrontChange, FrontTracker};
pub use gradient::{GradientState, StudySearcher};
pub use lock::StudyLock;
pub use objectives::Objectives;
pub use observer::{Observer, StopReason, TrialEvent};
pub use open::DB_FILE;
pub use storage::{NewTrial, SqliteStorage, Storage};
pub use trial::{unix_now, MetricMap, Rung, Trial, TrialState};
pub use validate::Validated;

use crate::error::Result;
use crate::merge::rank_cache::RankCache;
use crate::space::SearchSpace;

/// A study opened for running (and locked): see [`Study::open`], [`Study::run`],
/// [`Study::validate`].
pub struct Study {
    /// The study file.
    pub config: StudyConfig,
    /// Where the study writes.
    pub dir: PathBuf,
    /// Genotype ↔ recipe.
    pub space: SearchSpace,
    /// Metric → objective mapping.
    pub objectives: Objectives,
    /// The eval suite as validated and fingerprinted when the study was opened.
    suite: Suite,
    harnesses: Vec<ResolvedHarness>,
    storage: Box<dyn Storage>,
    searcher: StudySearcher,
    /// The AdaMerging trainer and its settings, for a gradient study.
    trainer: Option<(
        crate::adamerging::Trainer,
        mergesearch_searchers::AdaMergingConfig,
    )>,
    /// The study's baselines, validated.
    baselines: Vec<baselines::BaselinePlan>,
    /// The genotypes of `enqueue:`, evaluated as the study's first trials.
    enqueued: Vec<Vec<f64>>,
    /// The rungs of successive halving (`pruner:`), if the study prunes.
    schedule: Option<halving::Schedule>,
    ranks: Arc<RankCache>,
    columns: views::Columns,
    _lock: StudyLock,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.config.name)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Study {
    /// Whether the study runs the gradient loop ([`Study::run_gradient`], AdaMerging) rather
    /// than the ask/tell driver ([`Study::run`]).
    pub fn is_gradient(&self) -> bool {
        matches!(self.searcher, StudySearcher::Gradient(_))
    }

    /// The names of the study's baselines, in the study file's order.
    pub fn baseline_names(&self) -> Vec<String> {
        self.baselines.iter().map(|b| b.name.clone()).collect()
    }

    /// The rungs of successive halving, if the study prunes.
    pub fn schedule(&self) -> Option<&halving::Schedule> {
        self.schedule.as_ref()
    }

    /// Search-split examples of one full evaluation, over the model harnesses.
    pub fn search_examples(&self) -> usize {
        self.harnesses
            .iter()
            .map(|h| match h {
                mergesearch_evals::ResolvedHarness::Model(m) => m.examples(),
                mergesearch_evals::ResolvedHarness::Command(_) => 0,
            })
            .sum()
    }

    /// The stored trials, in id order.
    pub fn trials(&self) -> Result<Vec<Trial>> {
        self.storage.trials()
    }

    /// Harnesses whose held-out scores are not independent of the search split: command
    /// harnesses whose command has no `{split}` placeholder run the same thing twice.
    pub fn split_blind_harnesses(&self) -> Vec<String> {
        self.suite
            .raw()
            .harnesses
            .iter()
            .filter_map(|h| match h {
                mergesearch_evals::suite::RawHarness::Command { name, command, .. }
                    if !command.contains("{split}") =>
                {
                    Some(name.clone().unwrap_or_else(|| "command".into()))
                }
                _ => None,
            })
            .collect()
    }
}

/// Opens the storage of the study in `dir` for reading (`report`, `export`): works on a
/// read-only directory. The study's name comes from its `study.yaml`.
pub fn open_read_only(dir: &std::path::Path) -> Result<(StudyConfig, SqliteStorage)> {
    let cfg_path = dir.join("study.yaml");
    let cfg = StudyConfig::load(&cfg_path)?;
    let storage = SqliteStorage::open_read_only(&dir.join(DB_FILE), &cfg.name)?;
    if !storage.exists()? {
        return Err(crate::Error::study(
            dir,
            format!("{DB_FILE} holds no study `{}`", cfg.name),
        ));
    }
    Ok((cfg, storage))
}

/// The best feasible complete trial (lowest scalar).
pub fn best_trial(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.feasible == Some(true))
        .min_by(|a, b| {
            a.scalar
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.scalar.unwrap_or(f64::INFINITY))
        })
}
