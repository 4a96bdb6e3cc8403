//! `mergesearch report` plots: SVG files under `STUDY_DIR/plots/`, drawn from the stored
//! trials alone (nothing is re-evaluated).
//!
//! ```text
//! plots/objectives.svg    first two objectives (metric units): feasible, infeasible, Pareto front
//! plots/convergence.svg   best scalar so far and hypervolume over trial id
//! plots/coefficients.svg  per-layer searched coefficients of up to three front trials
//! plots/training.svg      gradient (AdaMerging) studies: the smoothed objective and the
//!                         search-split metrics over the optimizer step
//! ```
//!
//! Only plotters' SVG backend is used: text is written as `<text>` elements and laid out with
//! plotters' built-in size estimate, so no system font is needed to draw or read the files.

mod coefficients;
mod convergence;
mod scatter;
mod training;

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::space::SearchSpace;
use crate::study::{Objectives, Trial, TrialState};

pub use coefficients::plotted_trials;

/// The plot directory of a study.
pub fn plot_dir(study_dir: &Path) -> PathBuf {
    study_dir.join("plots")
}

/// Writes all three plots into `study_dir/plots/` and returns their paths.
pub fn write_plots(
    study_dir: &Path,
    trials: &[Trial],
    objectives: &Objectives,
    baselines: &[Marker],
    space: &SearchSpace,
) -> Result<Vec<PathBuf>> {
    let mut paths = write_space_free_plots(study_dir, trials, objectives, baselines)?;
    paths.push(write_coefficients(study_dir, trials, objectives, space)?);
    Ok(paths)
}

/// Writes the plots that need no search space (objectives and convergence, and for a
/// gradient study the training curve): what a study whose models are gone can still show.
pub fn write_space_free_plots(
    study_dir: &Path,
    trials: &[Trial],
    objectives: &Objectives,
    baselines: &[Marker],
) -> Result<Vec<PathBuf>> {
    let mut paths = vec![
        write_objectives(study_dir, trials, objectives, baselines)?,
        write_convergence(study_dir, trials, objectives)?,
    ];
    if training::objective_metric(trials).is_some() {
        paths.push(write_svg(study_dir, "training.svg", (900, 700), |root| {
            training::draw(root, trials, objectives)
        })?);
    }
    Ok(paths)
}

/// A reference point drawn in the objectives plot: a baseline's name and its objective
/// values on the search split (metric units).
pub type Marker = (String, Vec<f64>);

/// Writes `plots/objectives.svg`, with `baselines` as labelled reference markers.
pub fn write_objectives(
    study_dir: &Path,
    trials: &[Trial],
    objectives: &Objectives,
    baselines: &[Marker],
) -> Result<PathBuf> {
    write_svg(study_dir, "objectives.svg", (900, 650), |root| {
        scatter::draw(root, trials, objectives, baselines)
    })
}

/// Writes `plots/convergence.svg`.
pub fn write_convergence(
    study_dir: &Path,
    trials: &[Trial],
    objectives: &Objectives,
) -> Result<PathBuf> {
    write_svg(study_dir, "convergence.svg", (900, 700), |root| {
        convergence::draw(root, trials, objectives)
    })
}

/// Writes `plots/coefficients.svg`.
pub fn write_coefficients(
    study_dir: &Path,
    trials: &[Trial],
    objectives: &Objectives,
    space: &SearchSpace,
) -> Result<PathBuf> {
    let params = coefficients::params(space).len().max(1) as u32;
    write_svg(
        study_dir,
        "coefficients.svg",
        (1000, 360 * params),
        |root| coefficients::draw(root, trials, objectives, space),
    )
}

/// What drawing returns: plotters' errors, boxed.
type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// The drawing area every plot draws on.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Draws into a string, then writes `plots/NAME` atomically (temporary file + rename), so a
/// reader never sees half a plot.
fn write_svg(
    study_dir: &Path,
    name: &str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Drawn,
) -> Result<PathBuf> {
    let dir = plot_dir(study_dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(name);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(Into::into));
        drawn.map_err(|e| Error::io(&path, std::io::Error::other(format!("drawing: {e}"))))?;
    }
    crate::atomic::write(&path, svg.as_bytes())?;
    Ok(path)
}

/// Complete trials with objectives, split into (feasible, infeasible).
fn scored(trials: &[Trial]) -> (Vec<&Trial>, Vec<&Trial>) {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.objectives.is_some())
        .partition(|t| t.feasible == Some(true))
}

/// `[lo, hi]` of `values` widened by 5% on each side (by 0.5 when they are all equal, and
/// `[0, 1]` when there are none), so markers never sit on the frame.
fn padded(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad)..(hi + pad)
}

/// An axis label: the metric and its direction.
fn axis_label(objectives: &Objectives, i: usize) -> String {
    let o = &objectives.objectives[i];
    let dir = match o.direction {
        mergesearch_evals::Direction::Maximize => "maximize ↑",
        mergesearch_evals::Direction::Minimize => "minimize ↓",
    };
    format!("{} ({dir})", o.metric)
}

/// Marker colours shared by the plots.
mod colours {
    use plotters::style::RGBColor;
    /// Feasible, off the front.
    pub const FEASIBLE: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
    /// On the Pareto front.
    pub const FRONT: RGBColor = RGBColor(0xd6, 0x27, 0x28);
    /// Infeasible (a constraint fails).
    pub const INFEASIBLE: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);
    /// A baseline recipe (reference marker).
    pub const BASELINE: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
    /// Series colours (matplotlib's tab10).
    pub const SERIES: [RGBColor; 10] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
        RGBColor(0xe3, 0x77, 0xc2),
        RGBColor(0x7f, 0x7f, 0x7f),
        RGBColor(0xbc, 0xbd, 0x22),
        RGBColor(0x17, 0xbe, 0xcf),
    ];
}
