//! The SQLite backend of [`Storage`]: one database file per study directory (`study.db`),
//! nothing to install (SQLite is built by cargo).
//!
//! WAL journal with `synchronous = NORMAL`: every commit survives a killed process (the WAL
//! is in the OS cache); after each finished trial a passive checkpoint copies the WAL into
//! `study.db`, so the main file alone holds every finished trial but the newest at any time.
//! Writers take `BEGIN IMMEDIATE` transactions and wait up to [`BUSY_TIMEOUT`] for each
//! other, so several handles (threads or processes) can share one file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{NewTrial, Storage};
use crate::error::{Error, Result};
use crate::study::trial::{unix_now, MetricMap, Rung, Trial, TrialState};

/// How long a writer waits for another one's transaction.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema version kept in `PRAGMA user_version`. Version 3 added `rungs`; a version-2 file
/// is upgraded when opened for writing (the table is new, nothing else changes) and read as
/// it is otherwise.
const SCHEMA_VERSION: i64 = 3;

/// The table version 3 added: one row per rung a trial reached under successive halving.
/// `scores` (per-example scores) is kept only while the trial runs.
const RUNGS: &str = "
CREATE TABLE IF NOT EXISTS rungs (
    study TEXT NOT NULL,
    trial INTEGER NOT NULL,
    rung INTEGER NOT NULL,
    examples INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    scalar REAL NOT NULL,
    violation REAL NOT NULL,
    promoted INTEGER NOT NULL,
    scores TEXT,
    reported_at REAL NOT NULL,
    PRIMARY KEY (study, trial, rung)
);";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS studies (
    name TEXT PRIMARY KEY,
    next_trial INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    study TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (study, key)
);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL,
    id INTEGER NOT NULL,
    state TEXT NOT NULL,
    genotype TEXT NOT NULL,
    recipe TEXT NOT NULL,
    metrics TEXT,
    objectives TEXT,
    scalar REAL,
    feasible INTEGER,
    error TEXT,
    hypervolume REAL,
    heldout TEXT,
    seed INTEGER NOT NULL,
    started_at REAL NOT NULL,
    seconds REAL,
    PRIMARY KEY (study, id)
);";

