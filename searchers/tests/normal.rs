//! The standard normal functions against 50-digit mpmath values, and their identities on dense
//! grids.
//!
//! Every expected value below was printed by this script (python3, mpmath 1.3.0), run as
//! `python3 normal_ref.py`; the `z`, `x` and `p` it evaluates at are the exact doubles of the
//! literals (mpmath converts a float exactly):
//!
//! ```python
//! # Reference values for searchers/tests/normal.rs (mpmath 1.3.0, 50 digits).
//! from mpmath import mp, mpf, ncdf, npdf, erfc, exp, log, sqrt
//! mp.dps = 50
//! def h(z): return npdf(z) + z * ncdf(z)
//! zs = [-40.0, -39.0, -38.0, -37.0, -35.0, -30.0, -25.0, -20.0, -17.0, -16.25, -16.0, -15.75,
//!       -12.0, -10.0, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.0000001, -1.0, -0.9999999,
//!       -0.75, -0.5, -0.3, -0.1, -1e-8, 0.0, 1e-8, 0.1, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0,
//!       5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 40.0]
//! print("// (z, Φ(z), ln Φ(z), h(z), ln h(z))")
//! for z in zs:
//!     Z = mpf(z)
//!     # ln Φ(z) = ln(1 − Φ(−z)) for z > 0 keeps the tiny tail that 1 − Φ(−z) would round away.
//!     logcdf = mp.log1p(-ncdf(-Z)) if z > 0 else log(ncdf(Z))
//!     print("    (%r, %.17e, %.17e, %.17e, %.17e)," % (z, ncdf(Z), logcdf, h(Z), log(h(Z))))
//! xs = [-26.0, -10.0, -3.0, -0.5, -0.46875, -0.2, -1e-20, 0.0, 1e-20, 0.2, 0.46875, 0.4688, 1.0,
//!       2.0, 3.99, 4.0, 4.01, 5.0, 10.0, 30.0, 100.0, 1e5, 6.7e7, 6.72e7, 1e12, 1e300]
//! print("// (x, erfcx(x))")
//! for x in xs:
//!     X = mpf(x)
//!     # Beyond 1e12 the first term of A&S 7.1.23, 1/(x√π), is exact to far below 1e-17.
//!     v = exp(X * X) * erfc(X) if x < 1e13 else 1 / (X * sqrt(mp.pi))
//!     print("    (%r, %.17e)," % (x, v))
//! ps = [5e-324, 1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 1e-3, 0.02, 0.02425, 0.025, 0.1, 0.3, 0.49,
//!       0.5, 0.51, 0.7, 0.9, 0.97575, 0.99, 0.999999, 1 - 1e-12]
//! print("// (p, Φ⁻¹(p))")
//! for p in ps:
//!     P = mpf(p)
//!     # Bisection on log Φ to full precision (robust in the tails).
//!     lo, hi = mpf(-40), mpf(40)
//!     target = log(P)
//!     for _ in range(400):
//!         mid = (lo + hi) / 2
//!         if log(ncdf(mid)) < target: lo = mid
//!         else: hi = mid
//!     x = (lo + hi) / 2
//!     print("    (%r, %.17e)," % (p, 0 if abs(x) < 1e-40 else x))
//! ```

// The tables keep the 18 significant digits mpmath printed, the compiler rounds each to the
// nearest double; some values are ln 2, ln 10, … and stay as mpmath printed them.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use mergesearch_searchers::normal::{cdf, erfcx, h, inv_cdf, log1mexp, log_cdf, log_h, pdf};

