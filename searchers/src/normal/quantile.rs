//! The standard normal quantile `Φ⁻¹(p)`: Acklam's rational approximation (relative error
//! below 1.15e-9) polished by one step of Halley's method, which triples the number of correct
//! digits and so reaches double precision.
//!
//! The step is taken in the lower half (`p ≤ 1/2`; the upper half uses `Φ⁻¹(p) = −Φ⁻¹(1 − p)`,
//! where `1 − p` is exact). Its residual `u = (Φ(x) − p)/φ(x)` is formed without cancellation:
//! near the centre from `erf` and the exact `p − 1/2`; in the tail as `Φ(x)/φ(x) − p/φ(x)`
//! with `Φ(x)/φ(x)` from `erfcx` and `p/φ(x) = exp(ln p + x²/2 + ln√(2π))`, so it neither
//! underflows nor overflows down to the smallest subnormal `p`.
//!
//! ## References
//! - P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution
//!   function", 2003 (coefficients `a`, `b`, `c`, `d`, breakpoint `p_low = 0.02425`, and the
//!   Halley refinement `x ← x − u/(1 + x·u/2)` with `u = (Φ(x) − p)·√(2π)·exp(x²/2)`).
//! - E. Halley's method: see e.g. A. S. Householder, "The Numerical Treatment of a Single
//!   Nonlinear Equation", 1970, Sec. 4.4.

// Acklam's coefficients as published (one has a trailing zero clippy calls excess precision).
#![allow(clippy::excessive_precision)]

use super::erfcx::{erf_small, THRESH};
use super::{erfcx, pdf, LN_SQRT_2PI, SQRT_FRAC_PI_2};

const A: [f64; 6] = [
    -3.969683028665376e+01,
    2.209460984245205e+02,
    -2.759285104469687e+02,
    1.383577518672690e+02,
    -3.066479806614716e+01,
    2.506628277459239e+00,
];
const B: [f64; 5] = [
    -5.447609879822406e+01,
    1.615858368580409e+02,
    -1.556989798598866e+02,
    6.680131188771972e+01,
    -1.328068155288572e+01,
];
const C: [f64; 6] = [
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e+00,
    -2.549732539343734e+00,
    4.374664141464968e+00,
    2.938163982698783e+00,
];
const D: [f64; 4] = [
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e+00,
    3.754408661907416e+00,
];
/// Below `P_LOW` Acklam's tail approximation applies, above it the central one.
const P_LOW: f64 = 0.02425;

/// The standard normal quantile `Φ⁻¹(p)` for `p ∈ (0, 1)`; `−∞` at 0, `+∞` at 1, NaN outside
/// `[0, 1]`. Acklam (2003) plus one Halley step: about 1e-15 relative.
pub fn inv_cdf(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p <= 0.5 {
        lower(p)
    } else {
        -lower(1.0 - p)
    }
}

/// `Φ⁻¹(p)` for `0 ≤ p ≤ 1/2`.
fn lower(p: f64) -> f64 {
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    let x = if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // Halley: u = (Φ(x) − p)/φ(x), x ≤ 0 here.
    let t = -x * std::f64::consts::FRAC_1_SQRT_2;
    let u = if t <= THRESH {
        // Near the centre, Φ(x) − p = −erf(t)/2 − (p − 1/2): both parts carry full relative
        // precision (p − 1/2 is exact for p ≥ 1/4), so a small x keeps all its digits.
        (-0.5 * erf_small(t) - (p - 0.5)) / pdf(x)
    } else {
        // In the tail, Φ(x)/φ(x) = √(π/2)·erfcx(t) (Mills' ratio) and p/φ(x) from logs, so
        // nothing under- or overflows down to the smallest subnormal p.
        SQRT_FRAC_PI_2 * erfcx(t) - (p.ln() + 0.5 * x * x + LN_SQRT_2PI).exp()
    };
    x - u / (1.0 + 0.5 * x * u)
}
