//! The study driver: ask → decode → lazy candidate → evaluate → tell, with every trial in
//! SQLite, CSV views and an atomic searcher snapshot refreshed after each trial, so a killed
//! study resumes without losing or repeating a finished trial.
//!
//! Files under the study directory:
//!
//! ```text
//! study.db        every trial (SQLite): genotype, recipe, metrics, objectives, state, timings
//! study.yaml      the study file as run
//! searcher.json   the searcher's state after the last told trial (atomic rename)
//! trials.csv      one row per trial: objectives, metrics, genes (pandas-friendly)
//! pareto.csv      the feasible Pareto front, with held-out scores once validated
//! ```

pub mod config;
pub mod objectives;
pub mod output;
pub mod storage;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mergesearch_evals::{ResolvedHarness, Split, Suite};
use mergesearch_searchers::{AnySearcher, Outcome, Searcher};
use serde::{Deserialize, Serialize};

pub use config::StudyConfig;
pub use objectives::Objectives;
pub use storage::{Storage, Trial, TrialState};

use crate::error::{Error, Result};
use crate::eval::EvalTarget;
use crate::merge::rank_cache::RankCache;
use crate::merge::{MergeConfig, MergeOptions, Plan};
use crate::space::SearchSpace;

/// The searcher snapshot: its state plus how many trials it has handed out and been told.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    asked: u64,
    told: u64,
    searcher: AnySearcher,
}

/// A study opened for running.
pub struct Study {
    /// The study file.
    pub config: StudyConfig,
    /// Where the study writes.
    pub dir: PathBuf,
    /// Genotype ↔ recipe.
    pub space: SearchSpace,
    /// Metric → objective mapping.
    pub objectives: Objectives,
    harnesses: Vec<ResolvedHarness>,
    storage: Storage,
    snapshot: Snapshot,
    ranks: Arc<RankCache>,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.config.name)
            .field("dir", &self.dir)
            .finish()
    }
}

/// What one finished trial looked like, for progress display.
#[derive(Debug, Clone)]
pub struct TrialReport {
    /// The trial.
    pub trial: Trial,
    /// Finished trials so far (all runs).
    pub finished: usize,
    /// The best scalar (minimized) among feasible complete trials.
    pub best_scalar: Option<f64>,
    /// Seconds the driver spent outside merging and scoring for this trial (ask, tell,
    /// storage, CSVs, hypervolume, snapshot).
    pub overhead_seconds: f64,
}