/// `(z, Φ(z), ln Φ(z), h(z), ln h(z))` from mpmath.
#[rustfmt::skip]
const AT_Z: [(f64, f64, f64, f64, f64); 49] = [
    (-40.0, 0.00000000000000000e+00, -8.04608442013753802e+02, 0.00000000000000000e+00, -8.08298568356619967e+02),
    (-39.0, 0.00000000000000000e+00, -7.65083156564377532e+02, 0.00000000000000000e+00, -7.68748029692850082e+02),
    (-38.0, 2.88542835100396451e-316, -7.26557216018820100e+02, 7.58275155005186594e-318, -7.30196183402113775e+02),
    (-37.0, 5.72557122252457710e-300, -6.89030585576890644e+02, 1.54519919051220240e-301, -6.92642960163270459e+02),
    (-35.0, 1.12491070647240624e-268, -6.16975101261922532e+02, 3.20880448260247695e-270, -6.20532076675948019e+02),
    (-30.0, 4.90671392714818718e-198, -4.54321243956343210e+02, 1.63195673409140108e-199, -4.57724653760598017e+02),
    (-25.0, 3.05669670638256102e-138, -3.16639408008020268e+02, 1.21879704629903678e-139, -3.19861463581495968e+02),
    (-20.0, 2.75362411860623374e-89, -2.03917155371097266e+02, 1.37001249472957984e-90, -2.06917838509425110e+02),
    (-17.0, 4.10599620209890653e-65, -1.48255582650980386e+02, 2.39885907504405082e-66, -1.51095622898682876e+02),
    (-16.25, 1.11682212424762030e-59, -1.35742033223425295e+02, 6.82165653033156441e-61, -1.38537588337264651e+02),
    (-16.0, 6.38875440053808680e-58, -1.31695396073759696e+02, 3.96236870580952747e-59, -1.34475678482174800e+02),
    (-15.75, 3.43406574927214064e-56, -1.27711020298818909e+02, 2.16312424092121393e-57, -1.30475796716170862e+02),
    (-12.0, 1.77648211207767904e-33, -7.54106730015687958e+01, 1.46052011698455483e-34, -7.79091005450073482e+01),
    (-10.0, 7.61985302416052545e-24, -5.32312851505124698e+01, 7.47456025458932840e-25, -5.55531220361223532e+01),
    (-8.0, 6.22096057427178387e-16, -3.50134371599145524e+01, 7.55026241194649920e-17, -3.71223642616926313e+01),
    (-6.0, 9.86587645037698091e-10, -2.07367689499747065e+01, 1.56356979597096639e-10, -2.25788793921697959e+01),
    (-5.0, 2.86651571879193912e-07, -1.50649983939887253e+01, 5.34616553383281517e-08, -1.67443011626609888e+01),
    (-4.0, 3.16712418331199243e-05, -1.03601014865272916e+01, 7.14525843240566694e-06, -1.18490615775506622e+01),
    (-3.0, 1.34989803163009458e-03, -6.60772622151034916e+00, 3.82154317047723579e-04, -7.86968605960302892e+00),
    (-2.5, 6.20966532577613486e-03, -5.08164827727869017e+00, 2.00413717912819927e-03, -6.21254164544351273e+00),
    (-2.0, 2.27501319481792086e-02, -3.78318433368203211e+00, 8.49070261682963699e-03, -4.76878352391711413e+00),
    (-1.5, 6.68072012688580713e-02, -2.70594440082388976e+00, 2.93067937626046299e-02, -3.52993592080570995e+00),
    (-1.0000001, 1.58655229734385783e-01, -1.84102179752279516e+00, 8.33154547221621050e-02, -2.48512121613976822e+00),
    (-1.0, 1.58655253931457046e-01, -1.84102164500926357e+00, 8.33154705876863050e-02, -2.48512102571264126e+00),
    (-0.9999999, 1.58655278128530697e-01, -1.84102149249573999e+00, 8.33154864532128919e-02, -2.48512083528552186e+00),
    (-0.75, 2.26627352376868207e-01, -1.48444822991965619e+00, 1.31166917872153260e-01, -2.03128458463208217e+00),
    (-0.5, 3.08537538725986882e-01, -1.17591176159361854e+00, 1.97796557401306028e-01, -1.62051626438731988e+00),
    (-0.3, 3.82088577811047381e-01, -9.62102818168850682e-01, 2.66761242117209862e-01, -1.32140124491904354e+00),
    (-0.1, 4.60172162722971012e-01, -7.76154592730273318e-01, 3.50935331204714651e-01, -1.04715331407284595e+00),
    (-1e-08, 4.99999996010577208e-01, -6.93147188538790981e-01, 3.98942275401432678e-01, -9.18938545737814194e-01),
    (0.0, 5.00000000000000000e-01, -6.93147180559945286e-01, 3.98942280401432703e-01, -9.18938533204672781e-01),
    (1e-08, 5.00000003989422792e-01, -6.93147172581099702e-01, 3.98942285401432672e-01, -9.18938520671531367e-01),
    (0.1, 5.39827837277028988e-01, -6.16505010115026342e-01, 4.50935331204714684e-01, -7.96431339550747075e-01),
    (0.3, 6.17911422188952675e-01, -4.81410161588481211e-01, 5.66761242117209907e-01, -5.67817153677936948e-01),
    (0.5, 6.91462461274013118e-01, -3.68946415288656404e-01, 6.97796557401306083e-01, -3.59827683745063798e-01),
    (0.75, 7.73372647623131848e-01, -2.56994266838365237e-01, 8.81166917872153288e-01, -1.26508206891952968e-01),
    (1.0, 8.41344746068542926e-01, -1.72753779023449877e-01, 1.08331547058768640e+00, 8.00262188493069404e-02),
    (1.5, 9.33192798731141915e-01, -6.91434556122339783e-02, 1.52930679376260459e+00, 4.24814556762259321e-01),
    (2.0, 9.77249868051820791e-01, -2.30129093289634899e-02, 2.00849070261682972e+00, 6.97383545788228365e-01),
    (3.0, 9.98650101968369897e-01, -1.35080996474819378e-03, 3.00038215431704769e+00, 1.09873966532770773e+00),
    (4.0, 9.99968328758166880e-01, -3.16717433774892670e-05, 4.00000714525843204e+00, 1.38629614743290319e+00),
    (5.0, 9.99999713348428076e-01, -2.86651612963763577e-07, 5.00000005346165555e+00, 1.60943792312643130e+00),
    (6.0, 9.99999999013412300e-01, -9.86587645524375801e-10, 6.00000000015635671e+00, 1.79175946925411456e+00),
    (8.0, 9.99999999999999334e-01, -6.22096057427178585e-16, 8.00000000000000000e+00, 2.07944154167983575e+00),
    (10.0, 1.00000000000000000e+00, -7.61985302416052545e-24, 1.00000000000000000e+01, 2.30258509299404590e+00),
    (15.0, 1.00000000000000000e+00, -3.67096619931275083e-51, 1.50000000000000000e+01, 2.70805020110221006e+00),
    (20.0, 1.00000000000000000e+00, -2.75362411860623374e-89, 2.00000000000000000e+01, 2.99573227355399085e+00),
    (30.0, 1.00000000000000000e+00, -4.90671392714818718e-198, 3.00000000000000000e+01, 3.40119738166215546e+00),
    (40.0, 1.00000000000000000e+00, -0.00000000000000000e+00, 4.00000000000000000e+01, 3.68887945411393625e+00),
];

