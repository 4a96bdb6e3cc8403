//! `coefficients.svg`: the searched per-layer coefficients of the best few trials, one panel
//! per searched parameter. Each (model, tensor group) is one colour; each trial one line
//! style (solid, dashed, dotted). Layer groups are expanded to layers with the study's
//! `layer_granularity`, so a line steps where a gene ends.

use plotters::prelude::*;

use super::{colours, Area, Drawn};
use crate::space::SearchSpace;
use crate::study::{best_trial, Objectives, Trial};

/// How many trials are drawn at most.
const MAX_TRIALS: usize = 3;

/// The trials the plot shows: up to three front trials (the lowest scalars first), else the
/// best feasible trial by scalar. Trials whose genotype does not fit `space` are skipped.
pub fn plotted_trials<'a>(
    trials: &'a [Trial],
    objectives: &Objectives,
    space: &SearchSpace,
) -> Vec<&'a Trial> {
    let front = objectives.front(trials);
    let fits = |t: &&Trial| t.genotype.len() == space.dim();
    let mut picked: Vec<&Trial> = trials
        .iter()
        .filter(|t| front.contains(&t.id))
        .filter(fits)
        .collect();
    picked.sort_by(|a, b| {
        let s = |t: &Trial| t.scalar.unwrap_or(f64::INFINITY);
        s(a).total_cmp(&s(b)).then(a.id.cmp(&b.id))
    });
    picked.truncate(MAX_TRIALS);
    if picked.is_empty() {
        picked.extend(best_trial(trials).filter(fits));
    }
    picked
}

/// The searched parameters, in genotype order.
pub(super) fn params(space: &SearchSpace) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for g in &space.genes {
        if !out.contains(&g.param.as_str()) {
            out.push(&g.param);
        }
    }
    out
}

/// One line: a (model, tensor group) of one parameter, per layer, for one trial.
struct Line {
    series: String,
    values: Vec<(f64, f64)>,
}

/// The lines of `param` for genotype `x`.
fn lines(space: &SearchSpace, param: &str, x: &[f64]) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for (gene, &v) in space.genes.iter().zip(x) {
        if gene.param != param {
            continue;
        }
        let model = gene
            .model
            .map(|m| format!("{} · ", space.model_labels[m]))
            .unwrap_or_default();
        let series = format!("{model}{}", gene.filter.as_deref().unwrap_or("rest"));
        let first = gene.group * space.granularity;
        let last = ((gene.group + 1) * space.granularity).min(space.layers.max(1));
        let points = (first..last).map(|l| (l as f64, v));
        match out.iter_mut().find(|l| l.series == series) {
            Some(l) => l.values.extend(points),
            None => out.push(Line {
                series,
                values: points.collect(),
            }),
        }
    }
    out
}

pub(super) fn draw(
    root: &Area<'_>,
    trials: &[Trial],
    objectives: &Objectives,
    space: &SearchSpace,
) -> Drawn {
    let shown = plotted_trials(trials, objectives, space);
    let params = params(space);
    let panels = root.split_evenly((params.len().max(1), 1));
    let layers = space.layers.max(1) as f64;
    let trial_names: Vec<String> = shown.iter().map(|t| format!("trial {}", t.id)).collect();
    let styled: Vec<String> = trial_names
        .iter()
        .zip(["solid", "dashed", "dotted"])
        .map(|(t, s)| format!("{t} {s}"))
        .collect();
    for (param, panel) in params.iter().zip(&panels) {
        let bounds = space
            .genes
            .iter()
            .position(|g| g.param == *param)
            .map_or([0.0, 1.0], |i| [space.bounds.lo[i], space.bounds.hi[i]]);
        let pad = 0.05 * (bounds[1] - bounds[0]);
        let caption = if shown.is_empty() {
            format!("{param}: no feasible complete trial to show")
        } else {
            format!("{param} per layer: {}", styled.join(", "))
        };
        let mut chart = ChartBuilder::on(panel)
            .caption(caption, ("sans-serif", 18))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..layers - 0.5, bounds[0] - pad..bounds[1] + pad)?;
        chart
            .configure_mesh()
            .x_desc("layer")
            .y_desc(*param)
            .x_labels(space.layers.clamp(2, 24))
            .light_line_style(WHITE)
            .draw()?;
        for (k, t) in shown.iter().enumerate() {
            for (c, line) in lines(space, param, &t.genotype).into_iter().enumerate() {
                let colour = colours::SERIES[c % colours::SERIES.len()];
                let style = colour.stroke_width(2);
                let label = format!("{} ({})", line.series, trial_names[k]);
                let anno = match k {
                    0 => chart.draw_series(LineSeries::new(line.values, style))?,
                    1 => chart.draw_series(DashedLineSeries::new(line.values, 8, 5, style))?,
                    _ => chart.draw_series(DashedLineSeries::new(line.values, 2, 4, style))?,
                };
                // The legend names each colour once (with the first trial); the caption
                // lists the trials in line-style order: solid, dashed, dotted.
                if k == 0 {
                    anno.label(label).legend(move |(x, y)| {
                        PathElement::new(vec![(x - 8, y), (x + 8, y)], style)
                    });
                }
            }
        }
        if !shown.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        }
    }
    Ok(())
}
