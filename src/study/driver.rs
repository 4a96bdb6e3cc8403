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

use super::ledger::Ledger;
use super::observer::{Observer, StopReason};
use super::storage::NewTrial;
use super::trial::{MetricMap, Trial, TrialState};
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
    let plan = Plan::build(recipe.clone(), label)?;
    let target = EvalTarget::Merge {
        path: label.to_path_buf(),
        plan: Box::new(plan),
        opts: MergeOptions {
            seed,
            ranks: Some(ranks.clone()),
        },
    };
    score_target(label, target, harnesses)
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

/// What an evaluation thread sends back: the trial, its metrics or error, and seconds.
type Scored = (Trial, Result<MetricMap>, f64);

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
        let mut rerun: VecDeque<Trial> = stored
            .into_iter()
            .filter(|t| t.state == TrialState::Running)
            .collect();
        let (tx, rx) = mpsc::channel::<Scored>();
        let mut in_flight = 0usize;
        let mut ask_seconds: HashMap<u64, f64> = HashMap::new();
        let mut carried = 0.0;
        let (harnesses, ranks) = (&*harnesses, &*ranks);
        let reason = std::thread::scope(|scope| -> Result<StopReason> {
            let spawn = |trial: Trial| {
                let tx = tx.clone();
                scope.spawn(move || {
                    let label = Path::new("<candidate>").join(format!("trial {}", trial.id));
                    let t0 = Instant::now();
                    let scored = MergeConfig::from_yaml(&trial.recipe, &label)
                        .and_then(|r| score(&label, &r, trial.seed, ranks, harnesses));
                    // The receiver outlives every evaluation thread (scoped threads).
                    let _ = tx.send((trial, scored, t0.elapsed().as_secs_f64()));
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
                        ask_seconds.insert(t.id, t0.elapsed().as_secs_f64());
                        spawn(t);
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
                    spawn(trial);
                    in_flight += 1;
                }
                if in_flight == 0 {
                    return Ok(reason.unwrap_or(StopReason::Trials));
                }
                let (mut t, scored, seconds) = rx
                    .recv()
                    .map_err(|_| Error::model("study driver", "an evaluation thread died"))?;
                in_flight -= 1;
                let t0 = Instant::now();
                t.seconds = Some(seconds);
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
