//! Sample-efficiency benchmarks behind `mergesearch bench optimizers --efficiency`: what a
//! searcher achieves in tens to hundreds of evaluations, asked one point at a time (the
//! regime of a merge study, where one evaluation costs minutes).
//!
//! - [`regret_table`]: median simple regret (best value seen − known optimum) over seeds after
//!   each checkpoint, on the [`testbed::single_objective_suite`], beside Optuna 5
//!   `GPSampler(seed)` medians measured on a 2-core x86-64 machine (the issue's numbers).
//! - [`hypervolume_table`]: median hypervolume of every evaluation so far (reference point
//!   1.1 per objective) on the [`testbed::multi_objective_suite`], beside Optuna's numbers.
//! - [`ask_time_table`]: wall time of one `bo` proposal after `n` observations.

use std::time::Instant;

use rayon::prelude::*;

use crate::functions::median;
use crate::testbed::{self, MultiObjectiveProblem, TestProblem};
use crate::{build, pareto, Outcome, Searcher, SearcherConfig};

/// Optuna 5 `GPSampler` median simple regret (10 seeds) after 50 and 100 evaluations,
/// measured on a 2-core x86-64 machine (reported in the issue that asked for BO).
pub const OPTUNA_GP_REGRET: [(&str, f64, f64); 4] = [
    ("branin", 3.6e-5, 1.2e-5),
    ("hartmann6", 4.6e-3, 2.1e-4),
    ("ackley10", 6.8, 3.6),
    ("rosenbrock10", 1.8e4, 3.2e3),
];

/// Reference hypervolumes (same source): `(problem, evaluations, what, value)`.
pub const OPTUNA_HYPERVOLUME: [(&str, usize, &str, f64); 5] = [
    ("zdt1", 100, "Optuna GP (log EHVI)", 0.57),
    ("zdt2", 100, "Optuna GP (log EHVI)", 0.11),
    ("dtlz2", 200, "Optuna TPE", 0.36),
    ("dtlz2", 200, "Optuna NSGA-II", 0.06),
    ("dtlz2", 200, "Optuna random", 0.05),
];

/// A searcher by its study-file spelling, e.g. `{"type": "bo"}`.
pub fn searcher(json: &str) -> SearcherConfig {
    serde_json::from_str(json).expect("benchmark searcher configs are valid")
}

/// Best-so-far regret after each evaluation of one run (`budget` evaluations, asked and told
/// one at a time, trial ids `0..budget`).
pub fn regret_trace(
    config: &SearcherConfig,
    p: &TestProblem,
    seed: u64,
    budget: usize,
) -> Vec<f64> {
    let mut s = build(config, p.problem(), None, seed, None).expect("valid searcher");
    let mut best = f64::INFINITY;
    (0..budget as u64)
        .map(|t| {
            let x = s.ask(t).expect("fresh trial id");
            let v = (p.f)(&x);
            best = best.min(v);
            s.tell(t, &Outcome::scored(vec![v])).expect("asked above");
            p.simple_regret(best)
        })
        .collect()
}

/// Hypervolume of all evaluations after each evaluation of one run.
pub fn hypervolume_trace(
    config: &SearcherConfig,
    p: &MultiObjectiveProblem,
    seed: u64,
    budget: usize,
) -> Vec<f64> {
    let mut s = build(config, p.problem(), None, seed, None).expect("valid searcher");
    let mut pts: Vec<Vec<f64>> = Vec::new();
    (0..budget as u64)
        .map(|t| {
            let x = s.ask(t).expect("fresh trial id");
            let f = (p.f)(&x);
            pts.push(f.clone());
            s.tell(t, &Outcome::scored(f)).expect("asked above");
            pareto::hypervolume(&pts, &p.reference)
        })
        .collect()
}

