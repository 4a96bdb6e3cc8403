//! The driver loop: ask (storage assigns the id) → decode → lazy candidate → evaluate →
//! store the outcome with the searcher snapshot → tell → observers. Up to `parallel`
//! trials are evaluated at once on scoped threads; outcomes are stored and told in the
//! order they finish, under their trial ids.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use mergesearch_evals::ResolvedHarness;
use mergesearch_searchers::Searcher;

use super::halving::trial::{score_in_rungs, Resumed, RungScored};
use super::halving::{judge, Ladder};
use super::ledger::Ledger;
use super::observer::{Observer, StopReason};
use super::storage::NewTrial;
use super::trial::{MetricMap, Rung, Trial, TrialState};
use super::{Study, StudySearcher};
use crate::error::{Error, Result};
use crate::eval::EvalTarget;
use crate::merge::rank_cache::RankCache;
use crate::merge::{MergeConfig, MergeOptions, Plan};

/// How a run of the driver ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Why it stopped.
    pub reason: StopReason,
    /// Every stored trial, in id order.
    pub trials: Vec<Trial>,
}

/// Scores `recipe` on `harnesses`; returns all metrics (a non-finite one is an error).
/// `label` names the candidate in errors.
pub(super) fn score(
    label: &Path,
    recipe: &MergeConfig,
    seed: u64,
    ranks: &Arc<RankCache>,
    harnesses: &[ResolvedHarness],
) -> Result<MetricMap> {
    score_target(label, target(label, recipe, seed, ranks)?, harnesses)
}

/// The lazy candidate of `recipe` (planned now), with random masks seeded by `seed`.
fn target(
    label: &Path,
    recipe: &MergeConfig,
    seed: u64,
    ranks: &Arc<RankCache>,
) -> Result<EvalTarget> {
    Ok(EvalTarget::Merge {
        path: label.to_path_buf(),
        plan: Box::new(Plan::build(recipe.clone(), label)?),
        opts: MergeOptions {
            seed,
            ranks: Some(ranks.clone()),
        },
    })
}

/// Scores `target` on `harnesses`; returns all metrics (a non-finite one is an error naming
/// `label`).
pub(super) fn score_target(
    label: &Path,
    target: EvalTarget,
    harnesses: &[ResolvedHarness],
) -> Result<MetricMap> {
    let metrics = target.evaluate(harnesses)?;
    if let Some(m) = metrics.iter().find(|m| !m.value.is_finite()) {
        return Err(Error::model(
            label.display().to_string(),
            format!("metric `{}` is {}", m.name, m.value),
        ));
    }
    Ok(metrics
        .iter()
        .map(|m| (m.name.clone(), m.value.into()))
        .collect())
}

/// What an evaluation thread sends back: the trial, its metrics (and whether it was pruned)
/// or error, and seconds.
type Scored = (Trial, Result<(MetricMap, bool)>, f64);

/// A message from an evaluation thread to the driver.
enum Msg {
    /// A trial is done (boxed: a trial is much larger than a rung message).
    Done(Box<Scored>),
    /// Trial `id` scored a rung (successive halving): the driver judges it, stores it, and
    /// replies whether the trial goes on.
    Rung {
        id: u64,
        scored: RungScored,
        reply: mpsc::Sender<Result<bool>>,
    },
}

