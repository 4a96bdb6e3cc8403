//! Multi-objective Bayesian optimization (ParEGO, EHVI): conformance, and hypervolume
//! against random search on ZDT1.

mod common;

use common::conformance;
use mergesearch_searchers::{
    build, pareto, Bounds, Outcome, Problem, Searcher, SearcherConfig, Sense,
};

fn zdt1(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let g = 1.0 + 9.0 * x[1..].iter().sum::<f64>() / (n - 1.0);
    vec![x[0], g * (1.0 - (x[0] / g).sqrt())]
}

fn config(json: &str) -> SearcherConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn parego_and_ehvi_pass_the_searcher_conformance_suite() {
    for c in [
        r#"{"type":"parego","candidates":128}"#,
        r#"{"type":"ehvi","candidates":128}"#,
    ] {
        conformance(|p, seed| build(&config(c), p, None, seed, None).unwrap());
    }
}

fn hv_after(c: &str, seed: u64, n: u64) -> f64 {
    let d = 30;
    let p = Problem::new(
        Bounds::new(vec![0.0; d], vec![1.0; d]).unwrap(),
        vec![Sense::Minimize; 2],
        vec![1.0, 1.0],
        Some(vec![1.1, 1.1]),
        0,
    )
    .unwrap();
    let mut s = build(&config(c), p, None, seed, None).unwrap();
    let mut pts = Vec::new();
    for t in 0..n {
        let x = s.ask(t).unwrap();
        let f = zdt1(&x);
        pts.push(f.clone());
        s.tell(t, &Outcome::scored(f)).unwrap();
    }
    pareto::hypervolume(&pts, &[1.1, 1.1])
}

#[test]
fn ehvi_and_parego_beat_random_on_zdt1() {
    for seed in 0..2 {
        let r = hv_after(r#"{"type":"random"}"#, seed, 60);
        let e = hv_after(r#"{"type":"ehvi"}"#, seed, 60);
        let p = hv_after(r#"{"type":"parego"}"#, seed, 60);
        eprintln!("seed {seed}: random {r} ehvi {e} parego {p}");
        assert!(e > r && p > r);
    }
}
