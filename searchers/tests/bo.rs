//! Bayesian optimization: conformance, and the sample efficiency it exists for.

mod common;

use common::{ask_ids, conformance};
use mergesearch_searchers::bo::{Bo, BoOptions, Kind};
use mergesearch_searchers::{
    build, AnySearcher, Bounds, Outcome, Problem, Searcher, SearcherConfig,
};

fn branin(x: &[f64]) -> f64 {
    let (a, b, c) = (
        1.0,
        5.1 / (4.0 * std::f64::consts::PI.powi(2)),
        5.0 / std::f64::consts::PI,
    );
    let (r, s, t) = (6.0, 10.0, 1.0 / (8.0 * std::f64::consts::PI));
    a * (x[1] - b * x[0] * x[0] + c * x[0] - r).powi(2) + s * (1.0 - t) * x[0].cos() + s
}

fn branin_problem() -> Problem {
    Problem::single(Bounds::new(vec![-5.0, 0.0], vec![10.0, 15.0]).unwrap())
}

/// Best value after each of `n` one-at-a-time evaluations.
fn trace(s: &mut dyn Searcher, f: fn(&[f64]) -> f64, n: u64) -> Vec<f64> {
    let mut best = f64::INFINITY;
    (0..n)
        .map(|t| {
            let x = s.ask(t).unwrap();
            let v = f(&x);
            best = best.min(v);
            s.tell(t, &Outcome::scored(vec![v])).unwrap();
            best
        })
        .collect()
}

#[test]
fn bo_passes_the_searcher_conformance_suite() {
    conformance(|p, seed| {
        build(
            &serde_json::from_str::<SearcherConfig>(r#"{"type":"bo","candidates":128}"#).unwrap(),
            p,
            None,
            seed,
            None,
        )
        .unwrap()
    });
}

#[test]
fn bo_finds_the_branin_minimum() {
    let d = 2;
    let mut s = Bo::new(branin_problem(), None, BoOptions::new(d), Kind::LogEi, 0).unwrap();
    let t = trace(&mut s, branin, 100);
    eprintln!("{:?}", t.iter().step_by(5).collect::<Vec<_>>());
    eprintln!(
        "@50 {} @100 {}",
        t[49] - 0.397887357729739,
        t[99] - 0.397887357729739
    );
    assert!(t[59] - 0.397_887 < 0.01, "{}", t[59]);
}

#[test]
fn bo_pending() {
    let mut s = Bo::new(branin_problem(), None, BoOptions::new(2), Kind::LogEi, 0).unwrap();
    trace(&mut s, branin, 20);
    let xs = ask_ids(&mut s, &[100, 101, 102, 103]);
    eprintln!("{xs:?}");
    let _ = AnySearcher::Bo(Box::new(s));
}

#[test]
#[ignore]
fn timing_probe() {
    let d = 10;
    let p = Problem::single(Bounds::new(vec![-5.0; d], vec![10.0; d]).unwrap());
    let mut s = Bo::new(p, None, BoOptions::new(d), Kind::LogEi, 0).unwrap();
    let f = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
    for t in 0..301u64 {
        let t0 = std::time::Instant::now();
        let x = s.ask(t).unwrap();
        if [25, 100, 300].contains(&t) {
            eprintln!("ask at {t}: {:?}", t0.elapsed());
        }
        s.tell(t, &Outcome::scored(vec![f(&x)])).unwrap();
    }
}
