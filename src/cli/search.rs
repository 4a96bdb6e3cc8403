//! `mergesearch search`: run (or resume) a study, validate its front on the held-out split.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mergesearch::study::{self, Observer, Study, StudyConfig, TrialEvent, TrialState};

/// `mergesearch search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Study file (YAML).
    pub study: PathBuf,
    /// Continue the study in its directory: finished trials are kept, an interrupted one is
    /// re-run, the searcher continues from its snapshot.
    #[arg(long)]
    pub resume: bool,
    /// Study directory (default `results/NAME`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most padded tokens per forward pass (sequences × longest length); default: derived
    /// from the model's shape and half the memory available when it is loaded
    /// (with `--parallel N`, each candidate sizes its batches from 1/N of it).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch_tokens: Option<u64>,
    /// Candidates evaluated at once (each holds its own lazy candidate in memory).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub parallel: u64,
}

/// The progress display: a bar on a terminal, one line per trial otherwise; sums the
/// driver's overhead for the closing line.
struct Progress {
    bar: ProgressBar,
    tty: bool,
    names: Vec<String>,
    overhead: f64,
    worst: f64,
    trial_time: f64,
    n: usize,
}

impl Observer for Progress {
    fn finished(&mut self, e: &TrialEvent) -> mergesearch::Result<()> {
        let t = e.trial;
        self.overhead += e.overhead_seconds;
        self.worst = self.worst.max(e.overhead_seconds);
        self.trial_time += t.seconds.unwrap_or(0.0) + e.overhead_seconds;
        self.n += 1;
        let values = |o: &[f64]| {
            self.names
                .iter()
                .zip(o)
                .map(|(n, v)| format!("{n}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let what = match (&t.state, &t.objectives, t.rungs.last()) {
            (TrialState::Complete, Some(o), _) => values(o),
            (TrialState::Pruned, Some(o), Some(r)) => format!(
                "pruned at rung {} ({} examples): {}",
                r.rung,
                r.examples,
                values(o)
            ),
            _ => format!("failed: {}", t.error.as_deref().unwrap_or("?")),
        };
        // A gradient study's trials are its logged steps: show the step and the loss.
        let what = match t.metrics.as_ref().and_then(|m| {
            let step = m.get("adamerging/step")?.as_f64()?;
            let (k, v) = m
                .iter()
                .find(|(k, _)| *k == "adamerging/entropy" || *k == "adamerging/cross_entropy")?;
            Some(format!("step {step:.0} {k}={:.4} ", v.as_f64()?))
        }) {
            Some(step) => step + &what,
            None => what,
        };
        let best = e
            .best_scalar
            .map_or_else(|| "–".to_string(), |b| format!("{b:.4}"));
        let msg = format!(
            "best {best}  hv {:.4}  {:.2} s/trial",
            t.hypervolume.unwrap_or(0.0),
            t.seconds.unwrap_or(0.0)
        );
        if self.tty {
            self.bar.set_position(e.finished as u64);
            self.bar.set_message(msg);
        } else {
            eprintln!("trial {:>4}: {what}  ({msg})", t.id);
        }
        Ok(())
    }
}

/// Runs (or resumes) a study, validates its front on the held-out split and prints it.
pub fn run_search(a: SearchArgs) -> Result<()> {
    mergesearch::runtime::set_threads(a.threads)?;
    mergesearch::runtime::set_max_batch_tokens(a.max_batch_tokens.map(|n| n as usize));
    mergesearch::runtime::set_concurrent_models(a.parallel as usize);
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
            eprintln!("\nstopping after the running trial(s) (Ctrl-C again to exit now)");
        });
    }
    let budget = cfg.planned_trials().unwrap_or(0) as u64;
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
        "study `{}` in {}: {} genes, {} objective(s), searcher {}, {} at a time",
        cfg.name,
        dir.display(),
        study.space.dim(),
        study.objectives.objectives.len(),
        serde_json::to_string(&cfg.searcher).unwrap_or_default(),
        a.parallel
    );
    let names = study.objectives.names();
    if cfg.baselines.is_none() && !study.baseline_names().is_empty() {
        eprintln!(
            "baseline: task arithmetic λ = 0.3 over the study's models (the default; `baselines: []` turns it off)"
        );
    }
    let baselines = study.score_baselines(|b, stored| {
        let values = names
            .iter()
            .map(|n| {
                let v = b
                    .search
                    .as_ref()
                    .and_then(|m| m.get(n))
                    .and_then(|v| v.as_f64());
                format!("{n}={}", v.map_or("–".into(), |v| format!("{v:.4}")))
            })
            .collect::<Vec<_>>()
            .join(" ");
        let how = if stored { "stored" } else { "scored" };
        match &b.error {
            Some(e) => eprintln!("baseline {}: failed ({how}): {e}", b.name),
            None => eprintln!("baseline {}: {values} ({how})", b.name),
        }
    })?;
    if let (Some(spec), Some(schedule)) = (&study.config.pruner, study.schedule()) {
        eprintln!("{}", study::halving::describe(spec, schedule));
    }
    let mut progress = Progress {
        bar,
        tty,
        names: study.objectives.names(),
        overhead: 0.0,
        worst: 0.0,
        trial_time: 0.0,
        n: 0,
    };
    if study.is_gradient() && a.parallel > 1 {
        eprintln!(
            "note: adamerging takes one gradient step at a time; --parallel {} does not apply",
            a.parallel
        );
    }
    let summary = if study.is_gradient() {
        study.run_gradient(&stop, &mut [&mut progress])?
    } else {
        study.run(&stop, a.parallel as usize, &mut [&mut progress])?
    };
    progress.bar.finish_and_clear();
    let trials = summary.trials;
    let finished = trials.iter().filter(|t| t.state.is_finished()).count();
    if progress.n > 0 {
        eprintln!(
            "driver overhead (ask, tell, storage, CSVs, hypervolume, snapshot): {:.1} ms per trial on average, {:.1} ms at most, {:.2}% of trial wall time",
            1e3 * progress.overhead / progress.n as f64,
            1e3 * progress.worst,
            100.0 * progress.overhead / progress.trial_time.max(1e-12)
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
    for name in study.split_blind_harnesses() {
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
    let count = |state: TrialState| trials.iter().filter(|t| t.state == state).count();
    let pruned = match count(TrialState::Pruned) {
        0 => String::new(),
        n => format!(", {n} pruned"),
    };
    println!(
        "{finished} trials ({} failed{pruned}) in {}",
        count(TrialState::Failed),
        dir.display()
    );
    if study.schedule().is_some() {
        let full = study.search_examples();
        let scored = study::halving::examples_scored(&trials, full);
        println!(
            "examples scored: {scored} of the {} a full evaluation of every trial takes ({:.0}%)",
            full * finished,
            100.0 * scored as f64 / (full * finished).max(1) as f64
        );
    }
    print!("{}", pareto_table(&study.objectives.names(), &validated));
    print!(
        "{}",
        study::baselines::table_rows(&study.objectives, &baselines)
    );
    let front: Vec<(u64, Vec<f64>)> = validated
        .iter()
        .map(|v| (v.id, v.heldout.clone()))
        .collect();
    print!(
        "{}",
        study::baselines::dominance_summary(&study.objectives, &baselines, &front)
    );
    Ok(())
}

/// The Pareto table printed by `search` and `report`: search and held-out columns side by
/// side per objective.
pub fn pareto_table(names: &[String], v: &[study::Validated]) -> String {
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
