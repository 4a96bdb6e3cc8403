//! The ask/tell interface every searcher implements, and the box it searches.
//!
//! ## The ticket protocol
//!
//! A study hands each trial an id from its storage and asks the searcher for that trial's
//! point: `ask(trial) → x`. When the trial has been evaluated, it reports `tell(trial,
//! outcome)`. Between the two any number of other trials may be asked and told: workers
//! finish in any order, a crashed study resumes with some trials re-run, ids have gaps where
//! trials were abandoned. So a searcher
//!
//! - keys everything on the trial id, never on the order of calls: a tell fills the slot of
//!   the point that was handed to that id, wherever it sits;
//! - refuses, without changing any state, an id asked twice ([`SearchError::AlreadyAsked`]),
//!   a tell for an id never asked ([`SearchError::UnknownTrial`]) and a second tell
//!   ([`SearchError::AlreadyTold`]), so a driver bug cannot silently corrupt the model;
//! - lists the ids still pending ([`Searcher::pending`]), which a resumed study compares with
//!   its storage;
//! - serializes all of it, so a snapshot taken with trials pending restores to the same
//!   future asks.
//!
//! This is optuna's ask-and-tell interface (`study.ask()` returns a trial carrying its number;
//! `study.tell(trial_or_number, values_or_state)` may come later and out of order, and telling
//! a finished trial again is an error), applied to searchers that are population based in the
//! way of the CyberAgentAILab `cmaes` library: there, `ask()` draws one candidate at a time
//! from the current distribution and `tell()` takes a whole generation of
//! (candidate, value) pairs at once and updates the distribution. Here the searcher itself
//! collects the generation from individual tickets: a population searcher hands out the
//! points of a generation one ticket at a time (sampling the next generation ahead when asked
//! for more), and updates its model once every ticket of the oldest outstanding generation
//! has been told.
//!
//! Outcomes are in the problem's own units and directions; the searcher turns them into what
//! it ranks through its [`Problem`] (the penalized scalar or vector view).

use serde::{Deserialize, Serialize};

use crate::{Problem, SearchError};

/// The search box `[lo, hi]^d`: every searcher proposes points inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Lower bound per coordinate.
    pub lo: Vec<f64>,
    /// Upper bound per coordinate (`hi[i] > lo[i]`).
    pub hi: Vec<f64>,
}

impl Bounds {
    /// A box; fails unless both sides have the same length ≥ 1 and every `lo < hi` (finite).
    pub fn new(lo: Vec<f64>, hi: Vec<f64>) -> Result<Self, SearchError> {
        if lo.is_empty() || lo.len() != hi.len() {
            return Err(SearchError::Bounds(format!(
                "expected two non-empty vectors of equal length, got {} and {}",
                lo.len(),
                hi.len()
            )));
        }
        for (i, (l, h)) in lo.iter().zip(&hi).enumerate() {
            if !(l.is_finite() && h.is_finite() && l < h) {
                return Err(SearchError::Bounds(format!(
                    "coordinate {i}: [{l}, {h}] is not a finite interval with lo < hi"
                )));
            }
        }
        Ok(Self { lo, hi })
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.lo.len()
    }

    /// `hi[i] - lo[i]`.
    pub fn width(&self, i: usize) -> f64 {
        self.hi[i] - self.lo[i]
    }

    /// Whether `x` lies in the box (bounds included).
    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(self.lo.iter().zip(&self.hi))
                .all(|(v, (l, h))| *l <= *v && *v <= *h)
    }

    /// Clips `x` into the box.
    pub fn clip(&self, x: &mut [f64]) {
        for (v, (l, h)) in x.iter_mut().zip(self.lo.iter().zip(&self.hi)) {
            *v = v.clamp(*l, *h);
        }
    }
}

/// What became of the point asked for one trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Objective values in the problem's own units and directions (NOT minimized), and one
    /// violation per constraint (>= 0, 0 = satisfied).
    Scored {
        /// One value per objective of the [`Problem`], in its units and direction.
        objectives: Vec<f64>,
        /// One violation per constraint of the [`Problem`] (`0` = satisfied).
        violations: Vec<f64>,
    },
    /// Could not be scored (crash, NaN, timeout).
    Failed,
}

impl Outcome {
    /// A scored outcome without constraints.
    pub fn scored(objectives: Vec<f64>) -> Self {
        Outcome::Scored {
            objectives,
            violations: Vec::new(),
        }
    }
}

/// An ask/tell optimizer over the box of a [`Problem`], with trial tickets (module docs).
pub trait Searcher {
    /// The problem this searcher was built for.
    fn problem(&self) -> &Problem;

    /// Dimension of the box.
    fn dim(&self) -> usize {
        self.problem().bounds.dim()
    }

    /// Whether it ranks the full objective vector (NSGA-II) rather than the weighted scalar.
    fn multi_objective(&self) -> bool;

    /// Proposes the point for trial `trial` (ids come from the study's storage: unique, but
    /// any order and with gaps). Error if `trial` was asked before.
    fn ask(&mut self, trial: u64) -> Result<Vec<f64>, SearchError>;

    /// Reports trial `trial`'s outcome; tells may come in any order and several trials may be
    /// pending. Error if `trial` was never asked or was already told.
    fn tell(&mut self, trial: u64, outcome: &Outcome) -> Result<(), SearchError>;

    /// Trials asked and not yet told, ascending.
    fn pending(&self) -> Vec<u64>;

    /// Registers trial `trial` as evaluating the given point `x` instead of one the searcher
    /// proposes (optuna's `enqueue_trial`): the trial is pending like an asked one and is
    /// told as usual. What a searcher learns from it: the Bayesian searchers add it to their
    /// data (it takes a slot of the initial design); CMA-ES starts its first generation's mean
    /// at the best point told before that generation is sampled; random search and NSGA-II
    /// only keep the ticket (the study still stores the trial and its front counts it).
    /// Error if `trial` was asked before or `x` is not a point of the box; changes nothing
    /// then.
    fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError>;
}

/// Fails unless `x` is a point of `bounds` (for [`Searcher::enqueue`]).
pub(crate) fn check_enqueued(bounds: &Bounds, x: &[f64]) -> Result<(), SearchError> {
    if bounds.contains(x) {
        Ok(())
    } else {
        Err(SearchError::Config(format!(
            "an enqueued point must lie in the {}-dimensional search box, got {x:?}",
            bounds.dim()
        )))
    }
}
