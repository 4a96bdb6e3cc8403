//! Active CMA-ES (negative weights, the default): faster on ill-conditioned functions, within
//! 1.1× of pycma on the bounded benchmark, and old snapshots resume as positive-only runs.

mod common;

use common::batch;
use mergesearch_searchers::functions::{
    bounded_ellipsoid, median, median_hits, pycma_bounded_median, rosenbrock, run_bounded,
    RunResult, BOUNDED_FUNCTIONS,
};
use mergesearch_searchers::{
    build, AnySearcher, Bounds, CmaEs, CmaEsOptions, Outcome, Problem, SearcherConfig,
};

fn opts(active: bool) -> CmaEsOptions {
    CmaEsOptions {
        active,
        ..CmaEsOptions::default()
    }
}

#[test]
fn active_reaches_the_ellipsoid_target_in_fewer_evaluations() {
    // Bounded ellipsoid (condition 1e6) in 10-d, seeds 0..5. Measured (`bounded_table` setting,
    // this test's eprintln): positive weights only 6,010 / 6,300 / 6,170 / 6,130 / 5,900
    // evaluations, active 3,750 / 3,880 / 3,730 / 3,810 / 4,150 — about 0.63×, the kind of
    // gain Jastrebski & Arnold 2006 report on ill-conditioned quadratics. Asserted: active
    // wins every seed and its median is below 0.75× the positive-only median.
    let budget = 50_000;
    let evals = |active: bool| -> Vec<f64> {
        (0..5)
            .map(|s| {
                let r = run_bounded(bounded_ellipsoid, 10, s, budget, &opts(active));
                r.evals_to_target
                    .unwrap_or_else(|| panic!("seed {s} active {active}: best {}", r.best))
                    as f64
            })
            .collect()
    };
    let (pos, act) = (evals(false), evals(true));
    eprintln!("ellipsoid 10-d: positive only {pos:?}, active {act:?}");
    for (s, (p, a)) in pos.iter().zip(&act).enumerate() {
        assert!(a < p, "seed {s}: active {a} vs positive {p}");
    }
    assert!(median(&act) < 0.75 * median(&pos), "{act:?} vs {pos:?}");
}

#[test]
fn bounded_benchmark_is_within_1_1_of_pycma() {
    // The issue's target: median evaluations to f < 1e-8 at most 1.1× pycma 4.5's medians
    // (`PYCMA_BOUNDED`), here for d = 2, 5, 10 over seeds 0..10 (d = 20 is in
    // `bounded_table`). Measured (this test's eprintln): sphere 213 / 600 / 1,330 (0.94 /
    // 0.90 / 0.98× pycma), ellipsoid 453 / 1,464 / 3,885 (1.04 / 1.01 / 1.00×), Rosenbrock
    // 420 / 1,684 / 5,140 (0.94 / 1.02 / 1.04×); before active CMA the ellipsoid was at 1.5×.
    for (name, f) in BOUNDED_FUNCTIONS {
        for d in [2, 5, 10] {
            let runs: Vec<RunResult> = (0..10)
                .map(|s| run_bounded(f, d, s, 20_000 * d as u64, &CmaEsOptions::default()))
                .collect();
            let (ours, ok) = median_hits(&runs);
            let ours = ours.unwrap_or(f64::INFINITY);
            let theirs = pycma_bounded_median(name, d).expect("a reference number") as f64;
            eprintln!("{name} d={d}: ours {ours} ({ok}/10), pycma {theirs}");
            assert_eq!(ok, 10, "{name} d={d}");
            assert!(
                ours <= 1.1 * theirs,
                "{name} d={d}: ours {ours} vs pycma {theirs}"
            );
        }
    }
}

/// Runs `gens` generations of 2-d Rosenbrock on `[-2, 3]^2` from `1.5·1`, seed 17; returns
/// the sum of every asked coordinate.
fn fingerprint(es: &mut CmaEs, gens: usize) -> f64 {
    let mut next = 0;
    let mut sum = 0.0;
    for _ in 0..gens {
        let n = es.popsize();
        for x in batch(es, &mut next, n, |x| Outcome::scored(vec![rosenbrock(x)])) {
            sum += x.iter().sum::<f64>();
        }
    }
    sum
}

