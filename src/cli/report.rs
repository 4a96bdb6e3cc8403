//! `mergesearch report`: a study's Pareto table, summary and SVG plots.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use mergesearch::report;
use mergesearch::study::{self, Storage, TrialState};

use super::search::pareto_table;

/// `mergesearch report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Study directory.
    pub study_dir: PathBuf,
}

/// Prints the study's Pareto table and a summary, and draws its plots (`plots/*.svg`; on a
/// read-only study directory the plots are skipped with a note).
pub fn run_report(a: ReportArgs) -> Result<()> {
    let cfg_path = a.study_dir.join("study.yaml");
    let (cfg, storage) = study::open_read_only(&a.study_dir)?;
    let trials = storage.trials()?;
    let harnesses =
        mergesearch_evals::Suite::load(&cfg.evals)?.resolve(mergesearch_evals::Split::Search)?;
    let objectives = study::Objectives::new(&cfg, &harnesses, &cfg_path)?;
    let names = objectives.names();
    let front = objectives.front(&trials);
    let rows: Vec<study::Validated> = trials
        .iter()
        .filter(|t| front.contains(&t.id))
        .map(|t| study::Validated {
            id: t.id,
            search: t.objectives.clone().unwrap_or_default(),
            error: None,
            heldout: names
                .iter()
                .map(|n| {
                    t.heldout
                        .as_ref()
                        .and_then(|h| h.get(n))
                        .and_then(|v| v.as_f64())
                        .unwrap_or(f64::NAN)
                })
                .collect(),
        })
        .collect();
    let count = |state: TrialState| trials.iter().filter(|t| t.state == state).count();
    let failed = count(TrialState::Failed);
    let pruned = match count(TrialState::Pruned) {
        0 => String::new(),
        n => format!(", {n} pruned"),
    };
    println!(
        "study `{}`: {} trials ({failed} failed{pruned}), Pareto front of {}, hypervolume {:.4}",
        cfg.name,
        trials.len(),
        rows.len(),
        objectives.hypervolume(&trials)
    );
    print!("{}", pareto_table(&names, &rows));
    let baselines = study::baselines::stored(&storage, &study::baselines::names(&cfg))?;
    print!("{}", study::baselines::table_rows(&objectives, &baselines));
    let front: Vec<(u64, Vec<f64>)> = rows.iter().map(|r| (r.id, r.heldout.clone())).collect();
    print!(
        "{}",
        study::baselines::dominance_summary(&objectives, &baselines, &front)
    );
    let markers: Vec<report::Marker> = baselines
        .iter()
        .filter_map(|b| Some((b.name.clone(), objectives.baseline_values(b).0?)))
        .collect();
    let writable = std::fs::metadata(&a.study_dir)
        .map(|m| !m.permissions().readonly())
        .unwrap_or(false)
        && tempfile::tempfile_in(&a.study_dir).is_ok();
    if !writable {
        println!(
            "no plots: {} is read-only (copy the study elsewhere to draw them)",
            a.study_dir.display()
        );
        return Ok(());
    }
    // The space needs the base model's config.json (paths relative to the current directory,
    // as in mergekit); without it the plots that only need the stored trials are still drawn.
    let plots = match cfg.space(&cfg_path) {
        Ok(space) => report::write_plots(&a.study_dir, &trials, &objectives, &markers, &space)?,
        Err(e) => {
            let paths =
                report::write_space_free_plots(&a.study_dir, &trials, &objectives, &markers)?;
            println!("no coefficients plot: the search space cannot be rebuilt ({e})");
            paths
        }
    };
    for p in plots {
        println!("wrote {}", p.display());
    }
    Ok(())
}
