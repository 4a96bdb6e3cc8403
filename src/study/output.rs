//! `trials.csv` and `pareto.csv`: flat, pandas-friendly views of the study database,
//! rewritten atomically after every trial.

use std::collections::BTreeSet;
use std::path::Path;

use super::objectives::Objectives;
use super::storage::{Trial, TrialState};
use crate::error::{Error, Result};
use crate::space::SearchSpace;

fn fmt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

fn write_csv(path: &Path, header: Vec<String>, rows: Vec<Vec<String>>) -> Result<()> {
    let io = |e: csv::Error| Error::io(path, std::io::Error::other(e.to_string()));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(io)?;
    for r in rows {
        w.write_record(&r).map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    crate::atomic::write_view(path, &bytes)
}

/// Rewrites `trials.csv` (every trial) and `pareto.csv` (the feasible front) in `dir`.
pub fn write_csvs(
    dir: &Path,
    space: &SearchSpace,
    objectives: &Objectives,
    trials: &[Trial],
) -> Result<()> {
    let metric_names: BTreeSet<String> = trials
        .iter()
        .filter_map(|t| t.metrics.as_ref())
        .flat_map(|m| m.keys().cloned())
        .collect();
    let genes = space.labels();
    let obj = objectives.names();
    let mut header: Vec<String> = [
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
    header.extend(obj.iter().map(|o| format!("objective:{o}")));
    header.extend(metric_names.iter().map(|m| format!("metric:{m}")));
    header.extend(genes.iter().map(|g| format!("gene:{g}")));
    header.push("error".into());
    let row = |t: &Trial| {
        let mut r = vec![
            t.id.to_string(),
            t.state.as_str().to_string(),
            t.feasible.map(|f| f.to_string()).unwrap_or_default(),
            fmt(t.scalar),
            fmt(t.hypervolume),
            fmt(t.seconds),
        ];
        for i in 0..obj.len() {
            r.push(fmt(t.objectives.as_ref().map(|o| o[i])));
        }
        for m in &metric_names {
            r.push(fmt(t
                .metrics
                .as_ref()
                .and_then(|x| x.get(m))
                .and_then(|v| v.as_f64())));
        }
        for i in 0..genes.len() {
            r.push(fmt(t.genotype.get(i).copied()));
        }
        r.push(t.error.clone().unwrap_or_default());
        r
    };
    write_csv(
        &dir.join("trials.csv"),
        header,
        trials.iter().map(row).collect(),
    )?;

    let front = objectives.front(trials);
    let mut header: Vec<String> = vec!["trial".into(), "scalar".into()];
    header.extend(obj.iter().map(|o| format!("search:{o}")));
    header.extend(obj.iter().map(|o| format!("heldout:{o}")));
    header.extend(genes.iter().map(|g| format!("gene:{g}")));
    let rows = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && front.contains(&t.id))
        .map(|t| {
            let mut r = vec![t.id.to_string(), fmt(t.scalar)];
            for i in 0..obj.len() {
                r.push(fmt(t.objectives.as_ref().map(|o| o[i])));
            }
            for o in &obj {
                r.push(fmt(t
                    .heldout
                    .as_ref()
                    .and_then(|h| h.get(o))
                    .and_then(|v| v.as_f64())));
            }
            for i in 0..genes.len() {
                r.push(fmt(t.genotype.get(i).copied()));
            }
            r
        })
        .collect();
    write_csv(&dir.join("pareto.csv"), header, rows)
}
