//! `objectives.svg`: the first two objectives of every scored trial, in metric units, with
//! the feasible Pareto front highlighted and joined by its attainment staircase. A study with
//! one objective is drawn as objective value over trial id instead.
//!
//! Markers: feasible trials are filled circles (larger and red on the front), infeasible
//! trials grey crosses, baselines labelled green triangles; legend swatches are squares, so
//! `<circle>` elements are exactly the feasible trials.

use plotters::prelude::*;

use super::{axis_label, colours, padded, scored, Area, Drawn};
use crate::study::{Objectives, Trial};

/// Radius of a feasible marker off the front.
const R: i32 = 4;
/// Radius of a front marker.
const R_FRONT: i32 = 6;

pub(super) fn draw(
    root: &Area<'_>,
    trials: &[Trial],
    objectives: &Objectives,
    baselines: &[super::Marker],
) -> Drawn {
    let (feasible, infeasible) = scored(trials);
    let front = objectives.front(trials);
    let two = objectives.objectives.len() >= 2;
    // (x, y) of a trial: its first two objectives, or (id, objective) with one objective.
    let xy = |t: &Trial| -> (f64, f64) {
        let o = t.objectives.as_deref().unwrap_or(&[]);
        let v = |i: usize| o.get(i).copied().unwrap_or(f64::NAN);
        if two {
            (v(0), v(1))
        } else {
            (t.id as f64, v(0))
        }
    };
    let all: Vec<(f64, f64)> = feasible.iter().chain(&infeasible).map(|t| xy(t)).collect();
    // Baselines in the two-objective view: labelled triangles.
    let marks: Vec<(&str, (f64, f64))> = baselines
        .iter()
        .filter(|(_, v)| two && v.len() >= 2)
        .map(|(n, v)| (n.as_str(), (v[0], v[1])))
        .collect();
    let (x_desc, y_desc) = if two {
        (axis_label(objectives, 0), axis_label(objectives, 1))
    } else {
        ("trial".to_string(), axis_label(objectives, 0))
    };
    let caption = format!(
        "{} scored trials: {} feasible, {} infeasible, {} on the front",
        all.len(),
        feasible.len(),
        infeasible.len(),
        front.len()
    );
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            padded(all.iter().chain(marks.iter().map(|m| &m.1)).map(|p| p.0)),
            padded(all.iter().chain(marks.iter().map(|m| &m.1)).map(|p| p.1)),
        )?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .draw()?;

    let swatch = |c: RGBColor| {
        move |(x, y): (i32, i32)| Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], c.filled())
    };
    let (on, off): (Vec<&&Trial>, Vec<&&Trial>) =
        feasible.iter().partition(|t| front.contains(&t.id));
    if !infeasible.is_empty() {
        chart
            .draw_series(
                infeasible
                    .iter()
                    .map(|t| Cross::new(xy(t), R, colours::INFEASIBLE.stroke_width(2))),
            )?
            .label("infeasible")
            .legend(swatch(colours::INFEASIBLE));
    }
    chart
        .draw_series(
            off.iter()
                .map(|t| Circle::new(xy(t), R, colours::FEASIBLE.mix(0.7).filled())),
        )?
        .label("feasible")
        .legend(swatch(colours::FEASIBLE));
    let front_label = if two { "Pareto front" } else { "best" };
    if two {
        chart.draw_series(LineSeries::new(
            staircase(objectives, &on),
            colours::FRONT.stroke_width(2),
        ))?;
    }
    chart
        .draw_series(
            on.iter()
                .map(|t| Circle::new(xy(t), R_FRONT, colours::FRONT.filled())),
        )?
        .label(front_label)
        .legend(swatch(colours::FRONT));
    if !marks.is_empty() {
        chart
            .draw_series(
                marks
                    .iter()
                    .map(|(_, p)| TriangleMarker::new(*p, 8, colours::BASELINE.filled())),
            )?
            .label("baseline")
            .legend(swatch(colours::BASELINE));
        chart.draw_series(
            marks
                .iter()
                .map(|(n, p)| Text::new(n.to_string(), *p, ("sans-serif", 12))),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The boundary of the region the front dominates, in metric units of the first two
/// objectives: sorted by the first minimized objective, each point holds its second
/// objective until the next point's first objective.
fn staircase(objectives: &Objectives, front: &[&&Trial]) -> Vec<(f64, f64)> {
    let mut pts: Vec<Vec<f64>> = front
        .iter()
        .filter_map(|t| t.objectives.as_ref())
        .map(|o| objectives.to_minimized(&o[..2]))
        .collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(b[1].total_cmp(&a[1])));
    let mut steps = Vec::new();
    for (i, p) in pts.iter().enumerate() {
        if i > 0 {
            steps.push(vec![p[0], pts[i - 1][1]]);
        }
        steps.push(p.clone());
    }
    // Minimized coordinates back to metric units (`to_minimized` is its own inverse).
    steps
        .into_iter()
        .map(|m| {
            let v = objectives.to_minimized(&m);
            (v[0], v[1])
        })
        .collect()
}
