//! The `cmaes` crate (pengowen123/cmaes 0.2) run the same way as
//! `mergesearch_searchers::functions::run_cmaes`: same start point, σ0 = 1/6 of the box width
//! (10/6 on [-5, 5]), same default λ, target 1e-8, same budget; positive weights only or
//! active (negative) weights, to compare with ours with `active` false or true.
//! It has no box constraints and no restarts: a single run per seed, so the comparison uses
//! functions whose optimum lies well inside the box. Shared by `tests/oracle.rs` and
//! `benches/optimizers.rs`.

use cmaes::{CMAESOptions, DVector, TerminationReason, Weights};
use mergesearch_searchers::functions::{start_point, RunResult, TestFn, HALF_WIDTH, TARGET};

/// One oracle run of `f` in dimension `d` from [`start_point`]`(d, seed)`, with the crate's
/// negative weights (its aCMA-ES) where `active`, else positive weights only.
pub fn run_oracle(f: TestFn, d: usize, seed: u64, budget: u64, active: bool) -> RunResult {
    let objective = move |x: &DVector<f64>| f(x.as_slice());
    let weights = if active {
        Weights::Negative
    } else {
        Weights::Positive
    };
    let mut state = CMAESOptions::new(start_point(d, seed), 2.0 * HALF_WIDTH / 6.0)
        .weights(weights)
        .fun_target(TARGET)
        .max_function_evals(budget as usize)
        .seed(seed)
        .build(objective)
        .expect("valid oracle options");
    let data = state.run();
    let best = data.overall_best.map(|b| b.value).unwrap_or(f64::INFINITY);
    let hit = data.reasons.contains(&TerminationReason::FunTarget);
    RunResult {
        evals_to_target: hit.then(|| state.function_evals() as u64),
        best,
    }
}

/// The `cmaes` crate's own IPOP restarts (λ doubling, up to 10 runs, like ours) for
/// multimodal functions. Its restarts use their own settings: random start means in
/// `[-5, 5]^d`, σ0 = half the range (5), active (negative) weights — so this compares
/// restart strategies as shipped, not identical runs.
#[allow(dead_code)]
pub fn run_oracle_ipop(f: TestFn, d: usize, seed: u64, budget: u64) -> RunResult {
    use cmaes::restart::{RestartOptions, RestartStrategy, RestartTerminationReason};
    let restarter = RestartOptions::new(
        d,
        -HALF_WIDTH..=HALF_WIDTH,
        RestartStrategy::IPOP(Default::default()),
    )
    .fun_target(TARGET)
    .max_function_evals(budget as usize)
    .seed(seed)
    .build()
    .expect("valid oracle restart options");
    let results = restarter.run(|| move |x: &DVector<f64>| f(x.as_slice()));
    RunResult {
        evals_to_target: (results.reason == RestartTerminationReason::FunTarget)
            .then_some(results.function_evals as u64),
        best: results.best.map(|b| b.value).unwrap_or(f64::INFINITY),
    }
}
