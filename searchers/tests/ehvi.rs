//! EHVI and the box decomposition against independent computations: hypervolume differences
//! from `pareto::hypervolume` (exact for m ≤ 3), a brute-force inclusion–exclusion
//! hypervolume (any m), brute-force Monte Carlo with 10⁶ pseudo-random normal draws (each
//! tolerance is 4 standard errors of that estimate, computed alongside it), and the closed
//! forms of a front-free box.

use mergesearch_searchers::ehvi::{
    ehvi, ehvi_2d, ehvi_mc, ehvi_mc_boxes, hvi, log_ehvi, log_ehvi_2d, log_ehvi_mc,
    nondominated_boxes, normal_qmc_samples, AxisBox,
};
use mergesearch_searchers::normal::{h, log_h};
use mergesearch_searchers::pareto::hypervolume;
use mergesearch_searchers::SearchError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// `HV(front ∪ {p}) − HV(front)` from `pareto::hypervolume` (exact for m ≤ 3).
fn hv_gain(front: &[Vec<f64>], p: &[f64], r: &[f64]) -> f64 {
    let mut with = front.to_vec();
    with.push(p.to_vec());
    hypervolume(&with, r) - hypervolume(front, r)
}

/// Exact hypervolume by inclusion–exclusion over the non-empty subsets S of the points inside
/// `r`: `Σ (−1)^{|S|+1} Πⱼ (rⱼ − max_{i∈S} p_ij)` (exponential in n, for small fronts).
fn hv_brute(points: &[Vec<f64>], r: &[f64]) -> f64 {
    let inside: Vec<&Vec<f64>> = points
        .iter()
        .filter(|p| p.iter().zip(r).all(|(v, rj)| v < rj))
        .collect();
    let n = inside.len();
    let mut total = 0.0;
    for mask in 1u32..(1 << n) {
        let mut vol = 1.0;
        for (j, rj) in r.iter().enumerate() {
            let corner = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| inside[i][j])
                .fold(f64::NEG_INFINITY, f64::max);
            vol *= rj - corner;
        }
        total += if mask.count_ones() % 2 == 1 {
            vol
        } else {
            -vol
        };
    }
    total
}

/// `n` random points in `[0, 1)^m`: a mix of points near the simplex-like front
/// `Σ pⱼ ≈ 1` (mostly non-dominated) and points behind it (dominated).
fn random_front(rng: &mut ChaCha8Rng, n: usize, m: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let w: Vec<f64> = (0..m).map(|_| rng.random::<f64>() + 0.05).collect();
            let s: f64 = w.iter().sum();
            let scale = if i % 4 == 3 { 1.3 } else { 0.9 }; // every fourth sits behind
            w.iter().map(|v| (scale * v / s).min(0.999)).collect()
        })
        .collect()
}

fn box_volume_within(b: &AxisBox, floor: &[f64]) -> f64 {
    b.0.iter()
        .zip(&b.1)
        .zip(floor)
        .map(|((lo, hi), f)| (hi - lo.max(*f)).max(0.0))
        .product()
}

#[test]
fn boxes_are_disjoint_and_fill_the_nondominated_region() {
    // Within [0, r] the boxes must add up to the box volume minus the dominated hypervolume,
    // and no two may overlap (pairwise intersection volume 0).
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (m, n) in [(2, 12), (3, 12), (3, 40), (4, 9)] {
        let front = random_front(&mut rng, n, m);
        let r = vec![1.0; m];
        let boxes = nondominated_boxes(&front, &r);
        let floor = vec![0.0; m];
        let covered: f64 = boxes.iter().map(|b| box_volume_within(b, &floor)).sum();
        let hv = if m <= 3 {
            hypervolume(&front, &r)
        } else {
            hv_brute(&front, &r)
        };
        assert!(
            (covered - (1.0 - hv)).abs() < 1e-12,
            "m={m}: {covered} vs {}",
            1.0 - hv
        );
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let overlap: f64 = (0..m)
                    .map(|j| (a.1[j].min(b.1[j]) - a.0[j].max(b.0[j]).max(-10.0)).max(0.0))
                    .product();
                assert_eq!(overlap, 0.0, "m={m}: boxes {a:?} and {b:?} overlap");
            }
        }
    }
}

