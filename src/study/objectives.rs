//! Objectives and constraints: from suite metrics to minimized objective vectors, the
//! scalar view, feasibility, the Pareto front and its hypervolume.

use std::path::Path;

use mergesearch_evals::{Direction, ResolvedHarness};
use mergesearch_searchers::{pareto, Bounds, Problem, Sense};

use super::config::StudyConfig;
use super::trial::{MetricMap, Trial, TrialState};
use crate::error::{Error, Result};

/// One resolved objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// Full metric name.
    pub metric: String,
    /// Direction.
    pub direction: Direction,
    /// Weight in the scalar view.
    pub weight: f64,
}

/// One resolved constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// Full metric name.
    pub metric: String,
    /// Lowest acceptable value.
    pub min: Option<f64>,
    /// Highest acceptable value.
    pub max: Option<f64>,
}

/// The objectives of a study, checked against the suite's metrics.
#[derive(Debug, Clone)]
pub struct Objectives {
    /// In declared order.
    pub objectives: Vec<Objective>,
    /// Feasibility conditions.
    pub constraints: Vec<Constraint>,
    /// Hypervolume reference point in objective units, if declared.
    pub reference: Option<Vec<f64>>,
}

/// A trial's objectives.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// Objective values in metric units.
    pub values: Vec<f64>,
    /// Minimized weighted sum.
    pub scalar: f64,
    /// Total constraint violation (0 = feasible).
    pub violation: f64,
    /// Violation of each constraint, in declared order (each ≥ 0).
    pub violations: Vec<f64>,
}

impl Objectives {
    /// Resolves the study's objectives and constraints; every metric must be one the suite
    /// produces (command harnesses may produce any metric under their prefix).
    pub fn new(cfg: &StudyConfig, harnesses: &[ResolvedHarness], file: &Path) -> Result<Self> {
        let known: Vec<(String, Direction)> =
            harnesses.iter().flat_map(|h| h.metric_names()).collect();
        let lookup = |field: String, metric: &str| -> Result<Option<Direction>> {
            if let Some((_, d)) = known.iter().find(|(n, _)| n == metric) {
                return Ok(Some(*d));
            }
            let open = harnesses
                .iter()
                .any(|h| h.open_ended() && metric.starts_with(&format!("{}/", h.name())));
            if open {
                return Ok(None);
            }
            let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
            Err(Error::config(
                file,
                format!(
                    "{field}: unknown metric `{metric}`; the suite {} produces: {}",
                    cfg.evals.display(),
                    names.join(", ")
                ),
            ))
        };
        let mut objectives = Vec::new();
        for (i, o) in cfg.objectives.iter().enumerate() {
            let own = lookup(format!("objectives[{i}].metric"), &o.metric)?;
            objectives.push(Objective {
                metric: o.metric.clone(),
                direction: o.direction.or(own).unwrap_or(Direction::Maximize),
                weight: o.weight,
            });
        }
        let mut constraints = Vec::new();
        for (i, c) in cfg.constraints.iter().enumerate() {
            lookup(format!("constraints[{i}].metric"), &c.metric)?;
            constraints.push(Constraint {
                metric: c.metric.clone(),
                min: c.min,
                max: c.max,
            });
        }
        Ok(Self {
            objectives,
            constraints,
            reference: cfg.reference_point.clone(),
        })
    }

    /// Objective names.
    pub fn names(&self) -> Vec<String> {
        self.objectives.iter().map(|o| o.metric.clone()).collect()
    }

    /// Objectives of a scored candidate. A missing or non-finite metric is an error (the
    /// trial fails rather than polluting the front).
    pub fn evaluate(&self, metrics: &MetricMap) -> Result<Evaluated> {
        let get = |name: &str| -> Result<f64> {
            let v = metrics.get(name).and_then(|v| v.as_f64());
            match v {
                Some(x) if x.is_finite() => Ok(x),
                Some(x) => Err(Error::model("candidate", format!("metric `{name}` is {x}"))),
                None => Err(Error::model(
                    "candidate",
                    format!("metric `{name}` is missing or not a number"),
                )),
            }
        };
        let values = self
            .objectives
            .iter()
            .map(|o| get(&o.metric))
            .collect::<Result<Vec<f64>>>()?;
        let scalar = self
            .objectives
            .iter()
            .zip(&values)
            .map(|(o, v)| o.weight * self.minimized(o, *v))
            .sum();
        let mut violations = Vec::with_capacity(self.constraints.len());
        for c in &self.constraints {
            let v = get(&c.metric)?;
            let below = c.min.map_or(0.0, |lo| (lo - v).max(0.0));
            let above = c.max.map_or(0.0, |hi| (v - hi).max(0.0));
            violations.push(below + above);
        }
        Ok(Evaluated {
            values,
            scalar,
            violation: violations.iter().sum(),
            violations,
        })
    }