/// Markdown table: median simple regret over `seeds` runs after each of `checkpoints`
/// evaluations, per problem of the single-objective suite and per searcher `(label, config)`,
/// with Optuna's GP medians at 50 and 100 as the last rows of each problem.
pub fn regret_table(
    searchers: &[(&str, SearcherConfig)],
    seeds: u64,
    checkpoints: &[usize],
) -> String {
    let budget = checkpoints.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "Median simple regret over {seeds} seeds, one point per ask\n\n| problem | searcher |{}\n|---|---|{}\n",
        checkpoints.iter().map(|c| format!(" @{c} |")).collect::<String>(),
        "---|".repeat(checkpoints.len())
    );
    for p in testbed::single_objective_suite() {
        for (label, config) in searchers {
            let runs: Vec<Vec<f64>> = (0..seeds)
                .into_par_iter()
                .map(|s| regret_trace(config, &p, s, budget))
                .collect();
            let mut row = format!("| {} | {label} |", p.name);
            for &c in checkpoints {
                let at: Vec<f64> = runs.iter().map(|r| r[c - 1]).collect();
                row.push_str(&format!(" {:.2e} |", median(&at)));
            }
            eprintln!("{row}");
            out.push_str(&row);
            out.push('\n');
        }
        if let Some((_, a, b)) = OPTUNA_GP_REGRET.iter().find(|(n, _, _)| *n == p.name) {
            out.push_str(&format!("| {} | Optuna GPSampler (reference) |", p.name));
            for &c in checkpoints {
                match c {
                    50 => out.push_str(&format!(" {a:.1e} |")),
                    100 => out.push_str(&format!(" {b:.1e} |")),
                    _ => out.push_str(" — |"),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Markdown table: median hypervolume (reference 1.1 per objective) of all evaluations after
/// each checkpoint, per problem of the multi-objective suite and per searcher, with the
/// reference values below each problem.
pub fn hypervolume_table(
    searchers: &[(&str, SearcherConfig)],
    seeds: u64,
    checkpoints: &[usize],
) -> String {
    let budget = checkpoints.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "Median hypervolume of all evaluations (reference 1.1 per objective) over {seeds} seeds\n\n| problem | searcher |{}\n|---|---|{}\n",
        checkpoints.iter().map(|c| format!(" @{c} |")).collect::<String>(),
        "---|".repeat(checkpoints.len())
    );
    for p in testbed::multi_objective_suite() {
        for (label, config) in searchers {
            let runs: Vec<Vec<f64>> = (0..seeds)
                .into_par_iter()
                .map(|s| hypervolume_trace(config, &p, s, budget))
                .collect();
            let mut row = format!("| {} | {label} |", p.name);
            for &c in checkpoints {
                let at: Vec<f64> = runs.iter().map(|r| r[c - 1]).collect();
                row.push_str(&format!(" {:.3} |", median(&at)));
            }
            eprintln!("{row}");
            out.push_str(&row);
            out.push('\n');
        }
        for (_, at, what, v) in OPTUNA_HYPERVOLUME.iter().filter(|r| r.0 == p.name) {
            out.push_str(&format!("| {} | {what} (reference) |", p.name));
            for &c in checkpoints {
                if c == *at {
                    out.push_str(&format!(" {v:.2} |"));
                } else {
                    out.push_str(" — |");
                }
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "| {} | true front (for scale) | {:.3} |\n",
            p.name, p.front_hypervolume
        ));
    }
    out
}

/// Markdown table: wall time of the `bo` proposal (one `ask`) after each of `sizes`
/// observations of a 10-dimensional problem (the sphere on `[−5, 10]^10`, one point per ask):
/// the median over the 5 asks ending at each size.
pub fn ask_time_table(sizes: &[usize], seed: u64) -> String {
    let d = 10;
    let p = crate::Problem::single(
        crate::Bounds::new(vec![-5.0; d], vec![10.0; d]).expect("valid box"),
    );
    let mut s = build(&searcher(r#"{"type": "bo"}"#), p, None, seed, None).expect("valid searcher");
    let last = sizes.iter().copied().max().unwrap_or(0);
    let mut times = Vec::new();
    for t in 0..=last as u64 {
        let start = Instant::now();
        let x = s.ask(t).expect("fresh trial id");
        times.push(start.elapsed().as_secs_f64());
        let v: f64 = x.iter().map(|v| v * v).sum();
        s.tell(t, &Outcome::scored(vec![v])).expect("asked above");
    }
    let mut out = String::from(
        "bo proposal time in 10 dimensions (median of the 5 asks ending at n observations)\n\n| observations | seconds per ask |\n|---|---|\n",
    );
    for &n in sizes {
        let window = &times[n.saturating_sub(4)..=n];
        out.push_str(&format!("| {n} | {:.4} |\n", median(window)));
    }
    out
}
