//! `erfcx(x) = exp(x²)·erfc(x)` after W. J. Cody's rational Chebyshev approximations.
//!
//! The three intervals (`|x| ≤ 0.46875`, `≤ 4`, `> 4`) and their coefficient sets (about 18
//! significant digits) are Cody's (1969), as coded in the netlib SPECFUN routine `CALERF`
//! (W. J. Cody, 1990) with `JINT = 2`, whose constants `XSMALL`, `XNEG`, `XHUGE`, `XMAX` are
//! kept here under the same names.
//!
//! ## References
//! - W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp.
//!   23(107):631–637, 1969.
//! - W. J. Cody, SPECFUN `CALERF` (netlib, `specfun/erf`), 1990.

// The coefficient tables keep Cody's published digits (more than an f64 holds).
#![allow(clippy::excessive_precision)]

/// `|x|` up to which `erf` is approximated directly (Cody's `THRESH`).
pub(crate) const THRESH: f64 = 0.46875;
/// Below this `x²` is dropped from the first interval's polynomial (`XSMALL`).
const XSMALL: f64 = 1.11e-16;
/// `erfcx(x)` overflows below `XNEG` (`2·exp(x²)` does).
const XNEG: f64 = -26.628;
/// Beyond `XHUGE`, `erfcx(x) = 1/(x√π)` to double precision.
const XHUGE: f64 = 6.71e7;
/// Beyond `XMAX`, `1/(x√π)` underflows.
const XMAX: f64 = 2.53e307;
/// `1/√π`.
const SQRPI: f64 = 5.6418958354775628695e-1;

/// `erf(x) ≈ x·A(x²)/B(x²)` on `|x| ≤ 0.46875`.
const A: [f64; 5] = [
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
];
const B: [f64; 4] = [
    2.36012909523441209e01,
    2.44024637934444173e02,
    1.28261652607737228e03,
    2.84423683343917062e03,
];
/// `erfcx(x) ≈ C(x)/D(x)` on `0.46875 < x ≤ 4`.
const C: [f64; 9] = [
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
];
const D: [f64; 8] = [
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
];
/// `erfcx(x) ≈ (1/√π − x⁻²·P(x⁻²)/Q(x⁻²))/x` on `x > 4`.
const P: [f64; 6] = [
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
];
const Q: [f64; 5] = [
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
];

/// The scaled complementary error function `erfcx(x) = exp(x²)·erfc(x)` for every `x`
/// (Cody 1969 / CALERF): about `1/(x√π)` for large `x`, so `erfc` can be used far into the
/// tail without underflow; for `x < 0`, `2·exp(x²) − erfcx(−x)`, `+∞` below `x ≈ −26.63`.
pub fn erfcx(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let y = x.abs();
    if y <= THRESH {
        // erfcx = exp(x²)·(1 − erf(x)), for either sign of x.
        return (y * y).exp() * (1.0 - erf_small(x));
    }
    let positive = if y <= 4.0 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        (num + C[7]) / (den + D[7])
    } else if y >= XMAX {
        0.0
    } else if y >= XHUGE {
        SQRPI / y
    } else {
        let ysq = 1.0 / (y * y);
        let mut num = P[5] * ysq;
        let mut den = ysq;
        for i in 0..4 {
            num = (num + P[i]) * ysq;
            den = (den + Q[i]) * ysq;
        }
        let r = ysq * (num + P[4]) / (den + Q[4]);
        (SQRPI - r) / y
    };
    if x > 0.0 {
        positive
    } else if x < XNEG {
        f64::INFINITY
    } else {
        // erfc(−y) = 2 − erfc(y), so erfcx(−y) = 2·exp(y²) − erfcx(y); exp(y²) with Cody's
        // split y = yₕ + (y − yₕ), yₕ a multiple of 1/16, so yₕ² is exact.
        let yh = (y * 16.0).trunc() / 16.0;
        let del = (y - yh) * (y + yh);
        2.0 * (yh * yh).exp() * del.exp() - positive
    }
}

/// `erf(x) = x·A(x²)/B(x²)` for `|x| ≤ 0.46875` (Cody's first interval), with full relative
/// accuracy near 0; larger `|x|` is a caller bug (checked by a debug assertion).
pub(crate) fn erf_small(x: f64) -> f64 {
    debug_assert!(x.abs() <= THRESH, "erf_small({x}) is outside its interval");
    let ysq = if x.abs() > XSMALL { x * x } else { 0.0 };
    let mut num = A[4] * ysq;
    let mut den = ysq;
    for i in 0..3 {
        num = (num + A[i]) * ysq;
        den = (den + B[i]) * ysq;
    }
    x * (num + A[3]) / (den + B[3])
}
