//! Observers: the side work of the driver loop (progress display, CSV views, anything a
//! user adds), with no-op defaults — argmin's `Observe` in spirit. The driver loop stays
//! ask → evaluate → store → tell; everything else hooks in here.

use super::front::FrontChange;
use super::objectives::Objectives;
use super::trial::Trial;
use crate::error::Result;

/// One finished trial, after it is durable in the storage.
#[derive(Debug, Clone, Copy)]
pub struct TrialEvent<'a> {
    /// The trial as stored.
    pub trial: &'a Trial,
    /// Finished trials so far, counting earlier runs.
    pub finished: usize,
    /// The lowest scalar (minimized) among feasible complete trials so far.
    pub best_scalar: Option<f64>,
    /// Ids of the feasible Pareto front after this trial.
    pub front: &'a [u64],
    /// How this trial changed the front.
    pub front_change: FrontChange,
    /// Trials still being evaluated.
    pub in_flight: usize,
    /// Seconds the driver spent on this trial outside merging and scoring (ask, tell,
    /// storage, hypervolume, observers of the previous trial excluded).
    pub overhead_seconds: f64,
}

/// Why the driver loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The trial budget is spent.
    Trials,
    /// The time budget is spent.
    Time,
    /// The stop flag was set (Ctrl-C): running trials finished, no new one started.
    Interrupted,
}

/// Side work of the driver loop. Every method has a no-op default.
pub trait Observer {
    /// The study is open: `trials` are the stored ones (in id order) and `front` the ids of
    /// their feasible Pareto front, before any new trial.
    fn started(
        &mut self,
        _objectives: &Objectives,
        _trials: &[Trial],
        _front: &[u64],
    ) -> Result<()> {
        Ok(())
    }

    /// A trial finished and is durable.
    fn finished(&mut self, _event: &TrialEvent) -> Result<()> {
        Ok(())
    }

    /// The driver loop ended.
    fn stopped(&mut self, _reason: StopReason) -> Result<()> {
        Ok(())
    }
}