/// `(x, erfcx(x))` from mpmath.
#[rustfmt::skip]
const ERFCX: [(f64, f64); 26] = [
    (-26.0, 7.65772493149056822e+293),
    (-10.0, 5.37623428363227122e+43),
    (-3.0, 1.62059888539995864e+04),
    (-0.5, 1.95236048918255700e+00),
    (-0.46875, 1.85940241687142205e+00),
    (-0.2, 1.27260202848319581e+00),
    (-1e-20, 1.00000000000000000e+00),
    (0.0, 1.00000000000000000e+00),
    (1e-20, 1.00000000000000000e+00),
    (0.2, 8.09019519901580719e-01),
    (0.46875, 6.32069689249556088e-01),
    (0.4688, 6.32042899510122491e-01),
    (1.0, 4.27583576155806999e-01),
    (2.0, 2.55395676310505748e-01),
    (3.99, 1.37324040914229700e-01),
    (4.0, 1.36999457625061383e-01),
    (4.01, 1.36676367429949153e-01),
    (5.0, 1.10704637733068628e-01),
    (10.0, 5.61409927438225875e-02),
    (30.0, 1.87958888614167506e-02),
    (100.0, 5.64161378298943302e-03),
    (100000.0, 5.64189583519546848e-06),
    (67000000.0, 8.42074005295158602e-09),
    (67200000.0, 8.39567832660351442e-09),
    (1000000000000.0, 5.64189583547756283e-13),
    (1e+300, 5.64189583547756226e-301),
];

/// `(p, Φ⁻¹(p))` from mpmath (bisection on `ln Φ` to 50 digits).
#[rustfmt::skip]
const QUANTILES: [(f64, f64); 21] = [
    (5e-324, -3.84674056171443439e+01),
    (1e-300, -3.70470962993612005e+01),
    (1e-100, -2.12734535609653257e+01),
    (1e-20, -9.26234008979840695e+00),
    (1e-10, -6.36134090240405659e+00),
    (1e-05, -4.26489079392282466e+00),
    (0.001, -3.09023230616781364e+00),
    (0.02, -2.05374891063182297e+00),
    (0.02425, -1.97296105131188493e+00),
    (0.025, -1.95996398454005427e+00),
    (0.1, -1.28155156554460037e+00),
    (0.3, -5.24400512708040778e-01),
    (0.49, -2.50689082587110569e-02),
    (0.5, 0.00000000000000000e+00),
    (0.51, 2.50689082587110569e-02),
    (0.7, 5.24400512708040667e-01),
    (0.9, 1.28155156554460059e+00),
    (0.97575, 1.97296105131188493e+00),
    (0.99, 2.32634787404084076e+00),
    (0.999999, 4.75342430881708733e+00),
    (0.999999999999, 7.03448691004783555e+00),
];

