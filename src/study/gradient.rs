//! The gradient loop of a study (AdaMerging): Adam over the merge coefficients, one loss and
//! gradient per step from [`crate::adamerging::Trainer`], and every `log_every`-th step
//! (and the final point) stored as a trial with its coefficients, its recipe, the smoothed
//! objective and the real metrics on the search split.
//!
//! Resume is exact: the snapshot stored with each logged trial holds Adam's state, and the
//! steps between two logged trials are recomputed from it (their batches are seeded by step),
//! so a run killed anywhere continues to the same coefficients as an uninterrupted one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mergesearch_searchers::{
    Adam, AnySearcher, GradientObjective, GradientSearcher, SearchError, Searcher,
};
use serde::{Deserialize, Serialize};

use super::driver::score;
use super::ledger::Ledger;
use super::observer::{Observer, StopReason};
use super::storage::NewTrial;
use super::{RunSummary, Study};
use crate::error::{Error, Result};
use crate::merge::MergeConfig;

/// The searcher of a study: an ask/tell searcher, or the state of the gradient loop.
/// Serialized as the inner value, so snapshots of ask/tell studies read as before.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StudySearcher {
    /// Any ask/tell searcher ([`Study::run`]).
    Ask(AnySearcher),
    /// AdaMerging's state ([`Study::run_gradient`]).
    Gradient(Box<GradientState>),
}

impl StudySearcher {
    /// The trial ids awaiting a tell.
    pub fn pending(&self) -> Vec<u64> {
        match self {
            StudySearcher::Ask(s) => s.pending(),
            StudySearcher::Gradient(g) => g.pending.into_iter().collect(),
        }
    }
}

/// The gradient loop's state, snapshotted with every logged trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientState {
    /// Projected Adam over the coefficients.
    pub adam: Adam,
    /// The trial of the logged step being scored, if any.
    pub pending: Option<u64>,
    /// Sum of the step losses since the last logged trial (for its smoothed value).
    pub loss_sum: f64,
    /// Number of those steps.
    pub loss_count: usize,
    /// Whether the final point has been logged.
    pub done: bool,
}

impl GradientState {
    /// A fresh state around `adam`.
    pub fn new(adam: Adam) -> Self {
        Self {
            adam,
            pending: None,
            loss_sum: 0.0,
            loss_count: 0,
            done: false,
        }
    }
}

/// The metric name of a gradient objective (`adamerging/entropy`, `adamerging/cross_entropy`).
pub fn objective_name(o: GradientObjective) -> &'static str {
    match o {
        GradientObjective::Entropy => "entropy",
        GradientObjective::CrossEntropy => "cross_entropy",
    }
}

fn search_error(what: String) -> impl Fn(SearchError) -> Error {
    move |e| Error::model(what.clone(), e)
}

impl Study {
    /// Runs the gradient loop until `searcher.steps` Adam steps are done and the final point
    /// is logged, the time budget is spent or `stop` is set (checked before every step).
    pub fn run_gradient(
        &mut self,
        stop: &AtomicBool,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary> {
        let t_run = Instant::now();
        let Study {
            config,
            dir,
            space,
            objectives,
            harnesses,
            storage,
            searcher,
            ranks,
            columns,
            trainer,
            ..
        } = self;
        let (StudySearcher::Gradient(state), Some((trainer, ada))) = (searcher, trainer.as_ref())
        else {
            return Err(Error::study(
                dir.as_path(),
                "an ask/tell searcher runs with Study::run",
            ));
        };
        let stored = storage.trials()?;
        let mut ledger = Ledger::start(dir, columns.clone(), objectives, &stored, observers)?;
        let (steps, every) = (ada.steps, ada.log_every);
        let objective_metric = format!("adamerging/{}", objective_name(ada.objective));
        let reason = loop {
            if state.done {
                break StopReason::Trials;
            }
            if stop.load(Ordering::SeqCst) {
                break StopReason::Interrupted;
            }
            if config
                .budget
                .seconds
                .is_some_and(|s| t_run.elapsed().as_secs_f64() >= s)
            {
                break StopReason::Time;
            }
            let s = state.adam.steps_taken();
            let lambda = state.adam.ask();
            if s % every != 0 && s < steps {
                let r = trainer.step(&lambda, s)?;
                state
                    .adam
                    .tell(r.loss, &r.grad)
                    .map_err(search_error(format!("adamerging step {s}")))?;
                state.loss_sum += r.loss;
                state.loss_count += 1;
                continue;
            }
            // A logged step: a trial (re-run under its id after a crash).
            let t0 = Instant::now();
            let mut t = match state.pending {
                Some(id) => {
                    storage.restart_trial(id)?;
                    storage
                        .trials()?
                        .into_iter()
                        .find(|t| t.id == id)
                        .ok_or_else(|| {
                            Error::study(dir.as_path(), format!("trial {id} vanished"))
                        })?
                }
                None => storage.create_trial(&mut |id| {
                    state.pending = Some(id);
                    let snapshot = serde_json::to_string(&*state)
                        .map_err(|e| Error::model("searcher snapshot", e))?;
                    Ok(NewTrial {
                        genotype: lambda.clone(),
                        recipe: space.decode(&lambda).to_yaml(),
                        seed: config.seed,
                        snapshot,
                    })
                })?,
            };
            let r = trainer.step(&lambda, s)?;
            let label = Path::new("<candidate>").join(format!("trial {}", t.id));
            let smoothed = (state.loss_sum + r.loss) / (state.loss_count + 1) as f64;
            let scored = MergeConfig::from_yaml(&t.recipe, &label)
                .and_then(|recipe| score(&label, &recipe, t.seed, ranks, harnesses))
                .map(|mut m| {
                    m.insert(objective_metric.clone(), smoothed.into());
                    m.insert("adamerging/step".into(), (s as f64).into());
                    for (task, v) in trainer.tasks.iter().zip(&r.per_task) {
                        m.insert(format!("adamerging/{}", task.name), (*v).into());
                    }
                    (m, false)
                });
            t.seconds = Some(t0.elapsed().as_secs_f64());
            let _ = Ledger::settle(objectives, &mut t, scored);
            let change = ledger.track(objectives, storage.as_mut(), &mut t)?;
            if s < steps {
                state
                    .adam
                    .tell(r.loss, &r.grad)
                    .map_err(search_error(format!("adamerging step {s}")))?;
            } else {
                state.done = true;
            }
            state.pending = None;
            state.loss_sum = 0.0;
            state.loss_count = 0;
            let snapshot =
                serde_json::to_string(&*state).map_err(|e| Error::model("searcher snapshot", e))?;
            storage.finish_trial(&t, &snapshot)?;
            ledger.announce(&t, change, 0, 0.0, observers)?;
        };
        ledger.stop(reason, observers)?;
        Ok(RunSummary {
            reason,
            trials: storage.trials()?,
        })
    }
}