    /// The problem a searcher solves over `bounds`: objective directions and weights, the
    /// reference point (if declared) and one violation per constraint.
    pub fn problem(&self, bounds: Bounds) -> Result<Problem> {
        let senses = self
            .objectives
            .iter()
            .map(|o| match o.direction {
                Direction::Maximize => Sense::Maximize,
                Direction::Minimize => Sense::Minimize,
            })
            .collect();
        let weights = self.objectives.iter().map(|o| o.weight).collect();
        Problem::new(
            bounds,
            senses,
            weights,
            self.reference.clone(),
            self.constraints.len(),
        )
        .map_err(|e| Error::model("search problem", e))
    }

    fn minimized(&self, o: &Objective, v: f64) -> f64 {
        match o.direction {
            Direction::Maximize => -v,
            Direction::Minimize => v,
        }
    }

    /// Objective values as minimized coordinates.
    pub fn to_minimized(&self, values: &[f64]) -> Vec<f64> {
        self.objectives
            .iter()
            .zip(values)
            .map(|(o, v)| self.minimized(o, *v))
            .collect()
    }

    /// The feasible complete trials with their minimized objective vectors.
    fn candidates<'a>(&self, trials: &'a [Trial]) -> Vec<(&'a Trial, Vec<f64>)> {
        trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.feasible == Some(true))
            .filter_map(|t| t.objectives.as_ref().map(|o| (t, self.to_minimized(o))))
            .collect()
    }

    /// Ids of the feasible Pareto front, in id order.
    pub fn front(&self, trials: &[Trial]) -> Vec<u64> {
        let c = self.candidates(trials);
        let points: Vec<Vec<f64>> = c.iter().map(|(_, p)| p.clone()).collect();
        let mut ids: Vec<u64> = pareto::pareto_front(&points)
            .into_iter()
            .map(|i| c[i].0.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// A reference point (objective units) for a study that declares none: the first
    /// feasible trial, worsened by 10% of max(1, |value|) in every objective, so later trials
    /// that improve on it in every objective add volume. `None` before any feasible trial.
    pub fn derive_reference(&self, trials: &[Trial]) -> Option<Vec<f64>> {
        let (_, first) = self.candidates(trials).into_iter().next()?;
        let worse = pareto::reference_point(&[first], 0.1);
        // Back from minimized coordinates to objective units (negation is its own inverse).
        Some(self.to_minimized(&worse))
    }

    /// The reference point in minimized coordinates: the declared (or derived) one, else
    /// derived from these trials.
    pub fn reference_minimized(&self, trials: &[Trial]) -> Option<Vec<f64>> {
        match &self.reference {
            Some(r) => Some(self.to_minimized(r)),
            None => self.derive_reference(trials).map(|r| self.to_minimized(&r)),
        }
    }

    /// Hypervolume of the feasible trials against the reference point (0 without any).
    pub fn hypervolume(&self, trials: &[Trial]) -> f64 {
        let Some(r) = self.reference_minimized(trials) else {
            return 0.0;
        };
        let points: Vec<Vec<f64>> = self
            .candidates(trials)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        pareto::hypervolume(&points, &r)
    }
}

impl Objectives {
    /// The minimized objective vector of a feasible complete trial (`None` otherwise): what
    /// the Pareto front and the hypervolume are computed over.
    pub fn point(&self, t: &Trial) -> Option<Vec<f64>> {
        (t.state == TrialState::Complete && t.feasible == Some(true))
            .then(|| t.objectives.as_ref().map(|o| self.to_minimized(o)))
            .flatten()
    }
}
