//! Standard test functions (all with minimum 0) and the CMA-ES benchmark table behind
//! `mergesearch bench optimizers`; the bounded benchmark against pycma is in [`bounded`].
//!
//! ## References
//!
//! - N. Hansen et al., "Real-Parameter Black-Box Optimization Benchmarking 2009: Noiseless
//!   Functions Definitions", INRIA RR-6829 (sphere f1, ellipsoid f2 with condition 1e6,
//!   Rosenbrock f8, Rastrigin f3; here unshifted and unrotated).

mod bounded;

pub use bounded::{
    bounded_ellipsoid, bounded_rosenbrock, bounded_sphere, bounded_table, median_hits,
    pycma_bounded_median, run_bounded, BOUNDED_FUNCTIONS, PYCMA_BOUNDED,
};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cmaes::{CmaEs, CmaEsOptions};
use crate::{Bounds, Outcome, Problem, Searcher};

/// `Σ xᵢ²`; minimum 0 at the origin.
pub fn sphere(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// `Σ 10^(6 i/(d−1)) xᵢ²` (condition number 1e6); minimum 0 at the origin.
pub fn ellipsoid(x: &[f64]) -> f64 {
    let d = x.len();
    if d == 1 {
        return x[0] * x[0];
    }
    x.iter()
        .enumerate()
        .map(|(i, v)| 10f64.powf(6.0 * i as f64 / (d - 1) as f64) * v * v)
        .sum()
}

/// `Σ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²`; minimum 0 at `(1, …, 1)`.
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// `10 d + Σ xᵢ² − 10 cos(2π xᵢ)`; minimum 0 at the origin, ~10^d local minima.
pub fn rastrigin(x: &[f64]) -> f64 {
    let tau = 2.0 * std::f64::consts::PI;
    10.0 * x.len() as f64
        + x.iter()
            .map(|v| v * v - 10.0 * (tau * v).cos())
            .sum::<f64>()
}

/// A test function: `f(x)`, minimized.
pub type TestFn = fn(&[f64]) -> f64;

/// The four benchmark functions by name.
pub const FUNCTIONS: [(&str, TestFn); 4] = [
    ("sphere", sphere),
    ("ellipsoid", ellipsoid),
    ("rosenbrock", rosenbrock),
    ("rastrigin", rastrigin),
];

/// Target value of the benchmark: a run succeeds once it has seen `f < TARGET`.
pub const TARGET: f64 = 1e-8;
/// Half-width of the benchmark box `[-5, 5]^d`.
pub const HALF_WIDTH: f64 = 5.0;

/// The start point of benchmark run `seed`: uniform in `[-5, 5]^d`, shared with the oracle
/// in `benches/optimizers.rs` so both start from the same place.
pub fn start_point(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x05EE_D0F5_7A7A);
    (0..d)
        .map(|_| rng.random_range(-HALF_WIDTH..HALF_WIDTH))
        .collect()
}

/// One benchmark run's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunResult {
    /// Evaluations (counted at the end of the generation) when `f < TARGET` was first seen.
    pub evals_to_target: Option<u64>,
    /// Best value seen.
    pub best: f64,
}

/// Runs our CMA-ES (default options) on `f` over `[-5, 5]^d` from [`start_point`] until
/// `f < TARGET` or `budget` evaluations.
pub fn run_cmaes(f: TestFn, d: usize, seed: u64, budget: u64) -> RunResult {
    run_cmaes_with(f, d, seed, budget, &CmaEsOptions::default())
}

/// [`run_cmaes`] with options `opts`.
pub fn run_cmaes_with(
    f: TestFn,
    d: usize,
    seed: u64,
    budget: u64,
    opts: &CmaEsOptions,
) -> RunResult {
    let bounds =
        Bounds::new(vec![-HALF_WIDTH; d], vec![HALF_WIDTH; d]).expect("the benchmark box is valid");
    let es = CmaEs::new(
        Problem::single(bounds),
        Some(start_point(d, seed)),
        opts.clone(),
        seed,
    )
    .expect("benchmark options are valid");
    minimize(es, f, budget)
}

/// Runs `es` on `f` generation by generation (ask λ trials, tell them in ask order) until
/// `f < TARGET` or `budget` evaluations.
pub fn minimize(mut es: CmaEs, f: TestFn, budget: u64) -> RunResult {
    let mut best = f64::INFINITY;
    let mut trial = 0;
    while es.evaluations() < budget {
        let ids = trial..trial + es.popsize() as u64;
        trial = ids.end;
        let xs: Vec<Vec<f64>> = ids
            .clone()
            .map(|t| es.ask(t).expect("fresh trial ids"))
            .collect();
        for (t, x) in ids.zip(xs) {
            let v = f(&x);
            best = best.min(v);
            es.tell(t, &Outcome::scored(vec![v]))
                .expect("trial ids asked above");
        }
        if best < TARGET {
            return RunResult {
                evals_to_target: Some(es.evaluations()),
                best,
            };
        }
    }
    RunResult {
        evals_to_target: None,
        best,
    }
}

/// Median of non-empty `v` (mean of the middle two for even lengths).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One table cell for a set of runs: `ok/n, median evals [min–max]` over the successful runs,
/// or the median best value when none succeeded.
pub fn summarize(runs: &[RunResult]) -> String {
    let hits: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.evals_to_target.map(|e| e as f64))
        .collect();
    if hits.is_empty() {
        let bests: Vec<f64> = runs.iter().map(|r| r.best).collect();
        return format!(
            "0/{} | — | median best f = {:.2e}",
            runs.len(),
            median(&bests)
        );
    }
    let lo = hits.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = hits.iter().cloned().fold(0.0, f64::max);
    format!(
        "{}/{} | {:.0} | {lo:.0}–{hi:.0}",
        hits.len(),
        runs.len(),
        median(&hits)
    )
}

/// Markdown table of our CMA-ES on the four [`FUNCTIONS`] × `dims`, `seeds` runs each (seeds
/// `0..seeds`), budget `budget_per_dim · d` evaluations per run: successes, median
/// evaluations to `f < 1e-8` and their min–max over the successful runs, or the median best
/// value when no run succeeded. This is what `mergesearch bench optimizers` prints.
pub fn optimizer_table(dims: &[usize], seeds: u64, budget_per_dim: u64) -> String {
    let mut out = format!(
        "CMA-ES (IPOP, default options) on [-5,5]^d, x0 uniform per seed, target f < {TARGET:.0e}, \
         budget {budget_per_dim}·d evaluations\n\n\
         | function | d | ok | median evals | min–max |\n|---|---|---|---|---|\n"
    );
    for (name, f) in FUNCTIONS {
        for &d in dims {
            let runs: Vec<RunResult> = (0..seeds)
                .map(|s| run_cmaes(f, d, s, budget_per_dim * d as u64))
                .collect();
            out.push_str(&format!("| {name} | {d} | {} |\n", summarize(&runs)));
        }
    }
    out
}
