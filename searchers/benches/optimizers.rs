//! `cargo bench -p mergesearch-searchers --bench optimizers`: our CMA-ES beside the `cmaes`
//! crate (single runs, no restarts, no box; see `tests/common/oracle.rs`) on the same
//! functions, dimensions, seeds, start points, σ0 and λ, both with active (negative)
//! weights. Evaluations to f < 1e-8.
//!
//! Env: `SEEDS` (default 10), `BUDGET_PER_DIM` (default 20000).

#[path = "../tests/common/oracle.rs"]
mod oracle;

use std::time::Instant;

use mergesearch_searchers::functions::{rastrigin, run_cmaes, summarize, RunResult, FUNCTIONS};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seeds = env("SEEDS", 10);
    let per_dim = env("BUDGET_PER_DIM", 20_000);
    let start = Instant::now();
    println!(
        "Evaluations to f < 1e-8 on [-5,5]^d, x0 uniform per seed (seeds 0..{seeds}), \
         σ0 = 1/6 width, default λ, budget {per_dim}·d.\n\
         ours = IPOP-CMA-ES with box handling, active weights; cmaes crate 0.2 = one run of its \
         aCMA-ES (negative weights), no restarts, no box.\n\
         Cells: ok/n | median evals | min–max (or median best f when no run succeeded).\n"
    );
    println!("| function | d | ours ok | ours median | ours min–max | cmaes ok | cmaes median | cmaes min–max |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, f) in FUNCTIONS {
        for d in [2, 5, 10, 20] {
            let budget = per_dim * d as u64;
            let ours: Vec<RunResult> = (0..seeds).map(|s| run_cmaes(f, d, s, budget)).collect();
            let theirs: Vec<RunResult> = (0..seeds)
                .map(|s| oracle::run_oracle(f, d, s, budget, true))
                .collect();
            println!(
                "| {name} | {d} | {} | {} |",
                summarize(&ours),
                summarize(&theirs)
            );
        }
    }
    println!(
        "\nRastrigin with restarts on both sides: cmaes crate IPOP (its defaults: random start \
         means, σ0 = 5, active weights, up to 10 runs) vs ours (as above).\n"
    );
    println!("| function | d | ours ok | ours median | ours min–max | cmaes IPOP ok | median | min–max |");
    println!("|---|---|---|---|---|---|---|---|");
    for d in [2, 5, 10, 20] {
        let budget = per_dim * d as u64;
        let ours: Vec<RunResult> = (0..seeds)
            .map(|s| run_cmaes(rastrigin, d, s, budget))
            .collect();
        let theirs: Vec<RunResult> = (0..seeds)
            .map(|s| oracle::run_oracle_ipop(rastrigin, d, s, budget))
            .collect();
        println!(
            "| rastrigin | {d} | {} | {} |",
            summarize(&ours),
            summarize(&theirs)
        );
    }
    println!("\n({:.1} s)", start.elapsed().as_secs_f64());
}
