//! Where a study lives: the [`Storage`] trait and its backends.
//!
//! Storage is the single source of truth of a study (optuna's `BaseStorage`): its metadata,
//! every trial with an explicit state, and the searcher snapshot. Two rules make resume exact
//! and a killed process harmless:
//!
//! - **Ids come from the storage**: monotonic within a study, never reused, even if rows are
//!   deleted by hand ([`Storage::create_trial`]).
//! - **The snapshot is written in the same transaction as the change it follows**: the new
//!   running trial after an ask, the outcome after a tell ([`Storage::finish_trial`]). So the
//!   searcher state and the trials can never disagree; a trial that was running at a crash is
//!   pending in the restored snapshot and is simply run again under the same id.
//!
//! Anything stored that does not parse is an error naming the study and the trial, never a
//! default. Every backend passes the same conformance suite (`tests/storage.rs`).

pub mod sqlite;

pub use sqlite::SqliteStorage;

use crate::error::Result;

use super::trial::{MetricMap, Rung, Trial};

/// A new trial, as produced once the storage has assigned its id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTrial {
    /// The genotype the searcher proposed for this id.
    pub genotype: Vec<f64>,
    /// The decoded recipe (mergekit YAML).
    pub recipe: String,
    /// Seed of random merge masks.
    pub seed: u64,
    /// The searcher snapshot taken after the ask (stored with the trial, atomically).
    pub snapshot: String,
}

/// The storage of one study (a handle is bound to one study name). Small on purpose: a
/// backend implements these methods and passes the conformance suite.
pub trait Storage: Send {
    /// Where the study is stored (a path or URL), for messages.
    fn location(&self) -> String;

    /// The study's name.
    fn study(&self) -> &str;

    /// Whether the study exists in this storage.
    fn exists(&self) -> Result<bool>;

    /// Creates the study with its metadata and the initial searcher snapshot, atomically;
    /// an error if it already exists.
    fn create_study(&mut self, meta: &[(&str, String)], snapshot: &str) -> Result<()>;

    /// A metadata value of the study.
    fn meta(&self, key: &str) -> Result<Option<String>>;

    /// Sets a metadata value of the study.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;

    /// Creates a running trial: the storage assigns the next id, passes it to `propose` (which
    /// asks the searcher for that id), and commits the trial with the returned snapshot in one
    /// transaction. Nothing is stored when `propose` fails.
    fn create_trial(&mut self, propose: &mut dyn FnMut(u64) -> Result<NewTrial>) -> Result<Trial>;

    /// Marks running trial `id` as started again now (a resumed study re-runs it).
    fn restart_trial(&mut self, id: u64) -> Result<()>;

    /// Stores the outcome of running trial `trial.id` (state, metrics, objectives, error,
    /// timings, hypervolume) and the searcher snapshot taken after its tell, in one
    /// transaction, and drops the per-example scores of its rungs. An error if the trial is
    /// not running (a finished trial is never overwritten).
    fn finish_trial(&mut self, trial: &Trial, snapshot: &str) -> Result<()>;

    /// Stores rung `rung.rung` of running trial `id` (successive halving) with `scores`, the
    /// per-example scores of the examples that rung added (opaque JSON, kept only while the
    /// trial runs, so that a resumed trial does not score them again). An error if the trial
    /// is not running or already has this rung (a rung is never overwritten).
    fn report_rung(&mut self, id: u64, rung: &Rung, scores: &str) -> Result<()>;

    /// The per-example scores stored with each rung of running trial `id`, by rung (empty
    /// for a trial that reported no rung, or once it finished).
    fn rung_scores(&self, id: u64) -> Result<Vec<(usize, String)>>;

    /// Stores the held-out metrics of finished trial `id`.
    fn set_heldout(&mut self, id: u64, metrics: &MetricMap) -> Result<()>;

    /// Every trial, in id order, with its rungs.
    fn trials(&self) -> Result<Vec<Trial>>;

    /// The latest searcher snapshot (`None` before the study exists).
    fn snapshot(&self) -> Result<Option<String>>;
}