#[test]
fn positive_only_is_the_strategy_from_before_active_cma() {
    // Numbers printed by the same loop run with the code before active CMA-ES (commit
    // 2b8c3ed, default options then = positive weights only): 3,942 evaluations, 3 restarts,
    // asked coordinates summing to 5673.046265905992, final σ 0.24760205639134655.
    let b = Bounds::new(vec![-2.0; 2], vec![3.0; 2]).unwrap();
    let mut es = CmaEs::new(Problem::single(b), Some(vec![1.5; 2]), opts(false), 17).unwrap();
    let sum = fingerprint(&mut es, 300);
    assert_eq!((es.evaluations(), es.restarts()), (3_942, 3));
    assert!((sum - 5673.046265905992).abs() < 1e-12 * 5673.0, "{sum}");
    assert!(
        (es.sigma() - 0.24760205639134655).abs() < 1e-12,
        "{}",
        es.sigma()
    );
}

#[test]
fn a_snapshot_without_the_active_field_resumes_as_positive_only() {
    // A snapshot written before active CMA has no `active` option and no negative weights;
    // it must read as `active: false` and continue exactly like a positive-only searcher.
    let d = 6;
    let b = Bounds::new(vec![-2.0; d], vec![3.0; d]).unwrap();
    let mut es = CmaEs::new(
        Problem::single(b.clone()),
        Some(vec![1.0; d]),
        opts(false),
        17,
    )
    .unwrap();
    let mut next = 0;
    for _ in 0..25 {
        let n = es.popsize();
        batch(&mut es, &mut next, n, |x| {
            Outcome::scored(vec![rosenbrock(x)])
        });
    }
    let mut v = serde_json::to_value(AnySearcher::Cmaes(Box::new(es.clone()))).unwrap();
    let old_opts = v["opts"].as_object_mut().unwrap();
    assert_eq!(
        old_opts.remove("active"),
        Some(serde_json::Value::Bool(false))
    );
    let old_params = v["run"]["p"].as_object_mut().unwrap();
    assert_eq!(
        old_params.remove("neg_weights"),
        Some(serde_json::json!([]))
    );
    let AnySearcher::Cmaes(mut back) = serde_json::from_value::<AnySearcher>(v).unwrap() else {
        panic!("expected CMA-ES");
    };
    let again = serde_json::to_value(AnySearcher::Cmaes(back.clone())).unwrap();
    assert_eq!(again["opts"]["active"], false);
    // Past the next restarts too (Rosenbrock 6-d restarts after about 3,000 evaluations).
    let mut next_back = next;
    for _ in 0..400 {
        let n = es.popsize();
        let xs = batch(&mut es, &mut next, n, |x| {
            Outcome::scored(vec![rosenbrock(x)])
        });
        let xb = batch(back.as_mut(), &mut next_back, n, |x| {
            Outcome::scored(vec![rosenbrock(x)])
        });
        assert_eq!(xs, xb);
    }
    assert!(es.restarts() >= 1, "no restart covered");
    assert_eq!(es.best(), back.best());
}

#[test]
fn config_defaults_to_active_and_can_turn_it_off() {
    let unit = || Problem::single(Bounds::new(vec![0.0; 3], vec![1.0; 3]).unwrap());
    for (json, active) in [
        (r#"{"type":"cmaes"}"#, true),
        (r#"{"type":"cmaes","active":true}"#, true),
        (r#"{"type":"cmaes","active":false}"#, false),
    ] {
        let c: SearcherConfig = serde_json::from_str(json).unwrap();
        let s = build(&c, unit(), None, 0, None).unwrap();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["opts"]["active"], active, "{json}");
        // λ = 4 + ⌊3 ln 3⌋ = 7: μ = 3 positive weights, 4 non-positive (the first is 0).
        let neg = v["run"]["p"]["neg_weights"].as_array().unwrap().len();
        assert_eq!(neg, if active { 4 } else { 0 }, "{json}");
    }
    assert!(CmaEsOptions::default().active);
}