/// A study stored in an SQLite file.
pub struct SqliteStorage {
    conn: Connection,
    path: PathBuf,
    study: String,
    /// Whether the file has the `rungs` table (a version-2 file opened read-only has not).
    has_rungs: bool,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .field("study", &self.study)
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (creating the file and schema if needed) the database at `path` for study
    /// `study`, for reading and writing.
    pub fn open(path: &Path, study: &str) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| sql_err(path, study, None, e))?;
        let mut s = Self {
            conn,
            path: path.to_path_buf(),
            study: study.to_string(),
            has_rungs: true,
        };
        s.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| s.err(None, e))?;
        s.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| s.err(None, e))?;
        s.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| s.err(None, e))?;
        s.check_schema(true)?;
        Ok(s)
    }

    /// Opens an existing database for reading only (`report`, `export`): works on a study
    /// directory the user cannot write to, and never creates anything.
    pub fn open_read_only(path: &Path, study: &str) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::study(
                path.parent().unwrap_or(Path::new(".")),
                format!("no study database here ({} does not exist)", path.display()),
            ));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let try_open = |conn: Connection| -> rusqlite::Result<Connection> {
            // Reading a WAL database needs its shared-memory index; this query fails early
            // where it cannot be had (a read-only directory without `study.db-shm`).
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(conn)
        };
        let conn = Connection::open_with_flags(path, flags)
            .and_then(try_open)
            .or_else(|_| {
                // A read-only directory: open the file as immutable (no locks, no WAL index).
                // Safe because nothing can be writing to a directory nobody can write to.
                let uri = format!("file:{}?immutable=1", path.display());
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                    .and_then(try_open)
            })
            .map_err(|e| sql_err(path, study, None, e))?;
        let mut s = Self {
            conn,
            path: path.to_path_buf(),
            study: study.to_string(),
            has_rungs: true,
        };
        s.check_schema(false)?;
        Ok(s)
    }

    fn err(&self, trial: Option<u64>, e: impl std::fmt::Display) -> Error {
        sql_err(&self.path, &self.study, trial, e)
    }

    fn bad(&self, trial: Option<u64>, msg: impl Into<String>) -> Error {
        Error::Storage {
            location: self.path.display().to_string(),
            study: self.study.clone(),
            trial,
            msg: msg.into(),
        }
    }

    /// Creates the schema in a new file, or checks that an existing file holds this schema
    /// (upgrading a version-2 file when writing).
    fn check_schema(&mut self, create: bool) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(None, e))?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.err(None, e))?;
        let install = |s: &Self, sql: &str| -> Result<()> {
            s.conn.execute_batch(sql).map_err(|e| s.err(None, e))?;
            s.conn
                .pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| s.err(None, e))
        };
        match version {
            SCHEMA_VERSION => Ok(()),
            2 if create => install(self, &format!("BEGIN IMMEDIATE; {RUNGS} COMMIT;")),
            2 => {
                self.has_rungs = false;
                Ok(())
            }
            0 if tables == 0 && create => install(self, &format!("{SCHEMA}{RUNGS}")),
            0 if tables == 0 => Err(self.bad(None, "the database is empty (no study in it)")),
            v => Err(self.bad(
                None,
                format!(
                    "the database has schema version {v}, this mergesearch reads versions 2 and {SCHEMA_VERSION} (written by another version of mergesearch, or not a study database)"
                ),
            )),
        }
    }

    /// Every stored rung of the study, by trial id.
    fn rungs_by_trial(&self) -> Result<std::collections::HashMap<u64, Vec<Rung>>> {
        let mut out: std::collections::HashMap<u64, Vec<Rung>> = Default::default();
        if !self.has_rungs {
            return Ok(out);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT trial, rung, examples, metrics, scalar, violation, promoted FROM rungs
                 WHERE study = ?1 ORDER BY trial, rung",
            )
            .map_err(|e| self.err(None, e))?;
        let rows = stmt
            .query_map([&self.study], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as usize,
                    r.get::<_, i64>(2)? as usize,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(None, e))?;
        for (id, rung, examples, metrics, scalar, violation, promoted) in rows {
            let metrics: MetricMap = self
                .json(id, "rungs.metrics", Some(metrics))?
                .unwrap_or_default();
            out.entry(id).or_default().push(Rung {
                rung,
                examples,
                metrics,
                scalar,
                violation,
                promoted,
            });
        }
        Ok(out)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        id: u64,
        column: &str,
        text: Option<String>,
    ) -> Result<Option<T>> {
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| {
                self.bad(
                    Some(id),
                    format!("column `{column}` does not parse ({e}): {t:.80}"),
                )
            })
        })
        .transpose()
    }
}

fn sql_err(path: &Path, study: &str, trial: Option<u64>, e: impl std::fmt::Display) -> Error {
    Error::Storage {
        location: path.display().to_string(),
        study: study.to_string(),
        trial,
        msg: e.to_string(),
    }
}

fn to_text(m: &Option<MetricMap>) -> Option<String> {
    m.as_ref()
        .map(|m| serde_json::Value::Object(m.clone()).to_string())
}

/// One row of `trials`, before its JSON columns are parsed.
struct Row {
    id: u64,
    state: String,
    genotype: String,
    recipe: String,
    metrics: Option<String>,
    objectives: Option<String>,
    scalar: Option<f64>,
    feasible: Option<bool>,
    error: Option<String>,
    hypervolume: Option<f64>,
    heldout: Option<String>,
    seed: i64,
    started_at: f64,
    seconds: Option<f64>,
}

impl Storage for SqliteStorage {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn study(&self) -> &str {
        &self.study
    }

