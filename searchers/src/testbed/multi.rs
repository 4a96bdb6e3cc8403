//! Multi-objective test problems (all minimized) and the closed-form hypervolume of their true
//! fronts for the reference point `r = 1.1` per objective.
//!
//! Hypervolume of a front `f₂ = φ(f₁)`, `f₁ ∈ [0, 1]`, `φ` decreasing from 1 to 0 (ZDT1, ZDT2):
//! the front's ideal point is `(0, 0)`, so the dominated region lies in the square
//! `[0, 1.1]²`, which it fills except for the part strictly under the curve,
//! `{(a, b) : 0 ≤ a ≤ 1, 0 ≤ b < φ(a)}`, of area `∫₀¹ φ`. Hence `HV = 1.1² − ∫₀¹ φ(a) da`:
//! ZDT1, `φ = 1 − √a`: `1.21 − (1 − 2/3) = 1.21 − 1/3`; ZDT2, `φ = 1 − a²`: `1.21 − 2/3`.
//!
//! DTLZ2 with 3 objectives: the front is the unit sphere's positive octant. A point `y ≥ 0` is
//! dominated by some front point iff `‖y‖ ≥ 1` (`p ≤ y` with `p ≥ 0` forces `‖p‖ ≤ ‖y‖`, and
//! `y/‖y‖` dominates `y` when `‖y‖ ≥ 1`), so `HV = 1.1³ − vol(ball octant) = 1.331 − π/6`.
//!
//! See [`crate::testbed`] for the references (Zitzler, Deb & Thiele 2000; Deb et al. 2002).

use std::f64::consts::FRAC_PI_2;

/// `HV` of ZDT1's front for `r = (1.1, 1.1)`: `1.21 − 1/3`.
pub(super) const ZDT1_HV: f64 = 1.21 - 1.0 / 3.0;
/// `HV` of ZDT2's front for `r = (1.1, 1.1)`: `1.21 − 2/3`.
pub(super) const ZDT2_HV: f64 = 1.21 - 2.0 / 3.0;
/// `HV` of 3-objective DTLZ2's front for `r = (1.1, 1.1, 1.1)`: `1.331 − π/6`.
pub(super) const DTLZ2_3_HV: f64 = 1.331 - std::f64::consts::PI / 6.0;

/// ZDT's `g = 1 + 9 Σ_{i≥2} xᵢ/(n − 1)` (Zitzler et al. 2000): 1 on the Pareto set.
fn zdt_g(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 1.0;
    }
    1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64
}

/// ZDT1 (Zitzler et al. 2000, `T₁`), `x ∈ [0, 1]^n`: `f₁ = x₁`, `f₂ = g·(1 − √(f₁/g))`.
/// Convex Pareto front `f₂ = 1 − √f₁` where `x₂ = … = xₙ = 0`.
pub fn zdt1(x: &[f64]) -> Vec<f64> {
    let g = zdt_g(x);
    vec![x[0], g * (1.0 - (x[0] / g).sqrt())]
}

/// ZDT2 (Zitzler et al. 2000, `T₂`), `x ∈ [0, 1]^n`: `f₁ = x₁`, `f₂ = g·(1 − (f₁/g)²)`.
/// Concave Pareto front `f₂ = 1 − f₁²` where `x₂ = … = xₙ = 0`.
pub fn zdt2(x: &[f64]) -> Vec<f64> {
    let g = zdt_g(x);
    vec![x[0], g * (1.0 - (x[0] / g).powi(2))]
}

/// ZDT's Pareto set: `x₁ = t₁`, the other `d − 1` coordinates 0.
pub(super) fn zdt_pareto_x(t: &[f64], d: usize) -> Vec<f64> {
    let mut x = vec![0.0; d];
    x[0] = t[0];
    x
}

/// DTLZ2 (Deb et al. 2002) with `m ≥ 1` objectives, `x ∈ [0, 1]^n`, `n ≥ m`: with
/// `g = Σ_{i ≥ m} (xᵢ − 1/2)²` over the last `n − m + 1` (distance) variables and
/// `θᵢ = xᵢ π/2`, `f₁ = (1 + g) Π_{i<m} cos θᵢ` and
/// `f_k = (1 + g) Π_{i ≤ m−k} cos θᵢ · sin θ_{m−k+1}`. Pareto front: the unit sphere's
/// positive orthant (`g = 0`, every distance variable 1/2).
pub fn dtlz2(x: &[f64], m: usize) -> Vec<f64> {
    let g: f64 = x[m - 1..].iter().map(|v| (v - 0.5).powi(2)).sum();
    let theta: Vec<f64> = x[..m - 1].iter().map(|v| v * FRAC_PI_2).collect();
    (1..=m)
        .map(|k| {
            let cosines: f64 = theta[..m - k].iter().map(|t| t.cos()).product();
            let sine = if k == 1 { 1.0 } else { theta[m - k].sin() };
            (1.0 + g) * cosines * sine
        })
        .collect()
}

/// [`dtlz2`] with 3 objectives.
pub(super) fn dtlz2_3(x: &[f64]) -> Vec<f64> {
    dtlz2(x, 3)
}

/// DTLZ2's Pareto set for 3 objectives: `x₁, x₂ = t`, every distance variable 1/2.
pub(super) fn dtlz2_pareto_x(t: &[f64], d: usize) -> Vec<f64> {
    let mut x = vec![0.5; d];
    x[..2].copy_from_slice(&t[..2]);
    x
}