#[test]
fn hvi_equals_the_hypervolume_difference() {
    // Random fronts (dominated points and duplicates included) and random points, some of
    // them dominated, some beyond the reference point in one objective.
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for (m, n, trials) in [
        (1, 5, 50),
        (2, 15, 300),
        (3, 30, 300),
        (3, 100, 50),
        (4, 8, 100),
    ] {
        let mut front = random_front(&mut rng, n, m);
        front.push(front[0].clone());
        let r = vec![1.0; m];
        let boxes = nondominated_boxes(&front, &r);
        for _ in 0..trials {
            let p: Vec<f64> = (0..m).map(|_| rng.random_range(-0.1..1.1)).collect();
            let want = if m <= 3 {
                hv_gain(&front, &p, &r)
            } else {
                let mut with = front.clone();
                with.push(p.clone());
                hv_brute(&with, &r) - hv_brute(&front, &r)
            };
            let got = hvi(&p, &boxes);
            assert!((got - want).abs() < 1e-12, "m={m} p={p:?}: {got} vs {want}");
        }
    }
}

#[test]
fn three_objective_decomposition_has_linearly_many_boxes() {
    // With unchanged boxes merged across slabs, a 3-objective front of n mutually
    // non-dominated points gives O(n) boxes (Lacour et al. 2017); without merging it would be
    // about n²/2. Measured: 2n + 1 on these fronts (seed 3); the bound 3n + 1 leaves room.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in [10, 50, 100, 200] {
        let front: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let w: Vec<f64> = (0..3).map(|_| rng.random::<f64>() + 0.01).collect();
                let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
                w.iter().map(|v| v / norm).collect()
            })
            .collect();
        let boxes = nondominated_boxes(&front, &[1.1, 1.1, 1.1]);
        assert!(boxes.len() <= 3 * n + 1, "n={n}: {} boxes", boxes.len());
    }
}

#[test]
fn empty_front_and_points_outside_the_reference_box() {
    // No front: the one box (−∞, r), HVI = volume of [p, r]⁺.
    let r = [2.0, 3.0, 1.0];
    let boxes = nondominated_boxes(&[], &r);
    assert_eq!(boxes.len(), 1);
    assert_eq!(hvi(&[1.0, 1.0, 0.5], &boxes), 1.0 * 2.0 * 0.5);
    assert_eq!(hvi(&[1.0, 1.0, 1.5], &boxes), 0.0); // beyond r in the last objective
                                                    // Front points on or beyond the reference, or NaN, are ignored.
    let front = vec![
        vec![2.0, 0.0, 0.0],
        vec![f64::NAN, 0.0, 0.0],
        vec![0.0, 0.0, 1.0],
    ];
    assert_eq!(nondominated_boxes(&front, &r), boxes);
    // A point beyond r never improves, whatever the front; a NaN point neither.
    let front = vec![vec![1.0, 1.0, 0.5]];
    let boxes = nondominated_boxes(&front, &r);
    assert_eq!(hvi(&[0.0, 0.0, 1.0], &boxes), 0.0);
    assert_eq!(hvi(&[0.0, 5.0, 0.0], &boxes), 0.0);
    assert_eq!(hvi(&[f64::NAN, 0.0, 0.0], &boxes), 0.0);
    // The front's own point and anything it dominates gain nothing.
    assert_eq!(hvi(&[1.0, 1.0, 0.5], &boxes), 0.0);
    assert_eq!(hvi(&[1.5, 2.0, 0.7], &boxes), 0.0);
    // Empty reference: no boxes.
    assert!(nondominated_boxes(&[], &[]).is_empty());
}

/// Brute-force EHVI: the mean of `HV(front ∪ {Y}) − HV(front)` over `n` pseudo-random draws
/// `Y ~ N(mu, diag(sigma²))`, and its standard error.
fn mc_brute(mu: &[f64], sigma: &[f64], front: &[Vec<f64>], r: &[f64], n: usize) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let base = hypervolume(front, r);
    let mut with = front.to_vec();
    with.push(mu.to_vec());
    let last = with.len() - 1;
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    for _ in 0..n {
        for j in 0..mu.len() {
            let z: f64 = rng.sample(StandardNormal);
            with[last][j] = mu[j] + sigma[j] * z;
        }
        let gain = hypervolume(&with, r) - base;
        sum += gain;
        sum_sq += gain * gain;
    }
    let mean = sum / n as f64;
    let var = (sum_sq / n as f64 - mean * mean).max(0.0);
    (mean, (var / n as f64).sqrt())
}

fn as_arrays(front: &[Vec<f64>]) -> Vec<[f64; 2]> {
    front.iter().map(|p| [p[0], p[1]]).collect()
}

/// `(mu, sigma, front)` of a two-objective test case.
type Case2d = ([f64; 2], [f64; 2], Vec<Vec<f64>>);

