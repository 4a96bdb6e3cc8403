//! What the Bayesian searchers remember: every told trial in unit-cube coordinates, the
//! pending ones, and the initial design (a scrambled Sobol sequence).
//!
//! - **Told trials** keep their minimized objectives (`None` for a failed, non-finite or
//!   malformed outcome) and their constraint violations (clamped at 0).
//! - **Failed trials** are imputed as the worst observed target when a model is fitted
//!   ([`Archive::targets`]): the region around a crash looks bad, so the search moves away
//!   from it, without inventing a value outside the observed range (the rule of Optuna's
//!   `GPSampler`, and of SMAC's imputation of crashed runs).
//! - **Initial design**: the first `n_init` asks (and every ask until two trials are scored)
//!   are points of a scrambled Sobol sequence; a trust-region restart starts a new design
//!   further along the same sequence.

use serde::{Deserialize, Serialize};

use crate::tickets::Tickets;
use crate::{qmc, Outcome, Problem, SearchError};

/// A told trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Observation {
    /// The point, in unit-cube coordinates.
    pub u: Vec<f64>,
    /// Minimized objectives; `None` if the trial failed (or its outcome was unusable).
    pub objectives: Option<Vec<f64>>,
    /// Constraint violations, `>= 0` (empty when failed).
    pub violations: Vec<f64>,
}

impl Observation {
    /// Scored with every constraint satisfied.
    pub fn feasible(&self) -> bool {
        self.objectives.is_some() && self.violations.iter().all(|v| *v <= 0.0)
    }
}

/// Observations, pending trials and the initial design (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Archive {
    /// Told trials, in tell order.
    pub observed: Vec<Observation>,
    /// Pending trials with their unit-cube points.
    pub tickets: Tickets<Vec<f64>>,
    /// Points handed out so far.
    pub asked: u64,
    /// Scramble seed of the design's Sobol sequence.
    sobol_seed: u32,
    /// Next index into the Sobol sequence.
    sobol_next: u64,
    /// Asks below this count are design points.
    design_until: u64,
    /// Observations before this index belong to an abandoned trust region.
    pub epoch_start: usize,
    /// Dimension of the box.
    dim: usize,
}

impl Archive {
    /// An empty archive over `[0,1]^dim` whose first `n_init` asks are design points.
    pub fn new(dim: usize, sobol_seed: u32, n_init: usize) -> Self {
        Self {
            dim,
            observed: Vec::new(),
            tickets: Tickets::default(),
            asked: 0,
            sobol_seed,
            sobol_next: 0,
            design_until: n_init as u64,
            epoch_start: 0,
        }
    }

    /// Observations of the current epoch.
    pub fn current(&self) -> &[Observation] {
        &self.observed[self.epoch_start.min(self.observed.len())..]
    }

    /// Whether the next ask is a design point: inside the design, or too few scored
    /// observations for a model.
    pub fn in_design(&self) -> bool {
        let scored = self
            .current()
            .iter()
            .filter(|o| o.objectives.is_some())
            .count();
        self.asked < self.design_until || scored < 2
    }

    /// The next design point (unit cube).
    pub fn next_design(&mut self) -> Vec<f64> {
        let u = qmc::sobol_point(self.sobol_next, self.dim, self.sobol_seed);
        self.sobol_next += 1;
        u
    }

    /// Starts a new epoch: later models see only later observations, and the next `n_init`
    /// asks are design points (a trust-region restart).
    pub fn restart(&mut self, n_init: usize) {
        self.epoch_start = self.observed.len();
        self.design_until = self.asked + n_init as u64;
    }

    /// The point an ask gets without a model: the start point `x0` (taken) first, then the
    /// design while it lasts; `None` when the model should propose.
    pub fn scheduled(&mut self, x0: &mut Option<Vec<f64>>) -> Option<Vec<f64>> {
        x0.take()
            .or_else(|| self.in_design().then(|| self.next_design()))
    }

    /// Records the unit-cube point `u` handed to `trial` (after `tickets.check_ask`) and
    /// returns it in `problem`'s box.
    pub fn hand_out(&mut self, problem: &Problem, trial: u64, u: Vec<f64>) -> Vec<f64> {
        self.asked += 1;
        let x = super::single::to_box(problem, &u);
        self.tickets.ask(trial, u);
        x
    }

    /// Hands the enqueued point `x` (in `problem`'s box) to `trial` like a design point: it
    /// takes a slot of the initial design ([`crate::Searcher::enqueue`]).
    pub fn enqueue(&mut self, problem: &Problem, trial: u64, x: &[f64]) -> Result<(), SearchError> {
        self.tickets.check_ask(trial)?;
        crate::searcher::check_enqueued(&problem.bounds, x)?;
        self.hand_out(problem, trial, super::single::to_unit(problem, x));
        Ok(())
    }

    /// Records `trial`'s outcome; returns the new observation.
    pub fn tell(
        &mut self,
        problem: &Problem,
        trial: u64,
        outcome: &Outcome,
    ) -> Result<&Observation, SearchError> {
        self.tickets.check_tell(trial)?;
        let u = self
            .tickets
            .tell(trial)
            .ok_or(SearchError::UnknownTrial(trial))?;
        let usable = problem.penalized_scalar(outcome).is_some();
        let obs = match outcome {
            Outcome::Scored {
                objectives,
                violations,
            } if usable => Observation {
                u,
                objectives: Some(problem.minimized(objectives)),
                violations: violations.iter().map(|v| v.max(0.0)).collect(),
            },
            _ => Observation {
                u,
                objectives: None,
                violations: Vec::new(),
            },
        };
        self.observed.push(obs);
        Ok(self.observed.last().expect("just pushed"))
    }

    /// Unit-cube points of the pending trials, ascending by id.
    pub fn pending_points(&self) -> Vec<Vec<f64>> {
        self.tickets.payloads()
    }

    /// The current epoch's points and targets `f(minimized objectives)`, failed trials
    /// imputed as the worst (largest) target (module docs); empty if nothing is scored.
    pub fn targets(&self, f: impl Fn(&[f64]) -> f64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let obs = self.current();
        let vals: Vec<Option<f64>> = obs
            .iter()
            .map(|o| {
                o.objectives
                    .as_ref()
                    .map(|v| f(v))
                    .filter(|v| v.is_finite())
            })
            .collect();
        let Some(worst) = vals.iter().flatten().copied().reduce(f64::max) else {
            return (Vec::new(), Vec::new());
        };
        obs.iter()
            .zip(vals)
            .map(|(o, v)| (o.u.clone(), v.unwrap_or(worst)))
            .unzip()
    }

    /// The current epoch's scored points and their violations of constraint `c`.
    pub fn constraint(&self, c: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        self.current()
            .iter()
            .filter(|o| o.objectives.is_some())
            .map(|o| (o.u.clone(), o.violations[c]))
            .unzip()
    }
}
