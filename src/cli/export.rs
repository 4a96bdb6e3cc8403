//! `mergesearch export`: one trial of a study as an HF checkpoint with its mergekit YAML.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use mergesearch::merge::{self, MergeConfig, MergeOptions, Plan};
use mergesearch::study::{self, Storage};

/// `mergesearch export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Study directory.
    pub study_dir: PathBuf,
    /// Output directory for the checkpoint.
    pub out_dir: PathBuf,
    /// Trial id to export.
    #[arg(long, conflicts_with = "best", required_unless_present = "best")]
    pub trial: Option<u64>,
    /// Export the best feasible trial (lowest weighted objective).
    #[arg(long)]
    pub best: bool,
}

/// Writes one trial's merge as an HF checkpoint (and its mergekit YAML). Reads the study
/// without locking or writing it, so it works beside a running search and on a read-only
/// study directory.
pub fn run_export(a: ExportArgs) -> Result<()> {
    let (_, storage) = study::open_read_only(&a.study_dir)?;
    let trials = storage.trials()?;
    if trials.is_empty() {
        anyhow::bail!("{}: the study has no trials", a.study_dir.display());
    }
    let trial = match a.trial {
        Some(id) => trials.iter().find(|t| t.id == id).with_context(|| {
            format!(
                "{}: no trial {id} (trials {}..={})",
                a.study_dir.display(),
                trials[0].id,
                trials[trials.len() - 1].id
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