/// Two-objective cases: a front with a dominated point, a duplicate and a point beyond the
/// reference; a prediction on the front's inner side, one behind it, one straddling the
/// reference, and an empty front.
fn cases_2d() -> Vec<Case2d> {
    let front = vec![
        vec![0.2, 0.8],
        vec![0.5, 0.5],
        vec![0.5, 0.5],
        vec![0.6, 0.7], // dominated by (0.5, 0.5)
        vec![0.8, 0.2],
        vec![1.2, 0.05], // beyond r₁
    ];
    vec![
        ([0.4, 0.4], [0.1, 0.2], front.clone()),
        ([0.7, 0.7], [0.3, 0.3], front.clone()),
        ([1.05, 0.3], [0.1, 0.05], front.clone()),
        ([0.3, 0.1], [0.02, 0.5], front),
        ([0.5, 0.5], [0.2, 0.2], Vec::new()),
    ]
}

#[test]
fn ehvi_2d_matches_brute_force_monte_carlo() {
    let r = [1.0, 1.0];
    for (mu, sigma, front) in cases_2d() {
        let exact = ehvi_2d(mu, sigma, &as_arrays(&front), r);
        let (mean, se) = mc_brute(&mu, &sigma, &front, &r, 1_000_000);
        assert!(
            se < 0.02 * mean,
            "the MC check is too weak for {mu:?}: se {se}"
        );
        assert!(
            (exact - mean).abs() <= 4.0 * se,
            "mu={mu:?} sigma={sigma:?}: exact {exact} vs MC {mean} ± {se}"
        );
    }
}

#[test]
fn ehvi_2d_of_an_empty_front_is_the_product_of_two_hinge_expectations() {
    // No front: HVI(y) = (1 − y₁)⁺(1 − y₂)⁺, so EHVI = E[(1 − Y₁)⁺]·E[(1 − Y₂)⁺] with
    // E[(c − Y)⁺] = σ·h((c − μ)/σ) (the EI formula of Jones et al. 1998).
    let (mu, sigma) = ([0.5, 0.8], [0.2, 0.3]);
    let want = 0.2 * h(0.5 / 0.2) * 0.3 * h(0.2 / 0.3);
    let got = ehvi_2d(mu, sigma, &[], [1.0, 1.0]);
    assert!((got - want).abs() <= 1e-15 * want, "{got} vs {want}");
}

#[test]
fn ehvi_2d_agrees_with_the_generic_box_form() {
    // The generic path (nondominated_boxes, then ehvi over any boxes) and the direct strip
    // sum of ehvi_2d are two codings of the same formula.
    let r = [1.0, 1.0];
    for (mu, sigma, front) in cases_2d() {
        let boxes = nondominated_boxes(&front, &r);
        let direct = ehvi_2d(mu, sigma, &as_arrays(&front), r);
        let generic = ehvi(&mu, &sigma, &boxes);
        assert!(
            (direct - generic).abs() <= 1e-14 * direct,
            "{direct} vs {generic}"
        );
        let (l1, l2) = (
            log_ehvi_2d(mu, sigma, &as_arrays(&front), r),
            log_ehvi(&mu, &sigma, &boxes),
        );
        assert!((l1 - l2).abs() <= 1e-13, "{l1} vs {l2}");
    }
}