/// The final validation of one Pareto-front trial.
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
    /// Validates `config` (file at `config_path`) completely — models, space, eval data,
    /// metric names, the initial recipe — before any evaluation, then opens or creates the
    /// study directory `dir`. An existing study is only continued with `resume`; its study
    /// file must match except for the budget.
    pub fn open(config_path: &Path, dir: &Path, resume: bool) -> Result<Self> {
        let config = StudyConfig::load(config_path)?;
        let space = SearchSpace::new(config.merge.clone(), config.search.clone(), config_path)?;
        // The initial recipe must plan: this checks every model directory and that their
        // tensors match, before anything is scored.
        let first = space.decode(&space.init);
        Plan::build(first, config_path)?;
        let harnesses = Suite::load(&config.evals)?.resolve(Split::Search)?;
        let objectives = Objectives::new(&config, &harnesses, config_path)?;
        let db_path = dir.join("study.db");
        let existing = db_path.exists();
        if existing && !resume {
            return Err(Error::config(
                config_path,
                format!(
                    "study directory {} already holds a study: pass --resume to continue it, or choose another `name` or --out",
                    dir.display()
                ),
            ));
        }
        if resume && !existing {
            return Err(Error::config(
                config_path,
                format!(
                    "--resume: there is no study in {} (run without --resume to start one; pass the same --out as the first run)",
                    dir.display()
                ),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let storage = Storage::open(&db_path)?;
        let as_run = serde_saphyr::to_string(&StudyConfig {
            budget: config::Budget {
                trials: None,
                seconds: None,
            },
            ..config.clone()
        })
        .map_err(|e| Error::config(config_path, e.to_string()))?;
        match storage.meta("config")? {
            Some(stored) if stored != as_run => {
                return Err(Error::config(
                    config_path,
                    format!(
                    "differs from the study stored in {} (only `budget` may change on --resume)",
                    db_path.display()
                ),
                ))
            }
            Some(_) => {}
            None => {
                storage.set_meta("config", &as_run)?;
                storage.set_meta("genes", &serde_json::to_string(&space.labels()).unwrap())?;
            }
        }
        let text = std::fs::read_to_string(config_path).map_err(|e| Error::io(config_path, e))?;
        crate::atomic::write(&dir.join("study.yaml"), text.as_bytes())?;
        let snap_path = dir.join("searcher.json");
        let snapshot = if snap_path.exists() {
            let text = std::fs::read_to_string(&snap_path).map_err(|e| Error::io(&snap_path, e))?;
            serde_json::from_str(&text).map_err(|e| Error::config(&snap_path, e.to_string()))?
        } else {
            let searcher = mergesearch_searchers::build(
                &config.searcher,
                space.bounds.clone(),
                Some(space.init.clone()),
                config.seed,
            )
            .map_err(|e| Error::config(config_path, format!("searcher: {e}")))?;
            Snapshot {
                asked: 0,
                told: 0,
                searcher,
            }
        };
        let mut objectives = objectives;
        if objectives.reference.is_none() {
            if let Some(r) = storage.meta("reference_point")? {
                objectives.reference = serde_json::from_str(&r).ok();
            }
        }
        let ranks = Arc::new(RankCache::new(
            config.rank_cache_mb.unwrap_or(1024).saturating_mul(1 << 20),
        ));
        Ok(Self {
            config,
            dir: dir.to_path_buf(),
            space,
            objectives,
            harnesses,
            storage,
            snapshot,
            ranks,
        })
    }

    /// The stored trials.
    pub fn trials(&self) -> Result<Vec<Trial>> {
        self.storage.trials()
    }

    fn save_snapshot(&self) -> Result<()> {
        let text = serde_json::to_vec(&self.snapshot).expect("searcher state serializes");
        crate::atomic::write(&self.dir.join("searcher.json"), &text)
    }

    /// Scores a recipe on `harnesses`; returns all metrics as a JSON map.
    fn score(
        &self,
        recipe: &MergeConfig,
        seed: u64,
        harnesses: &[ResolvedHarness],
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let label = self.dir.join("candidate.yaml");
        let plan = Plan::build(recipe.clone(), &label)?;
        let target = EvalTarget::Merge {
            path: label,
            plan: Box::new(plan),
            opts: MergeOptions {
                seed,
                ranks: Some(self.ranks.clone()),
            },
        };
        let metrics = target.evaluate(harnesses)?;
        if let Some(m) = metrics.iter().find(|m| !m.value.is_finite()) {
            return Err(Error::model(
                "candidate",
                format!("metric `{}` is {}", m.name, m.value),
            ));
        }
        Ok(metrics
            .iter()
            .map(|m| (m.name.clone(), m.value.into()))
            .collect())
    }

    /// Evaluates trial `id` (already stored as running) and stores its outcome.
    fn run_trial(&mut self, id: u64, genotype: Vec<f64>) -> Result<Trial> {
        let recipe = self.space.decode(&genotype);
        let t0 = Instant::now();
        let scored = self.score(&recipe, self.config.seed, &self.harnesses);
        let seconds = t0.elapsed().as_secs_f64();
        let mut trial = Trial::running(id, genotype, recipe.to_yaml(), self.config.seed);
        trial.state = TrialState::Failed;
        trial.started_at -= seconds;
        trial.seconds = Some(seconds);
        match scored.and_then(|m| self.objectives.evaluate(&m).map(|o| (m, o))) {
            Ok((metrics, o)) => {
                trial.state = TrialState::Complete;
                trial.metrics = Some(metrics);
                trial.scalar = Some(o.scalar);
                trial.feasible = Some(o.violation == 0.0);
                trial.objectives = Some(o.values);
            }
            Err(e) => trial.error = Some(e.to_string()),
        }
        Ok(trial)
    }

    /// Runs trials until the budget is spent or `stop` is set (checked between trials).
    /// `on_trial` sees every finished trial.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        on_trial: &mut dyn FnMut(&TrialReport),
    ) -> Result<Vec<Trial>> {
        let t_run = Instant::now();
        let mut trials = self.storage.trials()?;
        // Trials stored after the last snapshot: re-ask them so the searcher's state matches
        // (asks are deterministic from the snapshot), and keep the stored genotypes.
        while (self.snapshot.asked as usize) < trials.len() {
            let x = self.snapshot.searcher.ask(1).remove(0);
            let stored = &trials[self.snapshot.asked as usize];
            if x != stored.genotype {
                return Err(Error::config(
                    self.dir.join("searcher.json"),
                    format!(
                        "the searcher snapshot does not reproduce trial {} of study.db: the two files are from different runs",
                        stored.id
                    ),
                ));
            }
            self.snapshot.asked += 1;
        }
        loop {
            let told = self.snapshot.told as usize;
            let finished = trials
                .iter()
                .filter(|t| t.state != TrialState::Running)
                .count();
            let pending = trials.get(told).cloned();
            let t_over = Instant::now();
            let mut overhead = 0.0;
            let trial = match pending {
                // A stored trial the searcher has not been told about: its outcome if it
                // finished, else it was interrupted and runs again.
                Some(t) if t.state != TrialState::Running => t,
                Some(t) => {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    self.storage.restart(t.id)?;
                    overhead += t_over.elapsed().as_secs_f64();
                    let done = self.run_trial(t.id, t.genotype)?;
                    let t1 = Instant::now();
                    let done = self.finish(&mut trials, done)?;
                    overhead += t1.elapsed().as_secs_f64();
                    done
                }
                None => {
                    let out_of_trials = self.config.budget.trials.is_some_and(|n| finished >= n);
                    let out_of_time = self
                        .config
                        .budget
                        .seconds
                        .is_some_and(|s| t_run.elapsed().as_secs_f64() >= s);
                    if out_of_trials || out_of_time || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let x = self.snapshot.searcher.ask(1).remove(0);
                    self.snapshot.asked += 1;
                    let id = trials.len() as u64 + 1;
                    let recipe = self.space.decode(&x).to_yaml();
                    self.storage
                        .insert_running(id, &x, &recipe, self.config.seed)?;
                    trials.push(Trial::running(id, x.clone(), recipe, self.config.seed));
                    self.save_snapshot()?;
                    overhead += t_over.elapsed().as_secs_f64();
                    let done = self.run_trial(id, x)?;
                    let t1 = Instant::now();
                    let done = self.finish(&mut trials, done)?;
                    overhead += t1.elapsed().as_secs_f64();
                    done
                }
            };
            let t2 = Instant::now();
            let outcome = match (&trial.state, trial.scalar) {
                (TrialState::Complete, Some(s)) => {
                    let o = self.objectives.evaluate(
                        trial
                            .metrics
                            .as_ref()
                            .expect("complete trials have metrics"),
                    )?;
                    let penalty = objectives::PENALTY * o.violation;
                    if self.snapshot.searcher.multi_objective() {
                        // Multi-objective searchers rank the whole (minimized) vector.
                        let v = self.objectives.to_minimized(&o.values);
                        Outcome::Values(v.into_iter().map(|x| x + penalty).collect())
                    } else {
                        Outcome::Values(vec![s + penalty])
                    }
                }
                _ => Outcome::Failed,
            };
            self.snapshot
                .searcher
                .tell(&[(trial.genotype.clone(), outcome)]);
            self.snapshot.told += 1;
            self.save_snapshot()?;
            overhead += t2.elapsed().as_secs_f64();
            let finished = trials
                .iter()
                .filter(|t| t.state != TrialState::Running)
                .count();
            on_trial(&TrialReport {
                best_scalar: best_scalar(&trials),
                trial,
                finished,
                overhead_seconds: overhead,
            });
        }
        Ok(trials)
    }

    /// Stores a finished trial with its hypervolume, refreshes the CSV views, and returns
    /// the trial as stored.
    fn finish(&mut self, trials: &mut [Trial], mut done: Trial) -> Result<Trial> {
        let i = trials
            .iter()
            .position(|t| t.id == done.id)
            .expect("the trial is stored");
        trials[i] = done.clone();
        if self.objectives.reference.is_none() {
            // Derived once, from the first feasible trial, and kept (in the database, for
            // --resume): a reference that moved with the trials would make the hypervolume
            // curve rise and fall with bad trials.
            if let Some(r) = self.objectives.derive_reference(trials) {
                self.storage
                    .set_meta("reference_point", &serde_json::to_string(&r).unwrap())?;
                self.objectives.reference = Some(r);
            }
        }
        done.hypervolume = Some(self.objectives.hypervolume(trials));
        trials[i] = done.clone();
        self.storage.finish(&done)?;
        output::write_csvs(&self.dir, &self.space, &self.objectives, trials)?;
        Ok(done)
    }

    /// Re-scores the feasible Pareto front (or, for one objective, the best trial) on the
    /// held-out split, stores the metrics, rewrites `pareto.csv`, and returns search and
    /// held-out objective values side by side.
    pub fn validate(&mut self) -> Result<Vec<Validated>> {
        let suite = Suite::load(&self.config.evals)?;
        let heldout = suite.resolve(Split::Heldout)?;
        let mut trials = self.storage.trials()?;
        let front = self.objectives.front(&trials);
        let mut out = Vec::new();
        for id in front {
            let i = trials
                .iter()
                .position(|t| t.id == id)
                .expect("front ids exist");
            let recipe = MergeConfig::from_yaml(&trials[i].recipe, &self.dir.join("study.db"))?;
            // One candidate that cannot be re-scored does not cost the others theirs.
            let scored = self
                .score(&recipe, trials[i].seed, &heldout)
                .and_then(|m| self.objectives.evaluate(&m).map(|o| (m, o)));
            let (heldout_values, error) = match scored {
                Ok((metrics, held)) => {
                    self.storage.set_heldout(id, &metrics)?;
                    trials[i].heldout = Some(metrics);
                    (held.values, None)
                }
                Err(e) => (
                    vec![f64::NAN; self.objectives.objectives.len()],
                    Some(e.to_string()),
                ),
            };
            out.push(Validated {
                id,
                search: trials[i].objectives.clone().unwrap_or_default(),
                heldout: heldout_values,
                error,
            });
        }
        output::write_csvs(&self.dir, &self.space, &self.objectives, &trials)?;
        Ok(out)
    }

    /// Harnesses whose held-out scores are not independent of the search split: command
    /// harnesses whose command has no `{split}` placeholder run the same thing twice.
    pub fn split_blind_harnesses(&self) -> Result<Vec<String>> {
        let suite = Suite::load(&self.config.evals)?;
        Ok(suite
            .raw()
            .harnesses
            .iter()
            .filter_map(|h| match h {
                mergesearch_evals::suite::RawHarness::Command { name, command, .. }
                    if !command.contains("{split}") =>
                {
                    Some(name.clone().unwrap_or_else(|| "command".into()))
                }
                _ => None,
            })
            .collect())
    }
}

/// The lowest scalar among feasible complete trials.
pub fn best_scalar(trials: &[Trial]) -> Option<f64> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.feasible == Some(true))
        .filter_map(|t| t.scalar)
        .min_by(f64::total_cmp)
}

/// The best feasible complete trial (lowest scalar).
pub fn best_trial(trials: &[Trial]) -> Option<&Trial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.feasible == Some(true))
        .min_by(|a, b| {
            a.scalar
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.scalar.unwrap_or(f64::INFINITY))
        })
}
