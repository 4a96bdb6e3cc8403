//! Trial storage: one SQLite database per study (`study.db`), committed after every change
//! so a killed study loses nothing that finished.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

/// The state of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialState {
    /// Asked and being evaluated (or interrupted while it was).
    Running,
    /// Scored.
    Complete,
    /// Could not be scored; `error` says why.
    Failed,
}

impl TrialState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> TrialState {
        match s {
            "complete" => TrialState::Complete,
            "failed" => TrialState::Failed,
            _ => TrialState::Running,
        }
    }
}

/// One stored trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// 1-based, in ask order.
    pub id: u64,
    /// Running, complete or failed.
    pub state: TrialState,
    /// The genotype the searcher proposed.
    pub genotype: Vec<f64>,
    /// The decoded recipe (mergekit YAML).
    pub recipe: String,
    /// Every suite metric on the search split (complete trials).
    pub metrics: Option<serde_json::Map<String, serde_json::Value>>,
    /// Objective values in metric units, in declared order (complete trials).
    pub objectives: Option<Vec<f64>>,
    /// The minimized weighted sum of objectives (complete trials).
    pub scalar: Option<f64>,
    /// Whether every constraint holds (complete trials).
    pub feasible: Option<bool>,
    /// Why the trial failed.
    pub error: Option<String>,
    /// Hypervolume of the study's Pareto front after this trial.
    pub hypervolume: Option<f64>,
    /// Metrics on the held-out split (final validation).
    pub heldout: Option<serde_json::Map<String, serde_json::Value>>,
    /// Seed of random merge masks.
    pub seed: u64,
    /// Unix time the trial started.
    pub started_at: f64,
    /// Seconds of planning plus lazy merging and scoring.
    pub seconds: Option<f64>,
}

impl Trial {
    /// A trial just asked: running, nothing scored yet, started now.
    pub fn running(id: u64, genotype: Vec<f64>, recipe: String, seed: u64) -> Self {
        Self {
            id,
            state: TrialState::Running,
            genotype,
            recipe,
            metrics: None,
            objectives: None,
            scalar: None,
            feasible: None,
            error: None,
            hypervolume: None,
            heldout: None,
            seed,
            started_at: unix_now(),
            seconds: None,
        }
    }
}

/// The study database.
pub struct Storage {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("path", &self.path).finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
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
    seconds REAL
);";

fn json_map(text: Option<String>) -> Option<serde_json::Map<String, serde_json::Value>> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

impl Storage {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let e = |m: rusqlite::Error| Error::io(path, std::io::Error::other(m.to_string()));
        let conn = Connection::open(path).map_err(e)?;
        // WAL + synchronous=NORMAL: each commit survives a killed process; FULL would add an
        // fsync per trial for power-loss durability we do not need here.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(e)?;
        conn.execute_batch(SCHEMA).map_err(e)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, m: rusqlite::Error) -> Error {
        Error::io(&self.path, std::io::Error::other(m.to_string()))
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a metadata value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a newly asked trial as running.
    pub fn insert_running(&self, id: u64, genotype: &[f64], recipe: &str, seed: u64) -> Result<()> {
        let g = serde_json::to_string(genotype).expect("floats serialize");
        let now = unix_now();
        self.conn
            .execute(
                "INSERT INTO trials (id, state, genotype, recipe, seed, started_at)
                 VALUES (?1, 'running', ?2, ?3, ?4, ?5)",
                params![id as i64, g, recipe, seed as i64, now],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Marks a running trial as started again (a resumed study re-runs it).
    pub fn restart(&self, id: u64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE trials SET started_at = ?2 WHERE id = ?1",
                params![id as i64, unix_now()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Stores the outcome of trial `t.id` (state, metrics, objectives, error, timings).
    pub fn finish(&self, t: &Trial) -> Result<()> {
        let to_text = |m: &Option<serde_json::Map<String, serde_json::Value>>| {
            m.as_ref()
                .map(|m| serde_json::Value::Object(m.clone()).to_string())
        };
        self.conn
            .execute(
                "UPDATE trials SET state = ?2, metrics = ?3, objectives = ?4, scalar = ?5,
                 feasible = ?6, error = ?7, hypervolume = ?8, seconds = ?9 WHERE id = ?1",
                params![
                    t.id as i64,
                    t.state.as_str(),
                    to_text(&t.metrics),
                    t.objectives
                        .as_ref()
                        .map(|o| serde_json::to_string(o).expect("floats serialize")),
                    t.scalar,
                    t.feasible,
                    t.error,
                    t.hypervolume,
                    t.seconds,
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Stores the held-out metrics of trial `id`.
    pub fn set_heldout(
        &self,
        id: u64,
        metrics: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let text = serde_json::Value::Object(metrics.clone()).to_string();
        self.conn
            .execute(
                "UPDATE trials SET heldout = ?2 WHERE id = ?1",
                params![id as i64, text],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every trial, in id order.
    pub fn trials(&self) -> Result<Vec<Trial>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, state, genotype, recipe, metrics, objectives, scalar, feasible, error,
                 hypervolume, heldout, seed, started_at, seconds FROM trials ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let genotype: String = r.get(2)?;
                let objectives: Option<String> = r.get(5)?;
                Ok(Trial {
                    id: r.get::<_, i64>(0)? as u64,
                    state: TrialState::parse(&r.get::<_, String>(1)?),
                    genotype: serde_json::from_str(&genotype).unwrap_or_default(),
                    recipe: r.get(3)?,
                    metrics: json_map(r.get(4)?),
                    objectives: objectives.and_then(|o| serde_json::from_str(&o).ok()),
                    scalar: r.get(6)?,
                    feasible: r.get(7)?,
                    error: r.get(8)?,
                    hypervolume: r.get(9)?,
                    heldout: json_map(r.get(10)?),
                    seed: r.get::<_, i64>(11)? as u64,
                    started_at: r.get(12)?,
                    seconds: r.get(13)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
