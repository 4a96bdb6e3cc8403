//! Opening a study: validate the study file completely, then create the study in its
//! directory, or continue it (`--resume`) after checking that the directory, the storage,
//! the searcher snapshot and the eval suite all still describe the same study.

use std::path::Path;
use std::sync::Arc;

use mergesearch_evals::{Split, Suite};
use mergesearch_searchers::{Adam, SearcherConfig};

use super::config::{self, StudyConfig};
use super::fingerprint::{self, Fingerprint};
use super::gradient::{objective_name, GradientState, StudySearcher};
use super::lock::StudyLock;
use super::objectives::Objectives;
use super::storage::{SqliteStorage, Storage};
use super::trial::TrialState;
use super::views::{self, Columns};
use super::Study;
use crate::adamerging::Trainer;
use crate::error::{Error, Result};
use crate::merge::rank_cache::RankCache;
use crate::merge::Plan;

/// The database file of a study directory.
pub const DB_FILE: &str = "study.db";

/// Files that mark a directory as holding a study (any one of them).
const STUDY_FILES: [&str; 3] = [DB_FILE, "trials.csv", "study.yaml"];

/// The study file as stored: without its budget, the only part `--resume` may change.
fn as_run(config: &StudyConfig, path: &Path) -> Result<String> {
    serde_saphyr::to_string(&StudyConfig {
        budget: config::Budget {
            trials: None,
            seconds: None,
        },
        ..config.clone()
    })
    .map_err(|e| Error::config(path, e.to_string()))
}

