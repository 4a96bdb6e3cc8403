//! The Gaussian process: interpolation, posterior variance, automatic relevance
//! determination, and gradients of the posterior against finite differences.

use mergesearch_searchers::gp::{self, FitOptions, Gp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` seeded uniform points in `[0, 1]^d`.
fn points(n: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..d).map(|_| rng.random()).collect())
        .collect()
}

fn fitted(x: &[Vec<f64>], y: &[f64]) -> Gp {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    gp::fit(x.to_vec(), y, None, FitOptions::default(), &mut rng).expect("a GP fits")
}

/// A smooth test function on the unit square (Branin's shape rescaled would do as well).
fn f2(p: &[f64]) -> f64 {
    (3.0 * p[0]).sin() + (2.0 * p[1] - 0.5).powi(2)
}

#[test]
fn interpolates_noiseless_data_with_near_zero_variance_there() {
    let x = points(20, 2, 1);
    let y: Vec<f64> = x.iter().map(|p| f2(p)).collect();
    let g = fitted(&x, &y);
    let spread =
        y.iter().cloned().fold(f64::MIN, f64::max) - y.iter().cloned().fold(f64::MAX, f64::min);
    for (p, v) in x.iter().zip(&y) {
        let (m, var) = g.predict(p);
        // Noise is fitted (floor 1e-6 of the standardized variance): the mean may sit off the
        // data by about the noise standard deviation; 1% of the data's range bounds it.
        assert!((m - v).abs() < 0.01 * spread, "{p:?}: {m} vs {v}");
        assert!(var.sqrt() < 0.01 * spread, "{p:?}: σ = {}", var.sqrt());
    }
    // Away from the data the variance grows, monotonically along a ray out of the box.
    let mut last = 0.0;
    for t in [0.0, 0.5, 1.0, 2.0, 4.0] {
        let (_, var) = g.predict(&[1.0 + t, 1.0 + t]);
        assert!(var > last, "variance did not grow at t = {t}");
        last = var;
    }
    // Held-out points are predicted well (a smooth function, 20 points in 2-D).
    for p in points(50, 2, 2) {
        assert!((g.predict(&p).0 - f2(&p)).abs() < 0.1 * spread, "{p:?}");
    }
}

#[test]
fn an_ignored_input_gets_a_long_length_scale() {
    let x = points(30, 3, 3);
    // Depends on x0 and x2 only.
    let y: Vec<f64> = x
        .iter()
        .map(|p| (4.0 * p[0]).sin() + (3.0 * p[2]).cos())
        .collect();
    let g = fitted(&x, &y);
    let ls = g.params().length_scales();
    assert!(ls[1] > 5.0 * ls[0].max(ls[2]), "length scales {ls:?}");
}

#[test]
fn posterior_gradients_match_central_differences() {
    let x = points(15, 3, 4);
    let y: Vec<f64> = x.iter().map(|p| p[0] * p[1] + (5.0 * p[2]).sin()).collect();
    let g = fitted(&x, &y);
    for p in points(5, 3, 5) {
        let pred = g.predict_grad(&p);
        let (m, v) = g.predict(&p);
        assert!((pred.mean - m).abs() < 1e-12 && (pred.var - v).abs() < 1e-12);
        for d in 0..3 {
            let h = 1e-6;
            let (mut a, mut b) = (p.clone(), p.clone());
            a[d] += h;
            b[d] -= h;
            let (ma, va) = g.predict(&a);
            let (mb, vb) = g.predict(&b);
            let (dm, dv) = ((ma - mb) / (2.0 * h), (va - vb) / (2.0 * h));
            assert!(
                (dm - pred.dmean[d]).abs() < 1e-5 * (1.0 + dm.abs()),
                "dmean {d}"
            );
            assert!(
                (dv - pred.dvar[d]).abs() < 1e-5 * (1.0 + dv.abs()),
                "dvar {d}"
            );
        }
    }
}

#[test]
fn believer_collapses_variance_and_keeps_the_mean() {
    let x = points(10, 2, 6);
    let y: Vec<f64> = x.iter().map(|p| f2(p)).collect();
    let g = fitted(&x, &y);
    let p = vec![0.37, 0.81];
    let b = g.believe(std::slice::from_ref(&p)).unwrap();
    let ((m0, v0), (m1, v1)) = (g.predict(&p), b.predict(&p));
    assert!((m0 - m1).abs() < 1e-6 * (1.0 + m0.abs()), "{m0} vs {m1}");
    assert!(v1 < 0.05 * v0, "{v0} → {v1}");
}
