//! Single-objective test functions (definitions and constants as in Surjanovic & Bingham's
//! VLSE; see [`crate::testbed`] for the references).

// The Hartmann-6 minimizer keeps the 17 digits mpmath printed.
#![allow(clippy::excessive_precision)]

use std::f64::consts::{E, PI};

/// Branin (Branin–Hoo), `x ∈ [−5, 10] × [0, 15]`:
/// `a(x₂ − b x₁² + c x₁ − r)² + s(1 − t) cos x₁ + s` with `a = 1`, `b = 5.1/(4π²)`,
/// `c = 5/π`, `r = 6`, `s = 10`, `t = 1/(8π)` (Dixon & Szegő 1978; VLSE). Global minimum
/// `s·t = 5/(4π) ≈ 0.397887` at `(−π, 12.275)`, `(π, 2.275)` and `(3π, 2.475)`.
pub fn branin(x: &[f64]) -> f64 {
    let (b, c, r, s, t) = (5.1 / (4.0 * PI * PI), 5.0 / PI, 6.0, 10.0, 1.0 / (8.0 * PI));
    let bracket = x[1] - b * x[0] * x[0] + c * x[0] - r;
    bracket * bracket + s * (1.0 - t) * x[0].cos() + s
}

/// Hartmann-6's weights `α` (VLSE).
const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
/// Hartmann-6's matrix `A` (VLSE).
const A: [[f64; 6]; 4] = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
];
/// Hartmann-6's centres `P` (VLSE gives `10⁻⁴ ×` these integers).
const P: [[f64; 6]; 4] = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];

/// The global minimizer of [`hartmann6`]: VLSE's `(0.20169, 0.150011, 0.476874, 0.275332,
/// 0.311652, 0.6573)` refined by Newton's method on the gradient in 40-digit mpmath (the
/// script is in `tests/testbed.rs`).
pub const HARTMANN6_XSTAR: [f64; 6] = [
    0.20168951100670542,
    0.15001069182345797,
    0.47687397422189699,
    0.27533243049405607,
    0.31165161660011324,
    0.65730053406562031,
];

/// The global minimum of [`hartmann6`], `f(HARTMANN6_XSTAR) = −3.32236801141551…` (mpmath,
/// 40 digits; VLSE states −3.32237).
pub const HARTMANN6_MIN: f64 = -3.3223680114155148;

/// Hartmann-6 on `[0, 1]^6`: `−Σᵢ αᵢ exp(−Σⱼ Aᵢⱼ (xⱼ − Pᵢⱼ)²)` (Dixon & Szegő 1978; VLSE), six
/// local minima, global minimum [`HARTMANN6_MIN`] at [`HARTMANN6_XSTAR`].
pub fn hartmann6(x: &[f64]) -> f64 {
    -ALPHA
        .iter()
        .zip(A.iter().zip(&P))
        .map(|(alpha, (a, p))| {
            let r: f64 = (0..6).map(|j| a[j] * (x[j] - p[j]).powi(2)).sum();
            alpha * (-r).exp()
        })
        .sum::<f64>()
}

/// Ackley with `a = 20`, `b = 0.2`, `c = 2π` in any dimension `d`:
/// `−a exp(−b √(Σxᵢ²/d)) − exp(Σ cos(c xᵢ)/d) + a + e` (Ackley 1987; VLSE). Global minimum 0
/// at the origin, surrounded by a regular grid of local minima.
pub fn ackley(x: &[f64]) -> f64 {
    let (a, b, c) = (20.0, 0.2, 2.0 * PI);
    let d = x.len() as f64;
    let sq = x.iter().map(|v| v * v).sum::<f64>() / d;
    let cos = x.iter().map(|v| (c * v).cos()).sum::<f64>() / d;
    -a * (-b * sq.sqrt()).exp() - cos.exp() + a + E
}