impl Study {
    /// Validates `config` (file at `config_path`) completely — models, space, eval data,
    /// metric names, the searcher, the initial recipe — before anything is written, then
    /// creates the study in `dir` or, with `resume`, continues it. The directory is locked
    /// while the returned study lives.
    pub fn open(config_path: &Path, dir: &Path, resume: bool) -> Result<Self> {
        let config = StudyConfig::load(config_path)?;
        let space = config.space(config_path)?;
        // The initial recipe must plan: this checks every model directory and that their
        // tensors match, before anything is scored.
        Plan::build(space.decode(&space.init), config_path)?;
        let baselines =
            super::baselines::resolve(config.baselines.as_deref(), &config.merge, config_path)?;
        let enqueued = super::enqueue::genotypes(&config.enqueue, &space, config_path)?;
        let suite = Suite::load(&config.evals)?;
        let harnesses = suite.resolve(Split::Search)?;
        let mut objectives = Objectives::new(&config, &harnesses, config_path)?;
        let schedule = config
            .pruner
            .as_ref()
            .map(|p| super::halving::schedule(p, &harnesses, config.seed, config_path))
            .transpose()?;
        let ranks = Arc::new(RankCache::new(
            config.rank_cache_mb.unwrap_or(1024).saturating_mul(1 << 20),
        ));
        let (fresh, trainer) = match &config.searcher {
            SearcherConfig::Adamerging(ada) => {
                let searcher_err = |e: mergesearch_searchers::SearchError| {
                    Error::config(config_path, format!("searcher: {e}"))
                };
                ada.check().map_err(searcher_err)?;
                let adam = Adam::new(
                    space.bounds.clone(),
                    space.init.clone(),
                    ada.adam().map_err(searcher_err)?,
                )
                .map_err(searcher_err)?;
                let opts = crate::merge::MergeOptions {
                    seed: config.seed,
                    ranks: Some(ranks.clone()),
                };
                let trainer = Trainer::new(&space, ada, &suite, opts, config_path)?;
                (
                    StudySearcher::Gradient(Box::new(GradientState::new(adam))),
                    Some((trainer, ada.clone())),
                )
            }
            other => {
                let problem = objectives.problem(space.bounds.clone())?;
                let built = mergesearch_searchers::build(
                    other,
                    problem,
                    Some(space.init.clone()),
                    config.seed,
                    // A Latin hypercube stratifies over the whole trial budget.
                    config.budget.trials,
                )
                .map_err(|e| Error::config(config_path, format!("searcher: {e}")))?;
                (StudySearcher::Ask(built), None)
            }
        };
        let fingerprint = fingerprint::fingerprint(&config.evals, &suite)?;
        let stored_config = as_run(&config, config_path)?;

        if dir.exists() && !dir.is_dir() {
            return Err(Error::study(
                dir,
                "is a file, not a directory: pass a directory to --out",
            ));
        }
        let db_path = dir.join(DB_FILE);
        let marks: Vec<&str> = STUDY_FILES
            .iter()
            .copied()
            .filter(|f| dir.join(f).exists())
            .collect();
        if !resume && !marks.is_empty() {
            return Err(Error::config(
                config_path,
                format!(
                    "study directory {} already holds a study ({}): pass --resume to continue it, or choose another `name` or --out",
                    dir.display(),
                    marks.join(", ")
                ),
            ));
        }
        if resume && !db_path.exists() {
            let what = if marks.is_empty() {
                "there is no study".to_string()
            } else {
                format!("{} is missing (found {})", DB_FILE, marks.join(", "))
            };
            return Err(Error::study(
                dir,
                format!(
                    "--resume: {what}; nothing was changed (run without --resume to start a new study; pass the same --out as the first run)"
                ),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = StudyLock::acquire(dir)?;
        let mut storage: Box<dyn Storage> = Box::new(SqliteStorage::open(&db_path, &config.name)?);
        let searcher = if resume {
            let s = check_resumable(dir, storage.as_ref(), &stored_config, &fingerprint)?;
            if objectives.reference.is_none() {
                if let Some(r) = storage.meta("reference_point")? {
                    objectives.reference = Some(serde_json::from_str(&r).map_err(|e| {
                        storage_error(storage.as_ref(), format!("meta `reference_point`: {e}"))
                    })?);
                }
            }
            s
        } else {
            let snapshot =
                serde_json::to_string(&fresh).map_err(|e| Error::model("searcher snapshot", e))?;
            let genes = serde_json::to_string(&space.labels())
                .map_err(|e| Error::model("gene labels", e))?;
            let fp = serde_json::to_string(&fingerprint)
                .map_err(|e| Error::model("suite fingerprint", e))?;
            storage.create_study(
                &[
                    ("config", stored_config),
                    ("genes", genes),
                    ("suite_fingerprint", fp),
                ],
                &snapshot,
            )?;
            fresh
        };
        let text = std::fs::read_to_string(config_path).map_err(|e| Error::io(config_path, e))?;
        crate::atomic::write(&dir.join("study.yaml"), text.as_bytes())?;
        let mut metrics: Vec<String> = harnesses
            .iter()
            .flat_map(|h| h.metric_names())
            .map(|(n, _)| n)
            .collect();
        if let Some((trainer, ada)) = &trainer {
            // The gradient loop's own metrics: the smoothed objective, the step, each task's
            // batch loss.
            metrics.push(format!("adamerging/{}", objective_name(ada.objective)));
            metrics.push("adamerging/step".into());
            metrics.extend(
                trainer
                    .tasks
                    .iter()
                    .map(|t| format!("adamerging/{}", t.name)),
            );
        }
        for m in config
            .objectives
            .iter()
            .map(|o| &o.metric)
            .chain(config.constraints.iter().map(|c| &c.metric))
        {
            if !metrics.contains(m) {
                metrics.push(m.clone());
            }
        }
        let columns = Columns {
            objectives: objectives.names(),
            metrics,
            genes: space.labels(),
            senses: objectives.to_minimized(&vec![1.0; objectives.objectives.len()]),
            baselines: Vec::new(),
            halving: schedule.is_some(),
        };
        Ok(Self {
            config,
            dir: dir.to_path_buf(),
            space,
            objectives,
            suite,
            harnesses,
            storage,
            searcher,
            trainer,
            baselines,
            enqueued,
            schedule,
            ranks,
            columns,
            _lock: lock,
        })
    }
}

fn storage_error(storage: &dyn Storage, msg: String) -> Error {
    Error::Storage {
        location: storage.location(),
        study: storage.study().to_string(),
        trial: None,
        msg,
    }
}

/// The checks before a study continues: the storage holds the study and every trial the
/// views have seen, the study file and eval suite are unchanged, and the searcher snapshot
/// agrees with the stored trials. Returns the restored searcher. Nothing is written.
fn check_resumable(
    dir: &Path,
    storage: &dyn Storage,
    stored_config: &str,
    fingerprint: &Fingerprint,
) -> Result<StudySearcher> {
    let untouched = "nothing was changed; restore the database from a backup, or start a new study with another --out";
    if !storage.exists()? {
        return Err(Error::study(
            dir,
            format!(
                "{} holds no study `{}` (the database was emptied or replaced, or its write-ahead log study.db-wal was lost after a crash); {untouched}",
                DB_FILE,
                storage.study()
            ),
        ));
    }
    match storage.meta("config")? {
        Some(c) if c == stored_config => {}
        Some(_) => {
            return Err(Error::study(
                dir,
                format!(
                    "the study file differs from the one stored in {DB_FILE} (only `budget` may change on --resume)"
                ),
            ))
        }
        None => {
            return Err(Error::study(
                dir,
                format!("{DB_FILE} holds no study file (metadata `config` is missing); {untouched}"),
            ))
        }
    }
    let stored_fp: Fingerprint = match storage.meta("suite_fingerprint")? {
        Some(t) => serde_json::from_str(&t).map_err(|e| {
            storage_error(
                storage,
                format!("meta `suite_fingerprint` does not parse: {e}"),
            )
        })?,
        None => {
            return Err(Error::study(
                dir,
                format!("{DB_FILE} holds no eval-suite fingerprint; {untouched}"),
            ))
        }
    };
    let changed = fingerprint::changes(&stored_fp, fingerprint);
    if !changed.is_empty() {
        return Err(Error::study(
            dir,
            format!(
                "--resume: the eval suite changed since the study started ({}); trials scored under different suites cannot share one front: restore the files, or start a new study with another --out",
                changed.join("; ")
            ),
        ));
    }
    let trials = storage.trials()?;
    let stored: std::collections::BTreeSet<u64> = trials
        .iter()
        .filter(|t| t.state.is_finished())
        .map(|t| t.id)
        .collect();
    let listed = views::listed_trials(dir);
    let lost: Vec<u64> = listed
        .iter()
        .copied()
        .filter(|i| !stored.contains(i))
        .collect();
    if !lost.is_empty() {
        return Err(Error::study(
            dir,
            format!(
                "trials.csv lists {} finished trial(s) that {DB_FILE} does not hold (first: trial {}): the database lost trials (was study.db-wal deleted after a crash?); {untouched}",
                lost.len(),
                lost[0]
            ),
        ));
    }
    let snapshot = storage
        .snapshot()?
        .ok_or_else(|| storage_error(storage, "no searcher snapshot".into()))?;
    let searcher: StudySearcher = serde_json::from_str(&snapshot).map_err(|e| {
        storage_error(
            storage,
            format!("the searcher snapshot does not parse: {e}"),
        )
    })?;
    let running: Vec<u64> = trials
        .iter()
        .filter(|t| t.state == TrialState::Running)
        .map(|t| t.id)
        .collect();
    if searcher.pending() != running {
        return Err(storage_error(
            storage,
            format!(
                "the searcher snapshot awaits trials {:?} but the running trials are {:?}: the snapshot and the trials disagree",
                searcher.pending(),
                running
            ),
        ));
    }
    Ok(searcher)
}
