//! Bayesian optimization: conformance, and the sample efficiency it exists for (the issue's
//! targets: Branin within 0.01 of its minimum in 60 evaluations, and better than random
//! search's median at 50), with pending points spread out and constraints respected.

mod common;

use common::{ask_ids, conformance};
use mergesearch_searchers::efficiency::{regret_trace, searcher};
use mergesearch_searchers::functions::median;
use mergesearch_searchers::testbed::{single_objective_suite, TestProblem};
use mergesearch_searchers::{build, Outcome, Problem, Searcher};

fn problem(name: &str) -> TestProblem {
    single_objective_suite()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
}

// Two tests, so the two configurations run in parallel.
#[test]
fn bo_passes_the_searcher_conformance_suite() {
    let c = searcher(r#"{"type":"bo","candidates":128}"#);
    conformance(|p, seed| build(&c, p, None, seed, None).unwrap());
}

#[test]
fn bo_with_ucb_liars_and_a_trust_region_passes_the_searcher_conformance_suite() {
    let c = searcher(
        r#"{"type":"bo","candidates":128,"acquisition":"ucb","pending":"liar_max","trust_region":"on"}"#,
    );
    conformance(|p, seed| build(&c, p, None, seed, None).unwrap());
}

#[test]
fn bo_reaches_the_branin_minimum_within_60_evaluations() {
    // The optimum 5/(4π) = 0.397887 is Branin's (VLSE); 0.01 and 60 are the issue's target.
    let regret = regret_trace(&searcher(r#"{"type":"bo"}"#), &problem("branin"), 0, 60);
    assert!(regret[59] < 0.01, "regret after 60: {}", regret[59]);
}

#[test]
fn bo_beats_random_search_at_50_evaluations() {
    // Median simple regret over 5 seeds after 50 evaluations, one point per ask: bo's must
    // be below random search's on Branin and on Hartmann-6 (the issue's comparison).
    for name in ["branin", "hartmann6"] {
        let p = problem(name);
        let at50 = |json: &str| {
            let runs: Vec<f64> = (0..5)
                .map(|seed| regret_trace(&searcher(json), &p, seed, 50)[49])
                .collect();
            median(&runs)
        };
        let (bo, random) = (at50(r#"{"type":"bo"}"#), at50(r#"{"type":"random"}"#));
        assert!(bo < random, "{name}: bo {bo} vs random {random}");
    }
}

/// Smallest distance between two of `xs`, per unit of box width (max over coordinates).
fn min_gap(p: &Problem, xs: &[Vec<f64>]) -> f64 {
    let mut gap = f64::INFINITY;
    for (i, a) in xs.iter().enumerate() {
        for b in &xs[..i] {
            let d = (0..a.len())
                .map(|k| (a[k] - b[k]).abs() / p.bounds.width(k))
                .fold(0.0, f64::max);
            gap = gap.min(d);
        }
    }
    gap
}

#[test]
fn pending_points_are_distinct_under_every_strategy() {
    // After 20 Branin observations, four trials asked together must be four different
    // points: without the pending points in the model every one of them would be the same
    // acquisition maximum. 0.1% of the box is far more than L-BFGS's tolerance; the
    // optimistic liar (`liar_min`) spreads least and puts two points 0.5% apart near the
    // minimizer (π, 2.275).
    let p = problem("branin");
    for pending in ["believer", "liar_min", "liar_mean", "liar_max"] {
        let json = format!(r#"{{"type":"bo","pending":"{pending}"}}"#);
        let mut s = build(&searcher(&json), p.problem(), None, 0, None).unwrap();
        for t in 0..20 {
            let x = s.ask(t).unwrap();
            s.tell(t, &Outcome::scored(vec![(p.f)(&x)])).unwrap();
        }
        let xs = ask_ids(&mut s, &[100, 101, 102, 103]);
        let gap = min_gap(&p.problem(), &xs);
        assert!(gap > 1e-3, "{pending}: {xs:?} (gap {gap})");
    }
}

#[test]
fn constrained_bo_finds_the_feasible_minimum() {
    // Branin subject to x₂ ≤ 8: two of its three minimizers, (π, 2.275) and (3π, 2.475),
    // are feasible, so the constrained minimum is still 5/(4π). The violation is reported
    // as max(0, x₂ − 8); bo must reach the minimum within 0.05 in 60 evaluations and, once
    // past its initial design, propose mostly feasible points (the feasible region is 8/15
    // of the box, which is what the Sobol design hits).
    let p = problem("branin");
    let mut problem = p.problem();
    problem.constraints = 1;
    let mut s = build(&searcher(r#"{"type":"bo"}"#), problem, None, 0, None).unwrap();
    let (mut best, mut feasible_after_design) = (f64::INFINITY, 0);
    for t in 0..60 {
        let x = s.ask(t).unwrap();
        let (v, violation) = ((p.f)(&x), (x[1] - 8.0).max(0.0));
        if violation == 0.0 {
            best = best.min(v);
            feasible_after_design += usize::from(t >= 10);
        }
        s.tell(
            t,
            &Outcome::Scored {
                objectives: vec![v],
                violations: vec![violation],
            },
        )
        .unwrap();
    }
    assert!(p.simple_regret(best) < 0.05, "best feasible {best}");
    assert!(feasible_after_design >= 40, "{feasible_after_design} of 50");
}
