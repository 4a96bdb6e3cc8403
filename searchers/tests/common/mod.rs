//! The conformance checks every searcher must pass (STYLE.md §6, after optuna's
//! `BasicSamplerTestCase`): stays in bounds, same seed → same asks, failed/NaN outcomes do no
//! harm, snapshot round trip → identical next asks.

#![allow(dead_code)]

use mergesearch_searchers::{functions, AnySearcher, Bounds, Outcome, Searcher};

/// A lopsided box, so coordinates with different widths are exercised.
pub fn test_box(d: usize) -> Bounds {
    let lo: Vec<f64> = (0..d).map(|i| -1.0 - i as f64).collect();
    let hi: Vec<f64> = (0..d).map(|i| 2.0 + 0.5 * i as f64).collect();
    Bounds::new(lo, hi).unwrap()
}

/// Scores with the sphere, failing every 7th point and returning NaN for every 11th.
pub fn outcomes(xs: &[Vec<f64>], start: usize) -> Vec<(Vec<f64>, Outcome)> {
    xs.iter()
        .enumerate()
        .map(|(k, x)| {
            let i = start + k;
            let o = if i % 7 == 3 {
                Outcome::Failed
            } else if i % 11 == 5 {
                Outcome::Values(vec![f64::NAN])
            } else {
                Outcome::Values(vec![functions::sphere(x)])
            };
            (x.clone(), o)
        })
        .collect()
}

/// Runs `rounds` of ask(batch)/tell and returns every point asked.
pub fn drive(s: &mut AnySearcher, rounds: usize, batch: usize) -> Vec<Vec<f64>> {
    let mut all = Vec::new();
    for _ in 0..rounds {
        let xs = s.ask(batch);
        assert_eq!(xs.len(), batch);
        let o = outcomes(&xs, all.len());
        s.tell(&o);
        all.extend(xs);
    }
    all
}

/// The shared checks; `make(seed)` builds a fresh searcher over `test_box(d)`.
pub fn conformance(make: impl Fn(u64) -> AnySearcher) {
    let b = {
        let s = make(1);
        test_box(s.dim())
    };
    // In bounds, with odd batch sizes that straddle generations.
    let mut s = make(1);
    for batch in [1, 3, 7, 2, 13, 5] {
        let xs = drive(&mut s, 4, batch);
        for x in &xs {
            assert!(b.contains(x), "{x:?} outside the box");
        }
    }
    // Same seed → same asks; another seed → other asks.
    let a = drive(&mut make(42), 10, 6);
    assert_eq!(a, drive(&mut make(42), 10, 6));
    assert_ne!(a, drive(&mut make(43), 10, 6));
    // Snapshot round trip mid-way (with points asked but not yet told) → identical asks.
    let mut s = make(7);
    drive(&mut s, 5, 4);
    let pending = s.ask(3);
    let json = serde_json::to_string(&s).unwrap();
    let mut r: AnySearcher = serde_json::from_str(&json).unwrap();
    let o = outcomes(&pending, 0);
    s.tell(&o);
    r.tell(&o);
    assert_eq!(drive(&mut s, 20, 5), drive(&mut r, 20, 5));
}
