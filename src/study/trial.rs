//! One trial of a study: an immutable record with an explicit state (optuna's `FrozenTrial`).

use std::fmt;

/// The state of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialState {
    /// Asked and being evaluated (or interrupted while it was: a resumed study re-runs it).
    Running,
    /// Scored on every example.
    Complete,
    /// Could not be scored; `error` says why.
    Failed,
    /// Stopped early by successive halving: its metrics are those of the examples scored
    /// up to the rung it was pruned at.
    Pruned,
}

impl TrialState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Failed => "failed",
            TrialState::Pruned => "pruned",
        }
    }

    /// Parses a stored spelling; anything else is `None` (the storage turns it into an
    /// error naming the trial, never a default).
    pub fn parse(s: &str) -> Option<TrialState> {
        match s {
            "running" => Some(TrialState::Running),
            "complete" => Some(TrialState::Complete),
            "failed" => Some(TrialState::Failed),
            "pruned" => Some(TrialState::Pruned),
            _ => None,
        }
    }

    /// Whether the trial is over (complete, failed or pruned).
    pub fn is_finished(self) -> bool {
        self != TrialState::Running
    }
}

impl fmt::Display for TrialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metric name → value, as JSON (harness metrics are numbers).
pub type MetricMap = serde_json::Map<String, serde_json::Value>;

/// One stored trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Assigned by the storage: monotonic within a study, never reused.
    pub id: u64,
    /// Running, complete or failed.
    pub state: TrialState,
    /// The genotype the searcher proposed.
    pub genotype: Vec<f64>,
    /// The decoded recipe (mergekit YAML).
    pub recipe: String,
    /// Every suite metric on the search split (complete trials; pruned ones: on the examples
    /// scored).
    pub metrics: Option<MetricMap>,
    /// Objective values in metric units, in declared order (complete trials).
    pub objectives: Option<Vec<f64>>,
    /// The minimized weighted sum of objectives (complete trials).
    pub scalar: Option<f64>,
    /// Whether every constraint holds (complete trials).
    pub feasible: Option<bool>,
    /// Why the trial failed.
    pub error: Option<String>,
    /// Hypervolume of the study's feasible Pareto front once this trial finished.
    pub hypervolume: Option<f64>,
    /// Metrics on the held-out split (final validation).
    pub heldout: Option<MetricMap>,
    /// Seed of random merge masks.
    pub seed: u64,
    /// Unix time the trial (last) started.
    pub started_at: f64,
    /// Seconds of planning plus lazy merging and scoring.
    pub seconds: Option<f64>,
    /// The rungs reached under successive halving, in order (empty without a pruner).
    pub rungs: Vec<Rung>,
}

/// A rung a trial reached under successive halving: what its examples scored so far gave
/// (optuna's intermediate value at a step).
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// 0-based rung.
    pub rung: usize,
    /// Search-split examples scored by the end of this rung, over all harnesses.
    pub examples: usize,
    /// The suite's metrics on those examples.
    pub metrics: MetricMap,
    /// Their scalar (the study's minimized weighted sum).
    pub scalar: f64,
    /// Their total constraint violation (0 = feasible).
    pub violation: f64,
    /// Whether the trial went on to the next rung (false where it was pruned, and at the
    /// last rung).
    pub promoted: bool,
}

impl Trial {
    /// A trial just asked: running, nothing scored yet, started now.
    pub fn running(id: u64, genotype: Vec<f64>, recipe: String, seed: u64) -> Self {
        Self {
            id,
            state: TrialState::Running,
            genotype,
            recipe,
            metrics: None,
            objectives: None,
            scalar: None,
            feasible: None,
            error: None,
            hypervolume: None,
            heldout: None,
            seed,
            started_at: unix_now(),
            seconds: None,
            rungs: Vec::new(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
