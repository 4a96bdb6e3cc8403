//! The study's feasible Pareto front, kept up to date one trial at a time.
//!
//! Recomputing the front and its hypervolume from every trial after every trial costs
//! O(N²) over a study; this tracker keeps only the current front (insert: drop the members
//! the new point dominates, unless a member dominates or equals it) and recomputes the
//! hypervolume over the front alone, so the driver's cost per trial stays flat as trials
//! accumulate (`bench study`).

use mergesearch_searchers::pareto;

/// The feasible non-dominated trials so far, in minimized coordinates.
#[derive(Debug, Clone, Default)]
pub struct FrontTracker {
    members: Vec<(u64, Vec<f64>)>,
    reference: Option<Vec<f64>>,
    hypervolume: f64,
    best_scalar: Option<f64>,
}

impl FrontTracker {
    /// An empty front measured against `reference` (minimized coordinates), if known.
    pub fn new(reference: Option<Vec<f64>>) -> Self {
        Self {
            reference,
            ..Self::default()
        }
    }

    /// Sets the reference point (minimized coordinates) and re-measures the front.
    pub fn set_reference(&mut self, reference: Vec<f64>) {
        self.reference = Some(reference);
        self.remeasure();
    }

    /// Adds feasible trial `id` with minimized objectives `point` and scalar `scalar`;
    /// returns whether the front changed.
    pub fn add(&mut self, id: u64, point: Vec<f64>, scalar: f64) -> bool {
        if self.best_scalar.is_none_or(|b| scalar < b) {
            self.best_scalar = Some(scalar);
        }
        // Equal points do not dominate each other: both stay, as in a from-scratch
        // non-dominated sort (`pareto::pareto_front`).
        if self
            .members
            .iter()
            .any(|(_, m)| pareto::dominates(m, &point))
        {
            return false;
        }
        self.members.retain(|(_, m)| !pareto::dominates(&point, m));
        self.members.push((id, point));
        self.members.sort_by_key(|(i, _)| *i);
        self.remeasure();
        true
    }

    fn remeasure(&mut self) {
        self.hypervolume = match &self.reference {
            Some(r) => {
                let points: Vec<Vec<f64>> = self.members.iter().map(|(_, p)| p.clone()).collect();
                pareto::hypervolume(&points, r)
            }
            None => 0.0,
        };
    }

    /// Trial ids on the front, ascending.
    pub fn ids(&self) -> Vec<u64> {
        self.members.iter().map(|(i, _)| *i).collect()
    }

    /// Hypervolume of the front against the reference point (0 without one).
    pub fn hypervolume(&self) -> f64 {
        self.hypervolume
    }

    /// The lowest scalar among feasible complete trials so far.
    pub fn best_scalar(&self) -> Option<f64> {
        self.best_scalar
    }
}
