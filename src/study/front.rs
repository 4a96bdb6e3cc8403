//! The study's feasible Pareto front, kept up to date one trial at a time.
//!
//! Recomputing the front and its hypervolume from every trial after every trial costs
//! O(N²) over a study; this tracker keeps only the current front and re-measures the
//! hypervolume only when a new distinct point joins it. Trials with equal objective vectors
//! are common (accuracies on a small split take few values) and all stay on the front, as in
//! a from-scratch non-dominated sort (`pareto::pareto_front`), so the front's distinct
//! points are kept once each with the ids that reached them: a tie costs an id push, not a
//! re-measure. The driver's cost per trial then stays flat as trials accumulate
//! (`bench study`).

use mergesearch_searchers::pareto;

/// How one trial changed the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontChange {
    /// Not on the front (dominated, infeasible or failed).
    Unchanged,
    /// Joined the front; no member left it.
    Added,
    /// Joined the front and pushed the members it dominates off.
    Replaced,
}

/// The feasible non-dominated trials so far, in minimized coordinates.
#[derive(Debug, Clone, Default)]
pub struct FrontTracker {
    /// Distinct non-dominated points, each with the ids of the trials that reached it.
    points: Vec<(Vec<f64>, Vec<u64>)>,
    /// Every id on the front, ascending.
    ids: Vec<u64>,
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

    /// Adds feasible trial `id` with minimized objectives `point` and scalar `scalar`.
    pub fn add(&mut self, id: u64, point: Vec<f64>, scalar: f64) -> FrontChange {
        if self.best_scalar.is_none_or(|b| scalar < b) {
            self.best_scalar = Some(scalar);
        }
        if self
            .points
            .iter()
            .any(|(p, _)| pareto::dominates(p, &point))
        {
            return FrontChange::Unchanged;
        }
        // Ids mostly arrive ascending (trials finish in id order unless run in parallel).
        let at = self.ids.partition_point(|&i| i < id);
        self.ids.insert(at, id);
        if let Some((_, ids)) = self.points.iter_mut().find(|(p, _)| *p == point) {
            // A tie: same point, same hypervolume.
            ids.push(id);
            return FrontChange::Added;
        }
        let before = self.points.len();
        self.points.retain(|(p, _)| !pareto::dominates(&point, p));
        let change = if self.points.len() < before {
            self.ids = self
                .points
                .iter()
                .flat_map(|(_, ids)| ids)
                .copied()
                .collect();
            self.ids.push(id);
            self.ids.sort_unstable();
            FrontChange::Replaced
        } else {
            FrontChange::Added
        };
        self.points.push((point, vec![id]));
        self.remeasure();
        change
    }

    fn remeasure(&mut self) {
        self.hypervolume = match &self.reference {
            Some(r) => {
                let points: Vec<Vec<f64>> = self.points.iter().map(|(p, _)| p.clone()).collect();
                pareto::hypervolume(&points, r)
            }
            None => 0.0,
        };
    }

    /// Trial ids on the front, ascending.
    pub fn ids(&self) -> &[u64] {
        &self.ids
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids and hypervolume against a from-scratch non-dominated sort and hypervolume over
    /// every point added so far (`pareto::pareto_front`, `pareto::hypervolume`), on points
    /// with many ties (a 4×4 grid, as accuracies on a small split give).
    #[test]
    fn tracks_what_a_from_scratch_front_gives() {
        let reference = vec![1.0, 1.0];
        let mut t = FrontTracker::new(Some(reference.clone()));
        let mut all: Vec<Vec<f64>> = Vec::new();
        let mut state = 12345u64;
        for id in 1..=300u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let p = vec![
                -(((state >> 33) % 4) as f64) / 4.0,
                -(((state >> 45) % 4) as f64) / 4.0,
            ];
            all.push(p.clone());
            t.add(id, p, 0.0);
            let want: Vec<u64> = pareto::pareto_front(&all)
                .into_iter()
                .map(|i| i as u64 + 1)
                .collect();
            assert_eq!(t.ids(), want.as_slice(), "after trial {id}");
            let hv = pareto::hypervolume(&all, &reference);
            assert!((t.hypervolume() - hv).abs() < 1e-12, "after trial {id}");
        }
    }

    #[test]
    fn reports_ties_additions_and_replacements() {
        let mut t = FrontTracker::new(None);
        assert_eq!(t.add(1, vec![0.0, 0.0], 0.0), FrontChange::Added);
        assert_eq!(t.add(2, vec![0.0, 0.0], 0.0), FrontChange::Added);
        assert_eq!(t.add(3, vec![1.0, 1.0], 2.0), FrontChange::Unchanged);
        assert_eq!(t.add(4, vec![-1.0, 1.0], 0.0), FrontChange::Added);
        assert_eq!(t.add(5, vec![-1.0, -1.0], -2.0), FrontChange::Replaced);
        assert_eq!(t.ids(), &[5]);
        assert_eq!(t.best_scalar(), Some(-2.0));
    }
}
