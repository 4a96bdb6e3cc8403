//! Held-out validation: the feasible Pareto front (for one objective, the best trial) is
//! re-scored on the suite's held-out split and stored beside its search scores.

use std::path::Path;

use mergesearch_evals::Split;

use super::driver::score;
use super::views;
use super::Study;
use crate::error::Result;
use crate::merge::MergeConfig;

/// The held-out re-scoring of one front trial.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Trial id.
    pub id: u64,
    /// Objective values on the search split.
    pub search: Vec<f64>,
    /// Objective values on the held-out split (NaN when re-scoring failed).
    pub heldout: Vec<f64>,
    /// Why re-scoring failed.
    pub error: Option<String>,
}

impl Study {
    /// Re-scores the feasible Pareto front on the held-out split, stores the metrics,
    /// rewrites `pareto.csv`, and returns search and held-out objective values side by side.
    /// One candidate that cannot be re-scored does not cost the others theirs.
    pub fn validate(&mut self) -> Result<Vec<Validated>> {
        let heldout = self.suite.resolve(Split::Heldout)?;
        let mut trials = self.storage.trials()?;
        let front = self.objectives.front(&trials);
        // A gradient study's result is its final point, on the front or not.
        let mut shown = front.clone();
        if self.is_gradient() {
            if let Some(last) = trials.iter().rev().find(|t| t.state.is_finished()) {
                if !shown.contains(&last.id) {
                    shown.push(last.id);
                }
            }
        }
        let mut out = Vec::new();
        for t in trials.iter_mut().filter(|t| shown.contains(&t.id)) {
            let label = Path::new("<candidate>").join(format!("trial {}", t.id));
            let scored = MergeConfig::from_yaml(&t.recipe, &label)
                .and_then(|r| score(&label, &r, t.seed, &self.ranks, &heldout))
                .and_then(|m| self.objectives.evaluate(&m).map(|o| (m, o)));
            let (values, error) = match scored {
                Ok((metrics, held)) => {
                    self.storage.set_heldout(t.id, &metrics)?;
                    t.heldout = Some(metrics);
                    (held.values, None)
                }
                Err(e) => (
                    vec![f64::NAN; self.objectives.objectives.len()],
                    Some(e.to_string()),
                ),
            };
            out.push(Validated {
                id: t.id,
                search: t.objectives.clone().unwrap_or_default(),
                heldout: values,
                error,
            });
        }
        let members: Vec<_> = trials.iter().filter(|t| front.contains(&t.id)).collect();
        views::write_pareto(&self.dir, &self.columns, &members)?;
        Ok(out)
    }
}
