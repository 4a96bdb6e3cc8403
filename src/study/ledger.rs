//! The bookkeeping around each finished trial, shared by the ask/tell driver and the
//! gradient loop: the outcome from the metrics, the reference point, the front tracker and
//! hypervolume, the CSV views and the observers.

use mergesearch_searchers::Outcome;

use super::front::{FrontChange, FrontTracker};
use super::objectives::Objectives;
use super::observer::{Observer, StopReason, TrialEvent};
use super::storage::Storage;
use super::trial::{MetricMap, Trial, TrialState};
use super::views::{Columns, CsvViews};
use crate::error::{Error, Result};

/// The running state of a study's front and views while trials finish.
#[derive(Debug)]
pub(super) struct Ledger {
    pub tracker: FrontTracker,
    views: CsvViews,
    /// Finished trials, counting earlier runs.
    pub finished: usize,
}

impl Ledger {
    /// Rebuilds the front from the `stored` trials and starts the views and observers.
    pub fn start(
        dir: &std::path::Path,
        columns: Columns,
        objectives: &Objectives,
        stored: &[Trial],
        observers: &mut [&mut dyn Observer],
    ) -> Result<Self> {
        let mut tracker = FrontTracker::new(
            objectives
                .reference
                .as_ref()
                .map(|r| objectives.to_minimized(r)),
        );
        for t in stored {
            if let (Some(p), Some(s)) = (objectives.point(t), t.scalar) {
                tracker.add(t.id, p, s);
            }
        }
        let mut views = CsvViews::new(dir, columns);
        views.started(objectives, stored, tracker.ids())?;
        for o in observers.iter_mut() {
            o.started(objectives, stored, tracker.ids())?;
        }
        Ok(Self {
            tracker,
            views,
            finished: stored.iter().filter(|t| t.state.is_finished()).count(),
        })
    }

    /// Fills in `t`'s outcome from its scored metrics and whether it was pruned (or its
    /// error) and returns what the searcher is told: a pruned trial's partial objectives,
    /// as if complete (each searcher's treatment is in the README's pruner section).
    pub fn settle(
        objectives: &Objectives,
        t: &mut Trial,
        scored: Result<(MetricMap, bool)>,
    ) -> Outcome {
        match scored.and_then(|(m, pruned)| objectives.evaluate(&m).map(|e| (m, pruned, e))) {
            Ok((metrics, pruned, e)) => {
                t.state = if pruned {
                    TrialState::Pruned
                } else {
                    TrialState::Complete
                };
                t.metrics = Some(metrics);
                t.scalar = Some(e.scalar);
                t.feasible = Some(e.violation == 0.0);
                t.objectives = Some(e.values.clone());
                Outcome::Scored {
                    objectives: e.values,
                    violations: e.violations,
                }
            }
            Err(e) => {
                t.state = TrialState::Failed;
                t.error = Some(e.to_string());
                Outcome::Failed
            }
        }
    }

    /// Derives the reference point from the first feasible trial when the study has none
    /// (stored for --resume: a reference that moved with the trials would make the
    /// hypervolume curve rise and fall with bad trials), adds `t` to the front and sets its
    /// hypervolume.
    pub fn track(
        &mut self,
        objectives: &mut Objectives,
        storage: &mut dyn Storage,
        t: &mut Trial,
    ) -> Result<FrontChange> {
        if objectives.reference.is_none() {
            if let Some(r) = objectives.derive_reference(std::slice::from_ref(t)) {
                let text =
                    serde_json::to_string(&r).map_err(|e| Error::model("reference point", e))?;
                storage.set_meta("reference_point", &text)?;
                self.tracker.set_reference(objectives.to_minimized(&r));
                objectives.reference = Some(r);
            }
        }
        let change = match (objectives.point(t), t.scalar) {
            (Some(p), Some(s)) => self.tracker.add(t.id, p, s),
            _ => FrontChange::Unchanged,
        };
        t.hypervolume = Some(self.tracker.hypervolume());
        Ok(change)
    }

    /// Announces a trial that is durable in the storage to the views and observers.
    pub fn announce(
        &mut self,
        t: &Trial,
        change: FrontChange,
        in_flight: usize,
        overhead_seconds: f64,
        observers: &mut [&mut dyn Observer],
    ) -> Result<()> {
        self.finished += 1;
        let event = TrialEvent {
            trial: t,
            finished: self.finished,
            best_scalar: self.tracker.best_scalar(),
            front: self.tracker.ids(),
            front_change: change,
            in_flight,
            overhead_seconds,
        };
        self.views.finished(&event)?;
        for o in observers.iter_mut() {
            o.finished(&event)?;
        }
        Ok(())
    }

    /// Tells the views and observers that the loop ended.
    pub fn stop(&mut self, reason: StopReason, observers: &mut [&mut dyn Observer]) -> Result<()> {
        self.views.stopped(reason)?;
        for o in observers.iter_mut() {
            o.stopped(reason)?;
        }
        Ok(())
    }
}
