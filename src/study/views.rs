//! `trials.csv` and `pareto.csv`: flat, pandas-friendly views of the study's storage.
//!
//! `trials.csv` gets one row **appended** per finished trial (rewriting it per trial made the
//! driver's cost grow with the study); it is rebuilt from the storage when a study is opened,
//! so a row lost to a crash between the storage commit and the append comes back.
//! `pareto.csv` is rewritten (atomically) when the front changes. Both are views: storage
//! is the source of truth.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::front::FrontChange;
use super::objectives::Objectives;
use super::observer::{Observer, TrialEvent};
use super::trial::Trial;
use crate::error::{Error, Result};

fn fmt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

fn csv_bytes(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>> {
    let io = |e: csv::Error| Error::io(path, std::io::Error::other(e.to_string()));
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    if !header.is_empty() {
        w.write_record(header).map_err(io)?;
    }
    for r in rows {
        w.write_record(r).map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}

/// The column layout of a study's CSV views, fixed when the study is opened.
#[derive(Debug, Clone)]
pub struct Columns {
    /// Objective metric names, in declared order.
    pub objectives: Vec<String>,
    /// Metric columns: every metric the suite declares, plus objective and constraint
    /// metrics of open-ended harnesses. Other metrics go to the `other_metrics` JSON column.
    pub metrics: Vec<String>,
    /// Gene labels.
    pub genes: Vec<String>,
    /// Per objective: 1 if minimized, −1 if maximized (minimized coordinate = sense × value).
    pub senses: Vec<f64>,
    /// The study's scored baselines, for `pareto.csv`'s `dominates` columns.
    pub baselines: Vec<BaselinePoint>,
    /// Whether the study prunes (successive halving): `trials.csv` then has `rung` (the last
    /// rung reached, 0-based) and `examples` (search-split examples scored) columns.
    pub halving: bool,
}

/// A baseline's objective vectors in minimized coordinates, where it could be scored.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselinePoint {
    /// Its name.
    pub name: String,
    /// On the search split.
    pub search: Option<Vec<f64>>,
    /// On the held-out split.
    pub heldout: Option<Vec<f64>>,
}

impl Columns {
    fn trials_header(&self) -> Vec<String> {
        let mut h: Vec<String> = [
            "trial",
            "state",
            "feasible",
            "scalar",
            "hypervolume",
            "seconds",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if self.halving {
            h.push("rung".into());
            h.push("examples".into());
        }
        h.extend(self.objectives.iter().map(|o| format!("objective:{o}")));
        h.extend(self.metrics.iter().map(|m| format!("metric:{m}")));
        h.extend(self.genes.iter().map(|g| format!("gene:{g}")));
        h.push("other_metrics".into());
        h.push("error".into());
        h
    }

    fn trial_row(&self, t: &Trial) -> Vec<String> {
        let mut r = vec![
            t.id.to_string(),
            t.state.as_str().to_string(),
            t.feasible.map(|f| f.to_string()).unwrap_or_default(),
            fmt(t.scalar),
            fmt(t.hypervolume),
            fmt(t.seconds),
        ];
        if self.halving {
            let last = t.rungs.last();
            r.push(last.map(|x| x.rung.to_string()).unwrap_or_default());
            r.push(last.map(|x| x.examples.to_string()).unwrap_or_default());
        }
        for i in 0..self.objectives.len() {
            r.push(fmt(t.objectives.as_ref().and_then(|o| o.get(i).copied())));
        }
        let metric = |m: &str| {
            t.metrics
                .as_ref()
                .and_then(|x| x.get(m))
                .and_then(|v| v.as_f64())
        };
        for m in &self.metrics {
            r.push(fmt(metric(m)));
        }
        for i in 0..self.genes.len() {
            r.push(fmt(t.genotype.get(i).copied()));
        }
        let other: serde_json::Map<String, serde_json::Value> = t
            .metrics
            .iter()
            .flatten()
            .filter(|(k, _)| !self.metrics.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        r.push(if other.is_empty() {
            String::new()
        } else {
            serde_json::Value::Object(other).to_string()
        });
        r.push(t.error.clone().unwrap_or_default());
        r
    }

    fn pareto_header(&self) -> Vec<String> {
        let mut h: Vec<String> = vec!["trial".into(), "scalar".into()];
        h.extend(self.objectives.iter().map(|o| format!("search:{o}")));
        h.extend(self.objectives.iter().map(|o| format!("heldout:{o}")));
        h.extend(self.genes.iter().map(|g| format!("gene:{g}")));
        h.push("dominates".into());
        h.push("dominates_heldout".into());
        h
    }

    /// The baselines `values` (objective units, `None` where missing) dominates, `;`-joined.
    fn dominated(&self, values: Option<Vec<f64>>, heldout: bool) -> String {
        let Some(v) = values else {
            return String::new();
        };
        let p: Vec<f64> = v.iter().zip(&self.senses).map(|(x, s)| x * s).collect();
        self.baselines
            .iter()
            .filter(|b| {
                let q = if heldout { &b.heldout } else { &b.search };
                q.as_ref()
                    .is_some_and(|q| super::baselines::dominates(&p, q))
            })
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }

    fn pareto_row(&self, t: &Trial) -> Vec<String> {
        let mut r = vec![t.id.to_string(), fmt(t.scalar)];
        for i in 0..self.objectives.len() {
            r.push(fmt(t.objectives.as_ref().and_then(|o| o.get(i).copied())));
        }
        for o in &self.objectives {
            r.push(fmt(t
                .heldout
                .as_ref()
                .and_then(|h| h.get(o))
                .and_then(|v| v.as_f64())));
        }
        for i in 0..self.genes.len() {
            r.push(fmt(t.genotype.get(i).copied()));
        }
        r.push(self.dominated(t.objectives.clone(), false));
        let held: Option<Vec<f64>> = t.heldout.as_ref().and_then(|h| {
            self.objectives
                .iter()
                .map(|o| h.get(o).and_then(|v| v.as_f64()))
                .collect()
        });
        r.push(self.dominated(held, true));
        r
    }
}

/// Rewrites `pareto.csv` in `dir` with `front` (trials in id order).
pub fn write_pareto(dir: &Path, columns: &Columns, front: &[&Trial]) -> Result<()> {
    let path = dir.join("pareto.csv");
    let rows: Vec<Vec<String>> = front.iter().map(|t| columns.pareto_row(t)).collect();
    let bytes = csv_bytes(&path, &columns.pareto_header(), &rows)?;
    crate::atomic::write_view(&path, &bytes)
}

/// Rewrites both views from `trials` (the storage's, in id order) whose feasible front is
/// `front`.
pub fn rewrite(dir: &Path, columns: &Columns, trials: &[Trial], front: &[u64]) -> Result<()> {
    let path = dir.join("trials.csv");
    let rows: Vec<Vec<String>> = trials
        .iter()
        .filter(|t| t.state.is_finished())
        .map(|t| columns.trial_row(t))
        .collect();
    let bytes = csv_bytes(&path, &columns.trials_header(), &rows)?;
    crate::atomic::write_view(&path, &bytes)?;
    let members: Vec<&Trial> = trials
        .iter()
        .filter(|t| front.binary_search(&t.id).is_ok())
        .collect();
    write_pareto(dir, columns, &members)
}

/// Trial ids listed in `dir/trials.csv` (empty if there is none); a damaged file lists the
/// rows it can read.
pub fn listed_trials(dir: &Path) -> Vec<u64> {
    let Ok(mut r) = csv::Reader::from_path(dir.join("trials.csv")) else {
        return Vec::new();
    };
    r.records()
        .filter_map(|rec| rec.ok()?.get(0)?.parse().ok())
        .collect()
}

/// The observer that keeps the CSV views current: appends each finished trial to
/// `trials.csv`; appends a trial that joins the front to `pareto.csv` (which stays in id
/// order), and rewrites `pareto.csv` only when members leave the front or a trial joins it
/// out of id order.
#[derive(Debug)]
pub struct CsvViews {
    dir: PathBuf,
    columns: Columns,
    file: Option<File>,
    /// Finished trials currently on the front, by id.
    front: std::collections::BTreeMap<u64, Trial>,
}

impl CsvViews {
    /// Views of the study in `dir` with the given columns.
    pub fn new(dir: &Path, columns: Columns) -> Self {
        Self {
            dir: dir.to_path_buf(),
            columns,
            file: None,
            front: Default::default(),
        }
    }
}

impl Observer for CsvViews {
    fn started(&mut self, _: &Objectives, trials: &[Trial], front: &[u64]) -> Result<()> {
        rewrite(&self.dir, &self.columns, trials, front)?;
        self.front = trials
            .iter()
            .filter(|t| front.binary_search(&t.id).is_ok())
            .map(|t| (t.id, t.clone()))
            .collect();
        let path = self.dir.join("trials.csv");
        self.file = Some(
            OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?,
        );
        Ok(())
    }

    fn finished(&mut self, e: &TrialEvent) -> Result<()> {
        let path = self.dir.join("trials.csv");
        let row = csv_bytes(&path, &[], &[self.columns.trial_row(e.trial)])?;
        if let Some(f) = &mut self.file {
            f.write_all(&row).map_err(|x| Error::io(&path, x))?;
        }
        let t = e.trial;
        let in_order = self
            .front
            .keys()
            .next_back()
            .is_none_or(|&last| last < t.id);
        match e.front_change {
            FrontChange::Unchanged => {}
            FrontChange::Added if in_order => {
                let path = self.dir.join("pareto.csv");
                let row = csv_bytes(&path, &[], &[self.columns.pareto_row(t)])?;
                OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| f.write_all(&row))
                    .map_err(|x| Error::io(&path, x))?;
                self.front.insert(t.id, t.clone());
            }
            FrontChange::Added | FrontChange::Replaced => {
                self.front.insert(t.id, t.clone());
                self.front.retain(|id, _| e.front.binary_search(id).is_ok());
                let members: Vec<&Trial> = self.front.values().collect();
                write_pareto(&self.dir, &self.columns, &members)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::front::FrontTracker;
    use crate::study::objectives::Objective;
    use crate::study::trial::{MetricMap, TrialState};
    use mergesearch_evals::Direction;

    /// `pareto.csv` kept by appends and occasional rewrites equals the file a from-scratch
    /// rewrite writes (`Objectives::front` over every trial), trial after trial, with ties,
    /// dominated trials and replacements, told in and out of id order.
    #[test]
    fn appended_pareto_csv_equals_a_rewrite() {
        let objectives = Objectives {
            objectives: ["a", "b"]
                .iter()
                .map(|m| Objective {
                    metric: m.to_string(),
                    direction: Direction::Maximize,
                    weight: 1.0,
                })
                .collect(),
            constraints: Vec::new(),
            reference: Some(vec![0.0, 0.0]),
        };
        let columns = Columns {
            objectives: objectives.names(),
            metrics: objectives.names(),
            genes: vec!["g".into()],
            senses: vec![-1.0, -1.0],
            baselines: Vec::new(),
            halving: false,
        };
        let tmp = tempfile::tempdir().unwrap();
        let (live, scratch) = (tmp.path().join("live"), tmp.path().join("scratch"));
        std::fs::create_dir_all(&live).unwrap();
        std::fs::create_dir_all(&scratch).unwrap();
        let mut views = CsvViews::new(&live, columns.clone());
        let mut tracker = FrontTracker::new(Some(vec![0.0, 0.0]));
        views.started(&objectives, &[], tracker.ids()).unwrap();
        // (id, a, b): ties of (0.5, 0.5), a dominated trial, a replacement, and trial 9
        // finishing after 10 (as with --parallel).
        let scores = [
            (1, 0.5, 0.5),
            (2, 0.5, 0.5),
            (3, 0.25, 0.25),
            (4, 1.0, 0.0),
            (5, 0.5, 0.5),
            (6, 0.75, 0.75),
            (7, 0.0, 1.0),
            (8, 0.75, 0.75),
            (10, 0.25, 0.75),
            (9, 0.75, 0.75),
        ];
        let mut done: Vec<Trial> = Vec::new();
        for (i, (id, a, b)) in scores.into_iter().enumerate() {
            let mut t = Trial::running(id, vec![a + b], String::new(), 0);
            let metrics: MetricMap =
                serde_json::from_value(serde_json::json!({"a": a, "b": b})).unwrap();
            let e = objectives.evaluate(&metrics).unwrap();
            t.state = TrialState::Complete;
            t.metrics = Some(metrics);
            t.objectives = Some(e.values.clone());
            t.scalar = Some(e.scalar);
            t.feasible = Some(true);
            let change = tracker.add(id, objectives.to_minimized(&e.values), e.scalar);
            let event = TrialEvent {
                trial: &t,
                finished: i + 1,
                best_scalar: tracker.best_scalar(),
                front: tracker.ids(),
                front_change: change,
                in_flight: 0,
                overhead_seconds: 0.0,
            };
            views.finished(&event).unwrap();
            done.push(t);
            done.sort_by_key(|t| t.id);
            let front = objectives.front(&done);
            assert_eq!(tracker.ids(), front.as_slice(), "after trial {id}");
            rewrite(&scratch, &columns, &done, &front).unwrap();
            let read = |d: &Path| std::fs::read_to_string(d.join("pareto.csv")).unwrap();
            assert_eq!(read(&live), read(&scratch), "after trial {id}");
        }
    }
}