#[test]
fn ehvi_2d_tends_to_the_deterministic_improvement_as_sigma_vanishes() {
    let r = [1.0, 1.0];
    let (_, _, front) = cases_2d().remove(0);
    let arrays = as_arrays(&front);
    for mu in [
        [0.4, 0.4],
        [0.1, 0.9],
        [0.3, 0.95],
        [0.7, 0.7],
        [0.9, 0.1],
        [1.1, 0.0],
    ] {
        let want = hv_gain(&front, &mu, &r);
        let exact = ehvi_2d(mu, [0.0, 0.0], &arrays, r);
        assert!(
            (exact - want).abs() <= 1e-15,
            "σ = 0 at {mu:?}: {exact} vs {want}"
        );
        for s in [1e-4, 1e-7, 1e-10] {
            // Smoothing a piecewise-bilinear function with a kernel of width s moves it by O(s).
            let got = ehvi_2d(mu, [s, s], &arrays, r);
            assert!(
                (got - want).abs() <= 2.0 * s,
                "σ = {s} at {mu:?}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn log_ehvi_2d_is_the_log_where_ehvi_is_representable() {
    let r = [1.0, 1.0];
    for (mu, sigma, front) in cases_2d() {
        let arrays = as_arrays(&front);
        let (plain, log) = (
            ehvi_2d(mu, sigma, &arrays, r),
            log_ehvi_2d(mu, sigma, &arrays, r),
        );
        assert!(
            (log - plain.ln()).abs() <= 1e-13,
            "{mu:?}: {log} vs ln {plain}"
        );
    }
    // Moderately far out (5 to 15 σ past the reference point) the plain value is still a normal
    // double, tiny, and the log must match its ln.
    let front = as_arrays(&cases_2d()[0].2);
    for k in [5.0, 10.0, 15.0] {
        let mu = [1.0 + 0.1 * k, 1.0 + 0.1 * k];
        let plain = ehvi_2d(mu, [0.1, 0.1], &front, r);
        let log = log_ehvi_2d(mu, [0.1, 0.1], &front, r);
        assert!(
            plain > 0.0 && (log - plain.ln()).abs() <= 1e-10 * plain.ln().abs(),
            "{k}"
        );
    }
}

#[test]
fn log_ehvi_2d_stays_finite_and_decreasing_where_ehvi_underflows() {
    // Walking μ away from the reference point along the diagonal, k σ past it. Every strip's
    // term is a product of two Gaussian tails at least k σ out, so from about k = 27 EHVI
    // underflows to 0; the log must stay finite, keep decreasing, and sit between
    // - below: the first strip alone, (−∞, 0.2) × (−∞, 1): E[(0.2 − Y₁)⁺]·E[(1 − Y₂)⁺],
    //   i.e. 2 ln σ + ln h((0.2 − μ₁)/σ) + ln h((1 − μ₂)/σ);
    // - above: 4 strips, each at most σ²·h(−k)², i.e. ln 4 + 2 ln σ + 2 ln h(−k).
    let r = [1.0, 1.0];
    let front = as_arrays(&cases_2d()[0].2);
    let sigma = [0.1, 0.1];
    let mut prev = f64::INFINITY;
    for k in (20..=400).step_by(5) {
        let k = f64::from(k);
        let mu = [1.0 + 0.1 * k, 1.0 + 0.1 * k];
        let log = log_ehvi_2d(mu, sigma, &front, r);
        assert!(log.is_finite() && log < prev, "k = {k}: {log} after {prev}");
        prev = log;
        let ln_s = 0.1f64.ln();
        let lower = 2.0 * ln_s + log_h((0.2 - mu[0]) / 0.1) + log_h((1.0 - mu[1]) / 0.1);
        let upper = 4.0f64.ln() + 2.0 * ln_s + 2.0 * log_h(-k);
        assert!(
            lower <= log && log <= upper,
            "k = {k}: {lower} ≤ {log} ≤ {upper}"
        );
        if k >= 30.0 {
            assert_eq!(ehvi_2d(mu, sigma, &front, r), 0.0, "k = {k}");
        }
    }
}

#[test]
fn ehvi_mc_with_qmc_samples_agrees_with_the_closed_forms() {
    // 4096 scrambled-Sobol normal samples: the QMC error is well below the plain MC standard
    // error; compare within 4 plain standard errors (from brute-force MC with 10⁶ draws) plus
    // 1% — both estimators are of the same expectation.
    let samples = normal_qmc_samples(4096, 2, 11).unwrap();
    let r = [1.0, 1.0];
    for (mu, sigma, front) in cases_2d() {
        let exact = ehvi_2d(mu, sigma, &as_arrays(&front), r);
        let mc = ehvi_mc(&mu, &sigma, &front, &r, &samples);
        let (_, se) = mc_brute(&mu, &sigma, &front, &r, 100_000);
        // se here is the standard error of 10⁵ draws; for 4096 it is √(10⁵/4096) ≈ 5× larger.
        let tol = 4.0 * se * (100_000.0f64 / 4096.0).sqrt();
        assert!(
            (mc - exact).abs() <= tol,
            "{mu:?}: MC {mc} vs exact {exact} (tol {tol})"
        );
    }
}

#[test]
fn three_objective_ehvi_matches_brute_force_monte_carlo() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let front = random_front(&mut rng, 25, 3);
    let r = [1.0, 1.0, 1.0];
    let boxes = nondominated_boxes(&front, &r);
    let samples = normal_qmc_samples(8192, 3, 3).unwrap();
    for (mu, sigma) in [
        ([0.3, 0.3, 0.3], [0.1, 0.1, 0.1]),
        ([0.5, 0.2, 0.4], [0.3, 0.05, 0.2]),
        ([0.9, 0.9, 0.9], [0.2, 0.2, 0.2]),
    ] {
        let exact = ehvi(&mu, &sigma, &boxes);
        let (mean, se) = mc_brute(&mu, &sigma, &front, &r, 300_000);
        assert!(
            (exact - mean).abs() <= 4.0 * se,
            "{mu:?}: {exact} vs {mean} ± {se}"
        );
        let qmc = ehvi_mc_boxes(&mu, &sigma, &boxes, &samples);
        let tol = 4.0 * se * (300_000.0f64 / 8192.0).sqrt();
        assert!((qmc - exact).abs() <= tol, "{mu:?}: QMC {qmc} vs {exact}");
        let log = log_ehvi(&mu, &sigma, &boxes);
        assert!((log - exact.ln()).abs() <= 1e-12, "{log} vs ln {exact}");
    }
}

#[test]
fn log_ehvi_mc_falls_back_to_the_closed_form_when_no_sample_improves() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let front = random_front(&mut rng, 10, 3);
    let r = [1.0, 1.0, 1.0];
    let samples = normal_qmc_samples(256, 3, 0).unwrap();
    // Near the front some samples improve: the log of the estimate.
    let (mu, sigma) = ([0.3, 0.3, 0.3], [0.1, 0.1, 0.1]);
    let est = ehvi_mc(&mu, &sigma, &front, &r, &samples);
    assert!(est > 0.0);
    assert_eq!(log_ehvi_mc(&mu, &sigma, &front, &r, &samples), est.ln());
    // 20 σ beyond the reference point no sample (|z| < 5.4) reaches the region.
    let mu = [3.0, 3.0, 3.0];
    assert_eq!(ehvi_mc(&mu, &sigma, &front, &r, &samples), 0.0);
    let log = log_ehvi_mc(&mu, &sigma, &front, &r, &samples);
    let boxes = nondominated_boxes(&front, &r);
    assert_eq!(log, log_ehvi(&mu, &sigma, &boxes));
    // Each box's term is a product of three tails at least 20σ out: the log is finite and
    // at most ln(#boxes) + 3·(ln σ + ln h(−20)).
    let upper = (boxes.len() as f64).ln() + 3.0 * (0.1f64.ln() + log_h(-20.0));
    assert!(log.is_finite() && log <= upper, "{log} > {upper}");
}

#[test]
fn bad_sigma_gives_nan_and_zero_sigma_is_the_point_prediction() {
    let front = vec![vec![0.5, 0.5, 0.5]];
    let r = [1.0, 1.0, 1.0];
    let boxes = nondominated_boxes(&front, &r);
    let mu = [0.2, 0.6, 0.2];
    for bad in [[-0.1, 0.1, 0.1], [f64::NAN, 0.1, 0.1]] {
        assert!(ehvi(&mu, &bad, &boxes).is_nan());
        assert!(log_ehvi(&mu, &bad, &boxes).is_nan());
        assert!(ehvi_2d([0.2, 0.6], [bad[0], 0.1], &[[0.5, 0.5]], [1.0, 1.0]).is_nan());
        assert!(ehvi_mc_boxes(&mu, &bad, &boxes, &[vec![0.0; 3]]).is_nan());
    }
    assert_eq!(ehvi(&mu, &[0.0; 3], &boxes), hvi(&mu, &boxes));
    // A dominated point prediction: EHVI 0 and log −∞.
    assert_eq!(
        log_ehvi(&[0.6, 0.6, 0.6], &[0.0; 3], &boxes),
        f64::NEG_INFINITY
    );
    assert!(ehvi_mc_boxes(&mu, &[0.1; 3], &boxes, &[]).is_nan()); // no samples
}

#[test]
fn qmc_samples_are_standard_normal_and_reproducible() {
    let s = normal_qmc_samples(4096, 3, 42).unwrap();
    assert_eq!(s, normal_qmc_samples(4096, 3, 42).unwrap());
    assert_ne!(s, normal_qmc_samples(4096, 3, 43).unwrap());
    for j in 0..3 {
        let col: Vec<f64> = s.iter().map(|row| row[j]).collect();
        let mean = col.iter().sum::<f64>() / 4096.0;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4095.0;
        // Plain MC would give |mean| ~ 1/64 and |var − 1| ~ 0.02; a scrambled net is far
        // tighter (each stratum of width 2^-12 holds one point).
        assert!(
            mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-2,
            "dim {j}: {mean} {var}"
        );
        assert!(col.iter().all(|v| v.is_finite() && v.abs() < 5.4));
    }
    assert!(matches!(
        normal_qmc_samples(1 << 17, 2, 0),
        Err(SearchError::Config(_))
    ));
    assert!(matches!(
        normal_qmc_samples(8, 0, 0),
        Err(SearchError::Config(_))
    ));
    assert!(matches!(
        normal_qmc_samples(8, 257, 0),
        Err(SearchError::Config(_))
    ));
}
