//! Our CMA-ES against an independent implementation (the `cmaes` crate) on the same
//! functions, start points, σ0 and λ: median evaluations to f < 1e-8 must not be worse than
//! 1.5× the oracle's — positive weights only on both sides (ours with `active: false`), and
//! active weights on both sides (ours by default, the crate's `Weights::Negative`).

#[path = "common/oracle.rs"]
mod oracle;

use mergesearch_searchers::functions::{
    ellipsoid, median, rosenbrock, run_cmaes_with, sphere, TestFn,
};
use mergesearch_searchers::CmaEsOptions;

fn medians(f: TestFn, d: usize, seeds: u64, budget: u64, active: bool) -> (f64, usize, f64, usize) {
    let opts = CmaEsOptions {
        active,
        ..CmaEsOptions::default()
    };
    let ours: Vec<f64> = (0..seeds)
        .filter_map(|s| run_cmaes_with(f, d, s, budget, &opts).evals_to_target)
        .map(|e| e as f64)
        .collect();
    let theirs: Vec<f64> = (0..seeds)
        .filter_map(|s| oracle::run_oracle(f, d, s, budget, active).evals_to_target)
        .map(|e| e as f64)
        .collect();
    assert!(!ours.is_empty() && !theirs.is_empty());
    (median(&ours), ours.len(), median(&theirs), theirs.len())
}

#[test]
fn not_worse_than_the_cmaes_crate() {
    let seeds = 7;
    for active in [false, true] {
        for (name, f) in [
            ("sphere", sphere as TestFn),
            ("ellipsoid", ellipsoid),
            ("rosenbrock", rosenbrock),
        ] {
            for d in [5, 10] {
                let budget = 10_000 * d as u64;
                let (ours, ok, theirs, ok_theirs) = medians(f, d, seeds, budget, active);
                eprintln!(
                    "active={active} {name} d={d}: ours {ours} ({ok}/{seeds}), cmaes crate \
                     {theirs} ({ok_theirs}/{seeds})"
                );
                assert!(
                    ok >= ok_theirs,
                    "active={active} {name} d={d}: ours solved {ok}, theirs {ok_theirs}"
                );
                assert!(
                    ours <= 1.5 * theirs,
                    "active={active} {name} d={d}: ours {ours} vs theirs {theirs}"
                );
            }
        }
    }
}
