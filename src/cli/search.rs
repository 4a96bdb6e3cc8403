//! `mergesearch search`, `export` and `report`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{ExportArgs, ReportArgs, SearchArgs};
use crate::merge::{self, MergeConfig, MergeOptions, Plan};
use crate::report;
use crate::space::SearchSpace;
use crate::study::{self, Study, StudyConfig, TrialState};

/// Runs (or resumes) a study, validates its front on the held-out split and prints it.
pub fn run_search(a: SearchArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    let cfg = StudyConfig::load(&a.study)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&cfg.name));
    let mut study = Study::open(&a.study, &dir, a.resume)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler cannot be installed in one process (tests call this once).
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond interrupt: exiting now (finished trials are saved)");
                std::process::exit(130);
            }
            eprintln!("\nstopping after the running trial (Ctrl-C again to exit now)");
        });
    }
    let budget = cfg.budget.trials.unwrap_or(0) as u64;
    let tty = std::io::stderr().is_terminal();
    let bar = ProgressBar::new(budget);
    if tty {
        // A time-only budget has no trial count to fill a bar with.
        let template = if budget > 0 {
            "{bar:30} {pos}/{len} trials {elapsed} {msg}"
        } else {
            "{pos} trials {elapsed} {msg}"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    eprintln!(
        "study `{}` in {}: {} genes, {} objective(s), searcher {}",
        cfg.name,
        dir.display(),
        study.space.dim(),
        study.objectives.objectives.len(),
        serde_json::to_string(&cfg.searcher).unwrap_or_default()
    );
    let names = study.objectives.names();
    let (mut overhead, mut trial_time, mut n, mut worst) = (0.0, 0.0, 0usize, 0f64);
    let trials = study.run(&stop, &mut |r| {
        let t = &r.trial;
        overhead += r.overhead_seconds;
        worst = worst.max(r.overhead_seconds);
        trial_time += t.seconds.unwrap_or(0.0) + r.overhead_seconds;
        n += 1;
        let what = match (&t.state, &t.objectives) {
            (TrialState::Complete, Some(o)) => names
                .iter()
                .zip(o)
                .map(|(n, v)| format!("{n}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" "),
            _ => format!("failed: {}", t.error.as_deref().unwrap_or("?")),
        };
        let best = r
            .best_scalar
            .map_or_else(|| "–".to_string(), |b| format!("{b:.4}"));
        let msg = format!(
            "best {best}  hv {:.4}  {:.2} s/trial",
            t.hypervolume.unwrap_or(0.0),
            t.seconds.unwrap_or(0.0)
        );
        if tty {
            bar.set_position(r.finished as u64);
            bar.set_message(msg);
        } else {
            eprintln!("trial {:>4}: {what}  ({msg})", t.id);
        }
    })?;
    bar.finish_and_clear();
    let finished = trials
        .iter()
        .filter(|t| t.state != TrialState::Running)
        .count();
    if n > 0 {
        eprintln!(
            "driver overhead (ask, tell, storage, CSVs, hypervolume, snapshot): {:.1} ms per trial on average, {:.1} ms at most, {:.2}% of trial wall time",
            1e3 * overhead / n as f64,
            1e3 * worst,
            100.0 * overhead / trial_time.max(1e-12)
        );
    }
    if stop.load(Ordering::SeqCst) {
        let out = a
            .out
            .as_ref()
            .map(|o| format!(" --out {}", o.display()))
            .unwrap_or_default();
        println!(
            "stopped after {finished} finished trial(s); continue with `mergesearch search {} --resume{out}`",
            a.study.display()
        );
        return Ok(());
    }
    let validated = study.validate()?;
    for name in study.split_blind_harnesses()? {
        eprintln!(
            "warning: harness `{name}` has no {{split}} in its command, so its held-out scores repeat its search scores"
        );
    }
    for v in validated.iter().filter(|v| v.error.is_some()) {
        eprintln!(
            "warning: trial {} could not be re-scored on the held-out split: {}",
            v.id,
            v.error.as_deref().unwrap_or_default()
        );
    }
    println!(
        "{finished} trials ({} failed) in {}",
        trials
            .iter()
            .filter(|t| t.state == TrialState::Failed)
            .count(),
        dir.display()
    );
    print!("{}", pareto_table(&names, &validated));
    Ok(())
}

fn pareto_table(names: &[String], v: &[study::Validated]) -> String {
    let mut s = String::from("| trial |");
    for n in names {
        s += &format!(" {n} (search) | {n} (held-out) |");
    }
    s += "\n|---|";
    s += &"---|---|".repeat(names.len());
    s += "\n";
    for row in v {
        s += &format!("| {} |", row.id);
        for i in 0..names.len() {
            s += &format!(" {:.4} | {:.4} |", row.search[i], row.heldout[i]);
        }
        s += "\n";
    }
    s
}

/// Writes one trial's merge as an HF checkpoint (and its mergekit YAML).
pub fn run_export(a: ExportArgs) -> Result<()> {
    let storage = study::Storage::open(&a.study_dir.join("study.db"))?;
    let trials = storage.trials()?;
    if trials.is_empty() {
        bail!("{}: the study has no trials", a.study_dir.display());
    }
    let trial = match a.trial {
        Some(id) => trials.iter().find(|t| t.id == id).with_context(|| {
            format!(
                "{}: no trial {id} (trials 1..={})",
                a.study_dir.display(),
                trials.len()
            )
        })?,
        None => study::best_trial(&trials)
            .with_context(|| format!("{}: no feasible complete trial", a.study_dir.display()))?,
    };
    let label = a.study_dir.join(format!("trial-{}.yaml", trial.id));
    let plan = Plan::build(MergeConfig::from_yaml(&trial.recipe, &label)?, &label)?;
    let opts = MergeOptions {
        seed: trial.seed,
        ..MergeOptions::default()
    };
    merge::run(&plan, &a.out_dir, &opts, u64::MAX, |_, _, _| {})?;
    println!(
        "exported trial {} ({}) to {} (recipe in mergekit_config.yml)",
        trial.id,
        trial.state.as_str(),
        a.out_dir.display()
    );
    Ok(())
}

/// Prints the study's Pareto table and a summary, and draws its plots (`plots/*.svg`).
pub fn run_report(a: ReportArgs) -> Result<()> {
    let cfg_path = a.study_dir.join("study.yaml");
    let cfg = StudyConfig::load(&cfg_path)?;
    let storage = study::Storage::open(&a.study_dir.join("study.db"))?;
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
    let failed = trials
        .iter()
        .filter(|t| t.state == TrialState::Failed)
        .count();
    println!(
        "study `{}`: {} trials ({failed} failed), Pareto front of {}, hypervolume {:.4}",
        cfg.name,
        trials.len(),
        rows.len(),
        objectives.hypervolume(&trials)
    );
    print!("{}", pareto_table(&names, &rows));
    // The space needs the base model's config.json (paths relative to the current directory,
    // as in mergekit); without it the plots that only need the stored trials are still drawn.
    let plots = match SearchSpace::new(cfg.merge.clone(), cfg.search.clone(), &cfg_path) {
        Ok(space) => report::write_plots(&a.study_dir, &trials, &objectives, &space)?,
        Err(e) => {
            let paths = report::write_space_free_plots(&a.study_dir, &trials, &objectives)?;
            println!("no coefficients plot: the search space cannot be rebuilt ({e})");
            paths
        }
    };
    for p in plots {
        println!("wrote {}", p.display());
    }
    Ok(())
}