    fn exists(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM studies WHERE name = ?1",
                [&self.study],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(None, e))
    }

    fn create_study(&mut self, meta: &[(&str, String)], snapshot: &str) -> Result<()> {
        let (path, study) = (self.path.clone(), self.study.clone());
        let e = |x: rusqlite::Error| sql_err(&path, &study, None, x);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let n: i64 = tx
            .query_row(
                "SELECT count(*) FROM studies WHERE name = ?1",
                [&study],
                |r| r.get(0),
            )
            .map_err(e)?;
        if n > 0 {
            return Err(sql_err(&path, &study, None, "the study already exists"));
        }
        tx.execute(
            "INSERT INTO studies (name, next_trial, snapshot, created_at) VALUES (?1, 1, ?2, ?3)",
            params![study, snapshot, unix_now()],
        )
        .map_err(e)?;
        for (k, v) in meta {
            tx.execute(
                "INSERT INTO meta (study, key, value) VALUES (?1, ?2, ?3)",
                params![study, k, v],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE study = ?1 AND key = ?2",
                params![self.study, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(None, e))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (study, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(study, key) DO UPDATE SET value = excluded.value",
                params![self.study, key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(None, e))
    }

    fn create_trial(&mut self, propose: &mut dyn FnMut(u64) -> Result<NewTrial>) -> Result<Trial> {
        let (path, study) = (self.path.clone(), self.study.clone());
        let e = |x: rusqlite::Error| sql_err(&path, &study, None, x);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let next: Option<i64> = tx
            .query_row(
                "SELECT max(next_trial, (SELECT coalesce(max(id), 0) + 1 FROM trials WHERE study = ?1))
                 FROM studies WHERE name = ?1",
                [&study],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)?;
        let Some(id) = next else {
            return Err(sql_err(&path, &study, None, "the study does not exist"));
        };
        let id = id as u64;
        // On error the transaction is dropped, i.e. rolled back: nothing is stored.
        let new = propose(id)?;
        let trial = Trial::running(id, new.genotype, new.recipe, new.seed);
        let g = serde_json::to_string(&trial.genotype)
            .map_err(|x| sql_err(&path, &study, Some(id), x))?;
        tx.execute(
            "INSERT INTO trials (study, id, state, genotype, recipe, seed, started_at)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6)",
            params![
                study,
                id as i64,
                g,
                trial.recipe,
                trial.seed as i64,
                trial.started_at
            ],
        )
        .map_err(e)?;
        tx.execute(
            "UPDATE studies SET next_trial = ?2, snapshot = ?3 WHERE name = ?1",
            params![study, id as i64 + 1, new.snapshot],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(trial)
    }

    fn restart_trial(&mut self, id: u64) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE trials SET started_at = ?3 WHERE study = ?1 AND id = ?2 AND state = 'running'",
                params![self.study, id as i64, unix_now()],
            )
            .map_err(|e| self.err(Some(id), e))?;
        if n == 0 {
            return Err(self.bad(Some(id), "no running trial with this id"));
        }
        Ok(())
    }

    fn finish_trial(&mut self, t: &Trial, snapshot: &str) -> Result<()> {
        if !t.state.is_finished() {
            return Err(self.bad(
                Some(t.id),
                "finish_trial needs a complete, failed or pruned trial",
            ));
        }
        let (path, study) = (self.path.clone(), self.study.clone());
        let e = |x: rusqlite::Error| sql_err(&path, &study, Some(t.id), x);
        let objectives = t
            .objectives
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|x| self.bad(Some(t.id), x.to_string()))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let n = tx
            .execute(
                "UPDATE trials SET state = ?3, metrics = ?4, objectives = ?5, scalar = ?6,
                 feasible = ?7, error = ?8, hypervolume = ?9, seconds = ?10
                 WHERE study = ?1 AND id = ?2 AND state = 'running'",
                params![
                    study,
                    t.id as i64,
                    t.state.as_str(),
                    to_text(&t.metrics),
                    objectives,
                    t.scalar,
                    t.feasible,
                    t.error,
                    t.hypervolume,
                    t.seconds,
                ],
            )
            .map_err(e)?;
        if n == 0 {
            return Err(sql_err(
                &path,
                &study,
                Some(t.id),
                "no running trial with this id (a finished trial is never overwritten)",
            ));
        }
        tx.execute(
            "UPDATE studies SET snapshot = ?2 WHERE name = ?1",
            params![study, snapshot],
        )
        .map_err(e)?;
        tx.execute(
            "UPDATE rungs SET scores = NULL WHERE study = ?1 AND trial = ?2",
            params![study, t.id as i64],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        // Copy the WAL into the main file so that `study.db` alone holds the study. PASSIVE
        // never waits for readers; a checkpoint that cannot finish now finishes later.
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|x| self.err(Some(t.id), x))
    }

    fn report_rung(&mut self, id: u64, rung: &Rung, scores: &str) -> Result<()> {
        let (path, study) = (self.path.clone(), self.study.clone());
        let e = |x: rusqlite::Error| sql_err(&path, &study, Some(id), x);
        let metrics = serde_json::Value::Object(rung.metrics.clone()).to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let running: i64 = tx
            .query_row(
                "SELECT count(*) FROM trials WHERE study = ?1 AND id = ?2 AND state = 'running'",
                params![study, id as i64],
                |r| r.get(0),
            )
            .map_err(e)?;
        if running == 0 {
            return Err(sql_err(
                &path,
                &study,
                Some(id),
                "no running trial with this id",
            ));
        }
        let exists: i64 = tx
            .query_row(
                "SELECT count(*) FROM rungs WHERE study = ?1 AND trial = ?2 AND rung = ?3",
                params![study, id as i64, rung.rung as i64],
                |r| r.get(0),
            )
            .map_err(e)?;
        if exists > 0 {
            return Err(sql_err(
                &path,
                &study,
                Some(id),
                format!(
                    "rung {} is already stored (a rung is never overwritten)",
                    rung.rung
                ),
            ));
        }
        tx.execute(
            "INSERT INTO rungs (study, trial, rung, examples, metrics, scalar, violation,
             promoted, scores, reported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                study,
                id as i64,
                rung.rung as i64,
                rung.examples as i64,
                metrics,
                rung.scalar,
                rung.violation,
                rung.promoted,
                scores,
                unix_now()
            ],
        )
        .map_err(e)?;
        tx.commit().map_err(e)
    }

    fn rung_scores(&self, id: u64) -> Result<Vec<(usize, String)>> {
        if !self.has_rungs {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT rung, scores FROM rungs WHERE study = ?1 AND trial = ?2
                 AND scores IS NOT NULL ORDER BY rung",
            )
            .map_err(|e| self.err(Some(id), e))?;
        stmt.query_map(params![self.study, id as i64], |r| {
            Ok((r.get::<_, i64>(0)? as usize, r.get::<_, String>(1)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| self.err(Some(id), e))
    }

    fn set_heldout(&mut self, id: u64, metrics: &MetricMap) -> Result<()> {
        let text = serde_json::Value::Object(metrics.clone()).to_string();
        let n = self
            .conn
            .execute(
                "UPDATE trials SET heldout = ?3 WHERE study = ?1 AND id = ?2 AND state != 'running'",
                params![self.study, id as i64, text],
            )
            .map_err(|e| self.err(Some(id), e))?;
        if n == 0 {
            return Err(self.bad(Some(id), "no finished trial with this id"));
        }
        Ok(())
    }

    fn trials(&self) -> Result<Vec<Trial>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, state, genotype, recipe, metrics, objectives, scalar, feasible, error,
                 hypervolume, heldout, seed, started_at, seconds FROM trials WHERE study = ?1
                 ORDER BY id",
            )
            .map_err(|e| self.err(None, e))?;
        let rows = stmt
            .query_map([&self.study], |r| {
                Ok(Row {
                    id: r.get::<_, i64>(0)? as u64,
                    state: r.get(1)?,
                    genotype: r.get(2)?,
                    recipe: r.get(3)?,
                    metrics: r.get(4)?,
                    objectives: r.get(5)?,
                    scalar: r.get(6)?,
                    feasible: r.get(7)?,
                    error: r.get(8)?,
                    hypervolume: r.get(9)?,
                    heldout: r.get(10)?,
                    seed: r.get(11)?,
                    started_at: r.get(12)?,
                    seconds: r.get(13)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<Row>>>())
            .map_err(|e| self.err(None, e))?;
        let mut rungs = self.rungs_by_trial()?;
        rows.into_iter()
            .map(|r| {
                let id = r.id;
                let state = TrialState::parse(&r.state).ok_or_else(|| {
                    self.bad(
                        Some(id),
                        format!(
                            "state `{}` is not one of running, complete, failed, pruned",
                            r.state
                        ),
                    )
                })?;
                let genotype: Vec<f64> = self
                    .json(id, "genotype", Some(r.genotype))?
                    .unwrap_or_default();
                if genotype.is_empty() {
                    return Err(self.bad(Some(id), "column `genotype` is empty"));
                }
                let objectives: Option<Vec<f64>> = self.json(id, "objectives", r.objectives)?;
                let trial = Trial {
                    id,
                    state,
                    genotype,
                    recipe: r.recipe,
                    metrics: self.json(id, "metrics", r.metrics)?,
                    objectives,
                    scalar: r.scalar,
                    feasible: r.feasible,
                    error: r.error,
                    hypervolume: r.hypervolume,
                    heldout: self.json(id, "heldout", r.heldout)?,
                    seed: r.seed as u64,
                    started_at: r.started_at,
                    seconds: r.seconds,
                    rungs: rungs.remove(&id).unwrap_or_default(),
                };
                if matches!(state, TrialState::Complete | TrialState::Pruned)
                    && (trial.metrics.is_none() || trial.objectives.is_none())
                {
                    return Err(self.bad(
                        Some(id),
                        format!("a {state} trial without metrics or objectives"),
                    ));
                }
                Ok(trial)
            })
            .collect()
    }

    fn snapshot(&self) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT snapshot FROM studies WHERE name = ?1",
                [&self.study],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(None, e))
    }
}
