//! `training.svg`, for gradient (AdaMerging) studies: two panels over the optimizer step.
//! Top: the smoothed training objective (`adamerging/entropy` or `adamerging/cross_entropy`,
//! averaged over the steps since the previous logged trial). Bottom: each objective's metric
//! on the search split at the logged steps — whether lowering the surrogate raised accuracy.

use plotters::prelude::*;

use super::{colours, padded, Area, Drawn};
use crate::study::{Objectives, Trial, TrialState};

/// The training objective's metric name of a gradient study's trials, if they carry one.
pub(super) fn objective_metric(trials: &[Trial]) -> Option<String> {
    let m = trials.iter().find_map(|t| t.metrics.as_ref())?;
    ["adamerging/entropy", "adamerging/cross_entropy"]
        .into_iter()
        .find(|k| m.contains_key(*k))
        .map(String::from)
}

/// A metric of every complete trial against its `adamerging/step`.
fn series(trials: &[Trial], metric: &str) -> Vec<(f64, f64)> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            let m = t.metrics.as_ref()?;
            Some((
                m.get("adamerging/step")?.as_f64()?,
                m.get(metric)?.as_f64()?,
            ))
        })
        .collect()
}

pub(super) fn draw(root: &Area<'_>, trials: &[Trial], objectives: &Objectives) -> Drawn {
    let Some(metric) = objective_metric(trials) else {
        return Ok(());
    };
    let panels = root.split_evenly((2, 1));
    let loss = series(trials, &metric);
    let steps = padded(loss.iter().map(|p| p.0));
    let mut top = ChartBuilder::on(&panels[0])
        .caption(
            format!("{metric} (smoothed, lower is better)"),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(steps.clone(), padded(loss.iter().map(|p| p.1)))?;
    top.configure_mesh()
        .x_desc("step")
        .y_desc(metric.as_str())
        .light_line_style(WHITE)
        .draw()?;
    top.draw_series(LineSeries::new(
        loss.iter().copied(),
        colours::FRONT.stroke_width(2),
    ))?;
    let names = objectives.names();
    let curves: Vec<Vec<(f64, f64)>> = names.iter().map(|n| series(trials, n)).collect();
    let mut bottom = ChartBuilder::on(&panels[1])
        .caption("objectives on the search split", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(steps, padded(curves.iter().flatten().map(|p| p.1)))?;
    bottom
        .configure_mesh()
        .x_desc("step")
        .y_desc("metric")
        .light_line_style(WHITE)
        .draw()?;
    for (i, (name, curve)) in names.iter().zip(&curves).enumerate() {
        let c = colours::SERIES[i % colours::SERIES.len()];
        bottom
            .draw_series(LineSeries::new(curve.iter().copied(), c.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], c.filled()));
    }
    bottom
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
