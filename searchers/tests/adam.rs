//! Projected Adam (`Adam`): the conformance checks of gradient searchers, single steps against
//! hand computations of Kingma & Ba's Algorithm 1, known optima inside and on the edge of the
//! box, and option errors that name the field.
//!
//! The convergence step counts were found with a line-for-line Python mirror of the update
//! (float64, the same operation order as `src/gradient.rs`):
//!
//! ```python
//! import math
//! def adam(x, lo, hi, grad, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
//!     d = len(x); m = [0.0] * d; v = [0.0] * d
//!     for t in range(1, steps + 1):
//!         g = grad(x); bc1 = 1 - b1**t; bc2s = math.sqrt(1 - b2**t)
//!         for i in range(d):
//!             m[i] = b1 * m[i] + (1 - b1) * g[i]; v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
//!             x[i] = min(max(x[i] - (lr / bc1) * m[i] / (math.sqrt(v[i]) / bc2s + eps), lo[i]), hi[i])
//!     return x
//! ```
//!
//! It gives `|x − c|∞ ≈ 9e-16` for the 10-D sphere after 1000 steps at lr 0.05, and
//! Rosenbrock `f ≈ 3.1e-13` at `(0.99999944, 0.99999888)` after 4000 steps at lr 0.02 (lr 0.01
//! needs 3518 steps to reach `f ≤ 1e-4`, lr 0.02 needs 2316).

mod common;

use common::gradient::gradient_conformance;
use mergesearch_searchers::functions::{rosenbrock, sphere};
use mergesearch_searchers::{Adam, AdamOptions, Bounds, GradientSearcher, SearchError};

fn options(lr: f64) -> AdamOptions {
    AdamOptions {
        lr,
        ..AdamOptions::default()
    }
}

/// Runs `steps` Adam steps on `f`, which returns the loss and its gradient; returns the final
/// point.
fn minimize(mut adam: Adam, f: impl Fn(&[f64]) -> (f64, Vec<f64>), steps: usize) -> Vec<f64> {
    for _ in 0..steps {
        let (loss, grad) = f(&adam.ask());
        adam.tell(loss, &grad).unwrap();
    }
    assert_eq!(adam.steps_taken(), steps);
    adam.ask()
}

/// `Σ (x_i − c_i)²` and its gradient `2 (x − c)`.
fn shifted_sphere(c: &[f64]) -> impl Fn(&[f64]) -> (f64, Vec<f64>) + '_ {
    move |x| {
        let r: Vec<f64> = x.iter().zip(c).map(|(v, c)| v - c).collect();
        (sphere(&r), r.iter().map(|r| 2.0 * r).collect())
    }
}

#[test]
fn adam_passes_the_gradient_conformance_checks() {
    gradient_conformance(|bounds, x0| Adam::new(bounds, x0, options(0.05)).unwrap());
    gradient_conformance(|bounds, x0| Adam::new(bounds, x0, AdamOptions::default()).unwrap());
}

#[test]
fn defaults_are_torch_optim_adams() {
    // torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8); AdaMerging's lr 1e-3.
    assert_eq!(
        AdamOptions::default(),
        AdamOptions {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8
        }
    );
}

#[test]
fn first_step_moves_each_coordinate_by_lr_times_the_sign() {
    // At t = 1, m = (1 − β₁) g and v = (1 − β₂) g², so m̂ = g, v̂ = g² and the step is
    // lr · g / (|g| + ε): lr · sign(g) up to ε, and 0 for g = 0. For g = 1e-6 the ε shows:
    // 0.1 · 1e-6 / (1e-6 + 1e-8) = 0.1 / 1.01 = 0.0990099009900990099… (mpmath, 30 digits).
    let lr = 0.1;
    let b = Bounds::new(vec![-1.0; 5], vec![1.0; 5]).unwrap();
    let x0 = vec![0.5, -0.25, 0.0, 0.3, 0.1];
    let g = [3.0, -0.5, 1e-6, 0.0, -1e3];
    let mut adam = Adam::new(b, x0.clone(), options(lr)).unwrap();
    assert_eq!(adam.last_loss(), None);
    adam.tell(7.0, &g).unwrap();
    assert_eq!(adam.last_loss(), Some(7.0));
    assert_eq!(adam.steps_taken(), 1);
    let x1 = adam.ask();
    for i in 0..5 {
        let hand = lr * g[i] / (g[i].abs() + 1e-8);
        let moved = x0[i] - x1[i];
        assert!(
            (moved - hand).abs() <= 1e-12 * lr,
            "coordinate {i}: moved {moved}, by hand {hand}"
        );
    }
    assert!((x0[2] - x1[2] - 0.099_009_900_990_099_01).abs() <= 1e-12 * lr);
    assert_eq!(x1[3], x0[3]);
}