impl Study {
    /// Runs trials until the budget is spent or `stop` is set (checked before each new
    /// trial; trials already running finish). Up to `parallel` (≥ 1) trials run at once.
    /// A trial that was running when an earlier run died is run again first, under its id.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        parallel: usize,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary> {
        let parallel = parallel.max(1);
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
            enqueued,
            schedule,
            ..
        } = self;
        let StudySearcher::Ask(searcher) = searcher else {
            return Err(Error::study(
                dir.as_path(),
                "a gradient searcher (adamerging) runs with Study::run_gradient",
            ));
        };
        let stored = storage.trials()?;
        // Trials ever created: the first `enqueued.len()` of a study are its enqueued points.
        let mut created = stored.len();
        let mut ledger = Ledger::start(dir, columns.clone(), objectives, &stored, observers)?;
        let mut ladder = schedule.as_ref().map(|s| Ladder::from_trials(s, &stored));
        // Rungs reached by the trials in flight, for their outcome.
        let mut rungs: HashMap<u64, Vec<Rung>> = HashMap::new();
        let mut rerun: VecDeque<Trial> = stored
            .into_iter()
            .filter(|t| t.state == TrialState::Running)
            .collect();
        let (tx, rx) = mpsc::channel::<Msg>();
        let mut in_flight = 0usize;
        let mut ask_seconds: HashMap<u64, f64> = HashMap::new();
        let mut carried = 0.0;
        let (harnesses, ranks, schedule) = (&*harnesses, &*ranks, schedule.as_ref());
        let reason = std::thread::scope(|scope| -> Result<StopReason> {
            // Owned here, so that it is dropped before the scope joins the threads: a thread
            // waiting for a judgement the driver will not give (it stopped on an error)
            // then wakes up instead of waiting forever.
            let rx = rx;
            let spawn = |trial: Trial, resumed: Resumed| {
                let tx = tx.clone();
                scope.spawn(move || {
                    let label = Path::new("<candidate>").join(format!("trial {}", trial.id));
                    let t0 = Instant::now();
                    let scored =
                        MergeConfig::from_yaml(&trial.recipe, &label).and_then(
                            |r| match schedule {
                                None => score(&label, &r, trial.seed, ranks, harnesses)
                                    .map(|m| (m, false)),
                                Some(schedule) => {
                                    let id = trial.id;
                                    let mut judge = |scored: RungScored| -> Result<bool> {
                                        let (reply, answer) = mpsc::channel();
                                        tx.send(Msg::Rung { id, scored, reply }).map_err(|_| {
                                            Error::model("study driver", "the driver stopped")
                                        })?;
                                        answer.recv().map_err(|_| {
                                            Error::model("study driver", "the driver stopped")
                                        })?
                                    };
                                    let load =
                                        || target(&label, &r, trial.seed, ranks)?.load(harnesses);
                                    score_in_rungs(
                                        &label.display().to_string(),
                                        load,
                                        harnesses,
                                        schedule,
                                        resumed,
                                        &mut judge,
                                    )
                                    .map(|d| (d.metrics, d.pruned))
                                }
                            },
                        );
                    // The receiver outlives every evaluation thread (scoped threads).
                    let _ = tx.send(Msg::Done(Box::new((
                        trial,
                        scored,
                        t0.elapsed().as_secs_f64(),
                    ))));
                });
            };
            loop {
                let mut reason = None;
                while in_flight < parallel {
                    if stop.load(Ordering::SeqCst) {
                        reason = Some(StopReason::Interrupted);
                        break;
                    }
                    if let Some(t) = rerun.pop_front() {
                        let t0 = Instant::now();
                        storage.restart_trial(t.id)?;
                        let resumed = Resumed {
                            rungs: t.rungs.clone(),
                            scores: storage.rung_scores(t.id)?,
                        };
                        rungs.insert(t.id, t.rungs.clone());
                        ask_seconds.insert(t.id, t0.elapsed().as_secs_f64());
                        spawn(t, resumed);
                        in_flight += 1;
                        continue;
                    }
                    if config
                        .budget
                        .trials
                        .is_some_and(|n| ledger.finished + in_flight >= n)
                    {
                        reason = Some(StopReason::Trials);
                        break;
                    }
                    if config
                        .budget
                        .seconds
                        .is_some_and(|s| t_run.elapsed().as_secs_f64() >= s)
                    {
                        reason = Some(StopReason::Time);
                        break;
                    }
                    let t0 = Instant::now();
                    let seed = config.seed;
                    let queued = enqueued.get(created).cloned();
                    let trial = storage.create_trial(&mut |id| {
                        let x = match &queued {
                            Some(x) => searcher.enqueue(id, x.clone()).map(|()| x.clone()),
                            None => searcher.ask(id),
                        }
                        .map_err(|e| Error::model(format!("trial {id}"), e))?;
                        let recipe = space.decode(&x).to_yaml();
                        let snapshot = serde_json::to_string(&*searcher)
                            .map_err(|e| Error::model("searcher snapshot", e))?;
                        Ok(NewTrial {
                            genotype: x,
                            recipe,
                            seed,
                            snapshot,
                        })
                    })?;
                    created += 1;
                    ask_seconds.insert(trial.id, t0.elapsed().as_secs_f64());
                    spawn(trial, Resumed::default());
                    in_flight += 1;
                }
                if in_flight == 0 {
                    return Ok(reason.unwrap_or(StopReason::Trials));
                }
                let msg = rx
                    .recv()
                    .map_err(|_| Error::model("study driver", "an evaluation thread died"))?;
                let (mut t, scored, seconds) = match msg {
                    Msg::Done(done) => *done,
                    Msg::Rung { id, scored, reply } => {
                        let (Some(schedule), Some(ladder)) = (schedule, ladder.as_mut()) else {
                            unreachable!("only a pruned study scores rungs")
                        };
                        let judged = judge(objectives, schedule, ladder, &scored)
                            .map(|rung| (rung, scored.scores));
                        let stored = match judged {
                            Ok((rung, scores)) => {
                                storage.report_rung(id, &rung, &scores)?;
                                let promoted = rung.promoted;
                                rungs.entry(id).or_default().push(rung);
                                Ok(promoted)
                            }
                            Err(e) => Err(e),
                        };
                        // A thread that is gone has nothing left to be told.
                        let _ = reply.send(stored);
                        continue;
                    }
                };
                in_flight -= 1;
                let t0 = Instant::now();
                t.seconds = Some(seconds);
                t.rungs = rungs.remove(&t.id).unwrap_or_default();
                let outcome = Ledger::settle(objectives, &mut t, scored);
                let change = ledger.track(objectives, storage.as_mut(), &mut t)?;
                searcher
                    .tell(t.id, &outcome)
                    .map_err(|e| Error::model(format!("trial {}", t.id), e))?;
                let snapshot = serde_json::to_string(&*searcher)
                    .map_err(|e| Error::model("searcher snapshot", e))?;
                storage.finish_trial(&t, &snapshot)?;
                let overhead = t0.elapsed().as_secs_f64()
                    + ask_seconds.remove(&t.id).unwrap_or(0.0)
                    + std::mem::take(&mut carried);
                let t1 = Instant::now();
                ledger.announce(&t, change, in_flight, overhead, observers)?;
                carried = t1.elapsed().as_secs_f64();
            }
        })?;
        ledger.stop(reason, observers)?;
        Ok(RunSummary {
            reason,
            trials: storage.trials()?,
        })
    }
}
