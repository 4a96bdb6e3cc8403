//! What a searcher solves: the box, the objectives with their directions and weights, the
//! hypervolume reference point, and the number of constraints.
//!
//! A searcher is told [`Outcome`]s in the problem's own units and directions; the problem
//! turns them into what the searcher ranks:
//!
//! - the **scalar view** ([`Problem::penalized_scalar`]) for single-objective searchers
//!   (random search, CMA-ES): `Σ wᵢ · minimizedᵢ + PENALTY · Σ violations`;
//! - the **vector view** ([`Problem::penalized_vector`]) for multi-objective searchers
//!   (NSGA-II): the minimized objectives, each with `PENALTY · Σ violations` added.
//!
//! Both add the constraint violation as a static penalty (Deb 2000 calls this the simplest
//! constraint handling; with a large enough factor it is an exact penalty): a feasible point
//! is never worse off than an infeasible one of the same objectives, and the search is pulled
//! back to the feasible side.
//!
//! ## References
//!
//! - K. Deb, "An efficient constraint handling method for genetic algorithms", Computer
//!   Methods in Applied Mechanics and Engineering 186:311–338, 2000 (penalty functions and
//!   their weaknesses).

use serde::{Deserialize, Serialize};

use crate::{Bounds, Outcome, SearchError};

/// Added per unit of total constraint violation in the penalized views (what the study driver
/// used to fold in itself; kept at 10 so existing studies rank the same).
pub const PENALTY: f64 = 10.0;

/// Direction of one objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sense {
    /// Smaller is better.
    Minimize,
    /// Larger is better.
    Maximize,
}

/// What a searcher solves: the box, the objectives with their directions and scalar-view
/// weights, the hypervolume reference point, and the number of constraints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The search box; every asked point lies in it.
    pub bounds: Bounds,
    /// One direction per objective (at least one).
    pub senses: Vec<Sense>,
    /// Scalar-view weights, one per objective, finite and `>= 0`.
    pub weights: Vec<f64>,
    /// Hypervolume reference point in objective units (not minimized), one finite value per
    /// objective; `None` = derive one from the data.
    pub reference: Option<Vec<f64>>,
    /// How many constraint violations each [`Outcome::Scored`] carries.
    pub constraints: usize,
}

impl Problem {
    /// A validated problem; errors name the offending field (`senses`, `weights`,
    /// `reference`).
    pub fn new(
        bounds: Bounds,
        senses: Vec<Sense>,
        weights: Vec<f64>,
        reference: Option<Vec<f64>>,
        constraints: usize,
    ) -> Result<Self, SearchError> {
        let m = senses.len();
        if m == 0 {
            return Err(SearchError::Problem(
                "senses: at least one objective is needed".into(),
            ));
        }
        if weights.len() != m {
            return Err(SearchError::Problem(format!(
                "weights: expected one per objective ({m}), got {}",
                weights.len()
            )));
        }
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(SearchError::Problem(format!(
                "weights[{i}]: must be finite and >= 0, got {w}"
            )));
        }
        if let Some(r) = &reference {
            if r.len() != m {
                return Err(SearchError::Problem(format!(
                    "reference: expected one value per objective ({m}), got {}",
                    r.len()
                )));
            }
            if let Some((i, v)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(SearchError::Problem(format!(
                    "reference[{i}]: must be finite, got {v}"
                )));
            }
        }
        Ok(Self {
            bounds,
            senses,
            weights,
            reference,
            constraints,
        })
    }

    /// One minimized objective with weight 1, no reference point, no constraints.
    pub fn single(bounds: Bounds) -> Self {
        Self {
            bounds,
            senses: vec![Sense::Minimize],
            weights: vec![1.0],
            reference: None,
            constraints: 0,
        }
    }

    /// Number of objectives.
    pub fn objectives(&self) -> usize {
        self.senses.len()
    }

    /// `objectives` with the maximized ones negated, so smaller is better everywhere.
    pub fn minimized(&self, objectives: &[f64]) -> Vec<f64> {
        objectives
            .iter()
            .zip(&self.senses)
            .map(|(v, s)| match s {
                Sense::Minimize => *v,
                Sense::Maximize => -*v,
            })
            .collect()
    }

    /// The scalar view `Σ wᵢ · minimizedᵢ` (no constraint penalty).
    pub fn scalar(&self, objectives: &[f64]) -> f64 {
        self.minimized(objectives)
            .iter()
            .zip(&self.weights)
            .map(|(v, w)| w * v)
            .sum()
    }

    /// The scalar view plus `PENALTY · Σ violations`; `None` for [`Outcome::Failed`], for a
    /// non-finite value, or for an outcome whose lengths do not fit the problem (all ranked as
    /// failures by the searchers).
    pub fn penalized_scalar(&self, o: &Outcome) -> Option<f64> {
        let (objectives, violation) = self.checked(o)?;
        let s = self.scalar(objectives);
        // Adding 0.0 would turn -0.0 into 0.0; a feasible point keeps its exact value.
        let v = if violation > 0.0 {
            s + PENALTY * violation
        } else {
            s
        };
        v.is_finite().then_some(v)
    }

    /// The minimized objective vector with `PENALTY · Σ violations` added to every
    /// coordinate; `None` exactly where [`Problem::penalized_scalar`] is `None` for a
    /// non-finite vector.
    pub fn penalized_vector(&self, o: &Outcome) -> Option<Vec<f64>> {
        let (objectives, violation) = self.checked(o)?;
        let mut v = self.minimized(objectives);
        if violation > 0.0 {
            v.iter_mut().for_each(|x| *x += PENALTY * violation);
        }
        v.iter().all(|x| x.is_finite()).then_some(v)
    }

    /// The objectives and the total violation of a well-formed, finite outcome. A negative
    /// violation counts as 0 (satisfied), so it cannot buy a better rank.
    fn checked<'a>(&self, o: &'a Outcome) -> Option<(&'a [f64], f64)> {
        let Outcome::Scored {
            objectives,
            violations,
        } = o
        else {
            return None;
        };
        let ok = objectives.len() == self.objectives()
            && violations.len() == self.constraints
            && objectives.iter().chain(violations).all(|v| v.is_finite());
        ok.then(|| {
            (
                objectives.as_slice(),
                violations.iter().map(|v| v.max(0.0)).sum(),
            )
        })
    }
}