#[test]
fn second_step_matches_a_hand_computation() {
    // lr 0.1, β₁ 0.9, β₂ 0.999, ε 1e-8, x₀ = (0.5, 0.25) in [0, 1]², g₁ = (2, −0.5),
    // g₂ = (−1, −0.5).
    //
    // Coordinate 0, t = 1: m = 0.1·2 = 0.2, v = 0.001·4 = 0.004, m̂ = 2, v̂ = 4,
    //   x₁ = 0.5 − 0.1·2/(2 + 1e-8) = 0.4000000004999999975…
    // t = 2: m = 0.9·0.2 + 0.1·(−1) = 0.08, v = 0.999·0.004 + 0.001·1 = 0.004996,
    //   m̂ = 0.08/(1 − 0.81) = 0.42105263157894736842…,
    //   v̂ = 0.004996/(1 − 0.998001) = 2.49924962481240620310…, √v̂ = 1.58090152280665673445…,
    //   x₂ = x₁ − 0.1·m̂/(√v̂ + 1e-8) = 0.37336629670243135784… (mpmath, 30 digits).
    // Coordinate 1 sees a constant gradient, so m̂ = g and v̂ = g² at every t: it moves up by
    //   0.1·0.5/(0.5 + 1e-8) = 0.09999999800000004 per step, x₂ = 0.25 + 2·that
    //   = 0.44999999600000008.
    let b = Bounds::new(vec![0.0; 2], vec![1.0; 2]).unwrap();
    let mut adam = Adam::new(b, vec![0.5, 0.25], options(0.1)).unwrap();
    adam.tell(1.0, &[2.0, -0.5]).unwrap();
    let x1 = adam.ask();
    assert!((x1[0] - 0.400_000_000_5).abs() < 1e-15, "{x1:?}");
    adam.tell(0.5, &[-1.0, -0.5]).unwrap();
    let x2 = adam.ask();
    assert!((x2[0] - 0.373_366_296_702_431_4).abs() < 1e-15, "{x2:?}");
    assert!((x2[1] - 0.449_999_996_000_000_08).abs() < 1e-15, "{x2:?}");
    assert_eq!(adam.last_loss(), Some(0.5));
}

#[test]
fn sphere_inside_the_box_converges_to_its_centre() {
    // f(x) = Σ (x_i − c_i)², minimum 0 at c, c_i = −1.5 + 0.4 i inside [−2, 3]^10; from
    // x₀ = 2.5 everywhere, lr 0.05, 1000 steps (the Python mirror: |x − c|∞ ≈ 9e-16).
    let c: Vec<f64> = (0..10).map(|i| -1.5 + 0.4 * i as f64).collect();
    let b = Bounds::new(vec![-2.0; 10], vec![3.0; 10]).unwrap();
    let adam = Adam::new(b, vec![2.5; 10], options(0.05)).unwrap();
    let x = minimize(adam, shifted_sphere(&c), 1000);
    let err = x
        .iter()
        .zip(&c)
        .map(|(v, c)| (v - c).abs())
        .fold(0.0, f64::max);
    assert!(err <= 1e-6, "|x − c|∞ = {err}, x = {x:?}");
}