/// Relative error of `got` against `want`, with an absolute floor of `floor` (for values
/// near 0, where a relative error means nothing).
fn err(got: f64, want: f64, floor: f64) -> f64 {
    (got - want).abs() / want.abs().max(floor)
}

/// Asserts every `(input, got, want)` within `tol` (relative, floor `floor`), naming the
/// worst case on failure.
fn check(name: &str, cases: impl Iterator<Item = (f64, f64, f64)>, tol: f64, floor: f64) {
    let mut worst = (0.0, f64::NAN, f64::NAN, f64::NAN);
    for (input, got, want) in cases {
        let e = err(got, want, floor);
        assert!(!e.is_nan(), "{name}({input}) = {got}, want {want}");
        if e > worst.0 {
            worst = (e, input, got, want);
        }
    }
    let (e, input, got, want) = worst;
    assert!(
        e <= tol,
        "{name}: worst relative error {e:.2e} at {input}: got {got:e}, want {want:e}"
    );
}

#[test]
fn cdf_matches_mpmath_where_it_is_a_normal_double() {
    // Below z ≈ −37.5 the true Φ is subnormal or underflows; there only smallness is checked.
    let normal = AT_Z.iter().filter(|c| c.1 >= f64::MIN_POSITIVE);
    check("cdf", normal.map(|c| (c.0, cdf(c.0), c.1)), 2e-15, 0.0);
    for c in AT_Z.iter().filter(|c| c.1 < f64::MIN_POSITIVE) {
        assert!((0.0..f64::MIN_POSITIVE).contains(&cdf(c.0)), "cdf({})", c.0);
    }
}

#[test]
fn log_cdf_matches_mpmath_on_minus_40_to_40() {
    // Floor 1e-300: ln Φ(40) ≈ −4e-350 is −0 in double precision.
    check(
        "log_cdf",
        AT_Z.iter().map(|c| (c.0, log_cdf(c.0), c.2)),
        2e-15,
        1e-300,
    );
}

#[test]
fn h_matches_mpmath_where_it_is_a_normal_double() {
    let normal = AT_Z.iter().filter(|c| c.3 >= f64::MIN_POSITIVE);
    // 5e-15: on [−4, −1] h = φ·(1 − |z|Φ/φ) loses up to ~20ε to cancellation (2.3e-15 at −3).
    check("h", normal.map(|c| (c.0, h(c.0), c.3)), 5e-15, 0.0);
}

#[test]
fn log_h_matches_mpmath_on_minus_40_to_40() {
    check(
        "log_h",
        AT_Z.iter().map(|c| (c.0, log_h(c.0), c.4)),
        2e-15,
        0.0,
    );
}

#[test]
fn erfcx_matches_mpmath_on_both_sides_and_far_out() {
    check(
        "erfcx",
        ERFCX.iter().map(|c| (c.0, erfcx(c.0), c.1)),
        2e-15,
        0.0,
    );
    assert_eq!(erfcx(-27.0), f64::INFINITY); // 2·exp(729) overflows (Cody's XNEG = −26.628)
    assert_eq!(erfcx(f64::INFINITY), 0.0);
    assert!(erfcx(f64::NAN).is_nan());
}

#[test]
fn inv_cdf_matches_mpmath_from_the_smallest_subnormal_to_one_minus_1e_minus_12() {
    // Floor 1e-300 so Φ⁻¹(0.5) = 0 is compared absolutely.
    check(
        "inv_cdf",
        QUANTILES.iter().map(|c| (c.0, inv_cdf(c.0), c.1)),
        2e-15,
        1e-300,
    );
    assert_eq!(inv_cdf(0.0), f64::NEG_INFINITY);
    assert_eq!(inv_cdf(1.0), f64::INFINITY);
    assert!(inv_cdf(-0.1).is_nan() && inv_cdf(1.5).is_nan() && inv_cdf(f64::NAN).is_nan());
}

/// `z` from `lo` to `hi` in `n` equal steps.
fn grid(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
    (0..=n).map(move |i| lo + (hi - lo) * i as f64 / n as f64)
}

