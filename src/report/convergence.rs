//! `convergence.svg`: two panels over trial id. Top: each feasible trial's scalar (the
//! weighted objective sum the single-objective searchers see) and the best so far. When
//! every objective is maximized the scalar is shown negated, so higher is better, as in
//! the metrics. Bottom: the hypervolume of the feasible front after each trial.

use mergesearch_evals::Direction;
use plotters::prelude::*;

use super::{colours, padded, Area, Drawn};
use crate::study::{Objectives, Trial, TrialState};

pub(super) fn draw(root: &Area<'_>, trials: &[Trial], objectives: &Objectives) -> Drawn {
    let panels = root.split_evenly((2, 1));
    let maximize = objectives
        .objectives
        .iter()
        .all(|o| o.direction == Direction::Maximize);
    let sign = if maximize { -1.0 } else { 1.0 };
    let scalars: Vec<(f64, f64)> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.feasible == Some(true))
        .filter_map(|t| t.scalar.map(|s| (t.id as f64, sign * s)))
        .collect();
    let mut best = Vec::new();
    for &(id, s) in &scalars {
        let b = best.last().map_or(
            s,
            |&(_, b): &(f64, f64)| {
                if maximize {
                    s.max(b)
                } else {
                    s.min(b)
                }
            },
        );
        best.push((id, b));
    }
    let hv: Vec<(f64, f64)> = trials
        .iter()
        .filter_map(|t| t.hypervolume.map(|h| (t.id as f64, h)))
        .collect();
    let ids = padded(trials.iter().map(|t| t.id as f64));
    let (y_desc, which) = if maximize {
        (
            "weighted objective sum (higher is better)",
            "best so far (max)",
        )
    } else {
        ("minimized scalar (lower is better)", "best so far (min)")
    };

    let mut top = ChartBuilder::on(&panels[0])
        .caption("scalar view", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(ids.clone(), padded(scalars.iter().map(|p| p.1)))?;
    top.configure_mesh()
        .x_desc("trial")
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .draw()?;
    let swatch = |c: RGBColor| {
        move |(x, y): (i32, i32)| Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], c.filled())
    };
    top.draw_series(
        scalars
            .iter()
            .map(|&p| Circle::new(p, 3, colours::FEASIBLE.mix(0.5).filled())),
    )?
    .label("feasible trial")
    .legend(swatch(colours::FEASIBLE));
    top.draw_series(LineSeries::new(
        steps(&best),
        colours::FRONT.stroke_width(2),
    ))?
    .label(which)
    .legend(swatch(colours::FRONT));
    top.configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;

    let mut bottom = ChartBuilder::on(&panels[1])
        .caption("hypervolume of the feasible front", ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(ids, padded(hv.iter().map(|p| p.1)))?;
    bottom
        .configure_mesh()
        .x_desc("trial")
        .y_desc("hypervolume")
        .light_line_style(WHITE)
        .draw()?;
    bottom.draw_series(LineSeries::new(
        steps(&hv),
        colours::SERIES[2].stroke_width(2),
    ))?;
    Ok(())
}

/// A running value as a step function: it holds until the next trial changes it.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * points.len());
    for (i, &p) in points.iter().enumerate() {
        if i > 0 {
            out.push((p.0, points[i - 1].1));
        }
        out.push(p);
    }
    out
}