#[test]
fn sphere_outside_the_box_converges_to_the_projection_of_its_centre() {
    // A separable convex quadratic's minimum over a box is the projection of its unconstrained
    // minimum: c clamped into [−2, 3]^10. c_i = −3 (below), 4.5 (above), 0.7 (inside) by
    // i mod 3. On the clamped coordinates the gradient keeps pushing outward, so the clamp
    // holds them exactly on the bound. From x₀ = 0, lr 0.05, 1000 steps (the Python mirror:
    // the inside coordinates are at 0.7 to rounding).
    let c: Vec<f64> = (0..10).map(|i| [-3.0, 4.5, 0.7][i % 3]).collect();
    let b = Bounds::new(vec![-2.0; 10], vec![3.0; 10]).unwrap();
    let adam = Adam::new(b.clone(), vec![0.0; 10], options(0.05)).unwrap();
    let x = minimize(adam, shifted_sphere(&c), 1000);
    let mut projection = c.clone();
    b.clip(&mut projection);
    for i in 0..10 {
        if i % 3 == 2 {
            assert!((x[i] - 0.7).abs() <= 1e-6, "coordinate {i}: {}", x[i]);
        } else {
            assert_eq!(x[i], projection[i], "coordinate {i}");
        }
    }
    assert_eq!(&projection[..3], &[-2.0, 3.0, 0.7]);
}

#[test]
fn rosenbrock_reaches_its_minimum() {
    // f(a, b) = (1 − a)² + 100 (b − a²)², minimum f = 0 at (1, 1) (Rosenbrock 1960; VLSE);
    // ∇f = (−2(1 − a) − 400 a (b − a²), 200 (b − a²)). From the classic start (−1.2, 1) in
    // [−2, 2]², lr 0.02, 4000 steps (the Python mirror: f ≈ 3.1e-13).
    let b = Bounds::new(vec![-2.0; 2], vec![2.0; 2]).unwrap();
    let adam = Adam::new(b, vec![-1.2, 1.0], options(0.02)).unwrap();
    let f = |x: &[f64]| {
        let (a, b) = (x[0], x[1]);
        let grad = vec![
            -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
            200.0 * (b - a * a),
        ];
        (rosenbrock(x), grad)
    };
    let x = minimize(adam, f, 4000);
    assert!(rosenbrock(&x) <= 1e-4, "f({x:?}) = {}", rosenbrock(&x));
    assert!(
        (x[0] - 1.0).abs() <= 1e-3 && (x[1] - 1.0).abs() <= 1e-3,
        "{x:?}"
    );
}

#[test]
fn options_errors_name_the_field_and_x0_must_be_in_the_box() {
    let b = Bounds::new(vec![0.0; 2], vec![1.0; 2]).unwrap();
    let msg = |o: AdamOptions| match Adam::new(b.clone(), vec![0.3; 2], o) {
        Err(SearchError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    };
    let d = AdamOptions::default();
    assert_eq!(
        msg(AdamOptions { lr: -1.0, ..d }),
        "lr: -1 must be a positive number"
    );
    for lr in [0.0, f64::NAN, f64::INFINITY] {
        assert!(msg(AdamOptions { lr, ..d }).starts_with("lr:"), "{lr}");
    }
    for beta1 in [-0.1, 1.0, f64::NAN] {
        assert!(
            msg(AdamOptions { beta1, ..d }).starts_with("beta1:"),
            "{beta1}"
        );
    }
    assert!(msg(AdamOptions { beta2: 1.5, ..d }).starts_with("beta2:"));
    for eps in [0.0, -1e-8, f64::INFINITY] {
        assert!(msg(AdamOptions { eps, ..d }).starts_with("eps:"), "{eps}");
    }
    // β = 0 is allowed (no momentum / no averaging), as in torch.
    AdamOptions {
        beta1: 0.0,
        beta2: 0.0,
        ..d
    }
    .check()
    .unwrap();

    for x0 in [
        vec![0.3, 1.5],
        vec![-0.1, 0.5],
        vec![0.3],
        vec![0.3, 0.3, 0.3],
    ] {
        match Adam::new(b.clone(), x0.clone(), d) {
            Err(SearchError::Config(m)) => assert!(m.contains("x0"), "{m}"),
            other => panic!("x0 = {x0:?}: expected a config error, got {other:?}"),
        }
    }
    // The box's own corners are inside.
    Adam::new(b, vec![0.0, 1.0], d).unwrap();
}