#[test]
fn identities_hold_on_a_dense_grid() {
    for z in grid(-40.0, 40.0, 8000) {
        // Φ(z) + Φ(−z) = 1 and h(z) − h(−z) = z (both from φ(−z) = φ(z), A&S 26.2.5).
        assert!(
            (cdf(z) + cdf(-z) - 1.0).abs() <= 2.0 * f64::EPSILON,
            "Φ symmetry at {z}"
        );
        assert!(
            (h(z) - h(-z) - z).abs() <= 4.0 * f64::EPSILON * z.abs().max(1.0),
            "h(z) − h(−z) = z at {z}"
        );
        // The log forms agree with the plain ones wherever those are normal doubles.
        // exp magnifies the absolute rounding of ln h (about ε·|ln h|) into a relative one.
        if h(z) >= f64::MIN_POSITIVE {
            let tol = 1e-14 + 4.0 * f64::EPSILON * log_h(z).abs();
            assert!(
                err(log_h(z).exp(), h(z), 0.0) <= tol,
                "exp(log_h) = h at {z}"
            );
        }
        // (For z > 0 the plain ln Φ(z) is the inexact side: Φ(z) has rounded towards 1.)
        if z <= 0.0 && cdf(z) >= f64::MIN_POSITIVE {
            assert!(
                err(log_cdf(z), cdf(z).ln(), 1e-300) <= 1e-14,
                "log_cdf = ln Φ at {z}"
            );
        }
        // Round trip through the lower tail, where Φ carries full relative precision. Φ(z) is
        // itself rounded to a double, and a relative ε in p moves Φ⁻¹(p) by ε·Φ/φ.
        if z <= 0.0 && cdf(z) >= f64::MIN_POSITIVE {
            let tol = 1e-15 * z.abs() + 2.0 * f64::EPSILON * cdf(z) / pdf(z);
            assert!((inv_cdf(cdf(z)) - z).abs() <= tol, "Φ⁻¹(Φ(z)) = z at {z}");
        }
        // φ is the derivative of Φ and Φ that of h: central differences with step 1e-6,
        // whose truncation error is about z²·δ²/6 ≤ 3e-10 relative on this grid. Φ only for
        // z ≤ 0: above, 1 − Φ(−z) has lost the digits that the difference needs.
        let d = 1e-6;
        if z <= 0.0 && pdf(z) >= 1e-290 {
            let e = err((cdf(z + d) - cdf(z - d)) / (2.0 * d), pdf(z), 0.0);
            assert!(e <= 1e-8, "Φ' = φ at {z}: {e:e}");
        }
        if h(z) >= 1e-290 {
            let e = err((h(z + d) - h(z - d)) / (2.0 * d), cdf(z), 0.0);
            assert!(e <= 1e-8, "h' = Φ at {z}: {e:e}");
        }
    }
}

#[test]
fn log_h_is_continuous_and_increasing_across_its_branches() {
    // Branches meet at z = −1 (direct vs. Mills-ratio form) and z = −4 (erfcx difference
    // vs. continued fraction). Across a branch point the central difference over ±δ must match
    // the derivative (ln h)' = Φ(z)/h(z) (as h' = Φ); a jump of even 1e-10 between the
    // branches would show as a relative error of 1e-10/(2δ·Φ/h) ≥ 3e-6 here. The δ²
    // truncation term is about 1e-12 relative.
    let delta = 1e-6;
    for z0 in [-4.0f64, -1.0] {
        let (below, at, above) = (log_h(z0 - delta), log_h(z0), log_h(z0 + delta));
        assert!(below < at && at < above, "not increasing at {z0}");
        let slope = cdf(z0) / h(z0);
        let e = err((above - below) / (2.0 * delta), slope, 0.0);
        assert!(e <= 1e-6, "jump at {z0}: slope error {e:e}");
    }
    let mut prev = f64::NEG_INFINITY;
    for z in grid(-1e4, 40.0, 200_000) {
        let v = log_h(z);
        assert!(
            v.is_finite() && v > prev,
            "log_h not finite and increasing at {z}"
        );
        prev = v;
    }
    // Far out it is −z²/2 − ln√(2π) − 2 ln|z| (Ament et al. 2023, eq. (9), last branch).
    let z = -1e100f64;
    let want = -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln() - 2.0 * z.abs().ln();
    assert!(err(log_h(z), want, 0.0) <= 1e-15);
}

#[test]
fn log1mexp_is_accurate_on_both_branches() {
    // ln(1 − e^x) for x = −1e-20 is ln(1e-20) to first order; for x = −50 it is −e^-50 to
    // first order (Mächler 2012, the two branches of eq. (7)).
    assert!(err(log1mexp(-1e-20), (1e-20f64).ln(), 0.0) <= 1e-15);
    assert!(err(log1mexp(-50.0), -(-50.0f64).exp(), 0.0) <= 1e-15);
    assert!(
        err(
            log1mexp(-std::f64::consts::LN_2),
            -std::f64::consts::LN_2,
            0.0
        ) <= 1e-15
    );
    assert_eq!(log1mexp(0.0), f64::NEG_INFINITY);
}
