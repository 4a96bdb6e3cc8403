//! The benchmark problems: optima at their optimizers, nothing below the optimum in the box,
//! values at other points worked out by hand or with mpmath, Pareto-optimal points on the
//! analytic fronts, and the closed-form front hypervolumes bracketed by hypervolumes of
//! sampled fronts (`pareto::hypervolume`, exact for 2 and 3 objectives).
//!
//! The Hartmann-6 numbers come from this script (python3, mpmath 1.3.0):
//!
//! ```python
//! from mpmath import mp, mpf, exp, findroot
//! mp.dps = 40
//! alpha = [mpf('1.0'), mpf('1.2'), mpf('3.0'), mpf('3.2')]
//! A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
//!      [17, 8, 0.05, 10, 0.1, 14]]
//! A = [[mpf(str(v)) for v in r] for r in A]
//! P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
//!      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
//! P = [[mpf(v) / 10000 for v in r] for r in P]
//! def f(*x):
//!     return -sum(alpha[i] * exp(-sum(A[i][j] * (x[j] - P[i][j])**2 for j in range(6)))
//!                 for i in range(4))
//! def grad(*x):
//!     return [sum(alpha[i] * exp(-sum(A[i][j] * (x[j] - P[i][j])**2 for j in range(6)))
//!                 * 2 * A[i][k] * (x[k] - P[i][k]) for i in range(4)) for k in range(6)]
//! x0 = [mpf(s) for s in ['0.20169', '0.150011', '0.476874', '0.275332', '0.311652', '0.6573']]
//! print('f(x0)', f(*x0))                  # -3.32236801139133864946…
//! xs = findroot(grad, x0)                 # Newton on the gradient
//! print('x*', [mp.nstr(v, 17) for v in xs])
//! print('f*', f(*xs))                     # -3.32236801141551480008…
//! print('f(0.5^6)', f(*[mpf('0.5')] * 6))  # -0.50531499170223313651…
//! ```

use mergesearch_searchers::pareto::hypervolume;
use mergesearch_searchers::testbed::{
    ackley, branin, dtlz2, hartmann6, multi_objective_suite, single_objective_suite, zdt1, zdt2,
    MultiObjectiveProblem, HARTMANN6_MIN,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn uniform_in(b: &mergesearch_searchers::Bounds, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..b.dim())
        .map(|i| rng.random_range(b.lo[i]..b.hi[i]))
        .collect()
}

#[test]
fn the_single_objective_suite_is_what_the_benchmarks_expect() {
    let suite = single_objective_suite();
    let names: Vec<(&str, usize)> = suite.iter().map(|p| (p.name, p.bounds.dim())).collect();
    assert_eq!(
        names,
        [
            ("branin", 2),
            ("hartmann6", 6),
            ("ackley10", 10),
            ("rosenbrock10", 10)
        ]
    );
    // The optima stated in the brief (Branin: VLSE's 0.397887; 5/(4π) to 15 digits).
    assert!((suite[0].optimum - 0.397887357729739).abs() < 1e-15);
    assert!((suite[1].optimum - (-3.32236801141551)).abs() < 1e-14);
    assert_eq!((suite[2].optimum, suite[3].optimum), (0.0, 0.0));
    assert_eq!(
        suite[0].simple_regret(0.5),
        0.5 - 5.0 / (4.0 * std::f64::consts::PI)
    );
    assert_eq!(suite[3].problem().bounds, suite[3].bounds);
}

#[test]
fn every_function_attains_its_optimum_at_its_optimizers() {
    for p in single_objective_suite() {
        for x in &p.optimizers {
            assert!(
                p.bounds.contains(x),
                "{}: optimizer {x:?} outside the box",
                p.name
            );
            let v = (p.f)(x);
            // Branin at (±π, …): the bracket is 0 up to rounding of π (≈ 1e-15), so f is
            // within a few ulps of 5/(4π); Hartmann at the mpmath-refined x*; Ackley's
            // −20 − e + 20 + e and Rosenbrock's 0 up to rounding.
            assert!((v - p.optimum).abs() < 1e-13, "{}: f({x:?}) = {v}", p.name);
        }
    }
    // VLSE's 6-digit Hartmann minimizer is within 2.5e-11 of the minimum (mpmath: f(x0) =
    // −3.32236801139134, i.e. 2.4e-11 above it).
    let x0 = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
    assert!((hartmann6(&x0) - (-3.322_368_011_391_339)).abs() < 1e-13);
    assert!(hartmann6(&x0) > HARTMANN6_MIN);
}

#[test]
fn values_away_from_the_optimum_match_hand_and_mpmath_values() {
    let pi = std::f64::consts::PI;
    // Branin(0, 0) = (−6)² + 10(1 − 1/(8π))·cos 0 + 10 = 56 − 10/(8π) = 55.6021126422702617.
    assert!((branin(&[0.0, 0.0]) - 55.602_112_642_270_26).abs() < 1e-12);
    // Hartmann-6 at (1/2, …, 1/2): −0.50531499170223314 (mpmath, script above).
    assert!((hartmann6(&[0.5; 6]) - (-0.505_314_991_702_233_1)).abs() < 1e-15);
    // Ackley at (1, …, 1): cos 2π = 1, so 20 − 20 e^(−0.2) = 3.62538493844036283.
    assert!((ackley(&[1.0; 10]) - 3.625_384_938_440_363).abs() < 1e-13);
    // Branin's third minimizer as VLSE prints it, 9.42478 ≈ 3π: off by 3.7e-6 in x₁, so
    // within 1e-10 of the minimum.
    assert!((branin(&[9.42478, 2.475]) - 5.0 / (4.0 * pi)).abs() < 1e-10);
}

#[test]
fn no_point_of_the_box_beats_the_optimum() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for p in single_objective_suite() {
        for _ in 0..20_000 {
            let x = uniform_in(&p.bounds, &mut rng);
            assert!(
                (p.f)(&x) >= p.optimum,
                "{}: f({x:?}) below the optimum",
                p.name
            );
        }
        // Nor do small perturbations of the optimizers (they are local minima too).
        for x in &p.optimizers {
            for _ in 0..200 {
                let y: Vec<f64> = x
                    .iter()
                    .map(|v| v + rng.random_range(-1e-3..1e-3))
                    .collect();
                assert!((p.f)(&y) >= p.optimum - 1e-15, "{}: near {x:?}", p.name);
            }
        }
    }
}

fn problem(name: &str) -> MultiObjectiveProblem {
    multi_objective_suite()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
}

#[test]
fn the_multi_objective_suite_is_what_the_benchmarks_expect() {
    let suite = multi_objective_suite();
    let shape: Vec<(&str, usize, usize)> = suite
        .iter()
        .map(|p| (p.name, p.bounds.dim(), p.objectives))
        .collect();
    assert_eq!(shape, [("zdt1", 30, 2), ("zdt2", 30, 2), ("dtlz2", 12, 3)]);
    // The closed forms: 1.21 − 1/3, 1.21 − 2/3, 1.331 − π/6 (derived in testbed/multi.rs).
    let hv: Vec<f64> = suite.iter().map(|p| p.front_hypervolume).collect();
    assert!((hv[0] - 0.876_666_666_666_666_7).abs() < 1e-15);
    assert!((hv[1] - 0.543_333_333_333_333_3).abs() < 1e-15);
    assert!((hv[2] - 0.807_401_224_401_701_5).abs() < 1e-15);
    for p in &suite {
        assert_eq!(p.reference, vec![1.1; p.objectives]);
        let problem = p.problem();
        assert_eq!(problem.objectives(), p.objectives);
        assert_eq!(problem.reference.as_deref(), Some(p.reference.as_slice()));
    }
}

#[test]
fn pareto_optimal_points_lie_on_the_analytic_fronts() {
    let (z1, z2, d2) = (problem("zdt1"), problem("zdt2"), problem("dtlz2"));
    for k in 0..=100 {
        let t = k as f64 / 100.0;
        let f = (z1.f)(&z1.pareto_optimal_x(&[t]));
        assert_eq!(f[0], t);
        assert!((f[1] - (1.0 - t.sqrt())).abs() < 1e-15, "ZDT1 at {t}");
        let f = (z2.f)(&z2.pareto_optimal_x(&[t]));
        assert!((f[1] - (1.0 - t * t)).abs() < 1e-15, "ZDT2 at {t}");
        for l in 0..=20 {
            let s = l as f64 / 20.0;
            let x = d2.pareto_optimal_x(&[t, s]);
            assert!(d2.bounds.contains(&x));
            let f = (d2.f)(&x);
            let norm = f.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(
                (norm - 1.0).abs() < 1e-15 && f.iter().all(|v| *v >= 0.0),
                "DTLZ2"
            );
        }
    }
    // DTLZ2's corners: x₁ = 1 gives (0, 0, 1); x₁ = 0, x₂ = 0 gives (1, 0, 0).
    let f = dtlz2(&[0.0, 0.0, 0.5], 3);
    assert_eq!(f, vec![1.0, 0.0, 0.0]);
    assert!((dtlz2(&[1.0, 0.3, 0.5], 3)[2] - 1.0).abs() < 1e-15);
}

#[test]
fn no_point_of_the_box_is_beyond_the_fronts() {
    // g ≥ 1 (ZDT) and 1 + g ≥ 1 (DTLZ2) only push points away from the front: ZDT1's
    // f₂ = g − √(f₁g) and ZDT2's f₂ = g − f₁²/g grow with g for f₁ ≤ 1 ≤ g, and DTLZ2's
    // ‖f‖ = 1 + g.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..20_000 {
        let x: Vec<f64> = (0..30).map(|_| rng.random::<f64>()).collect();
        let f = zdt1(&x);
        assert!(f[1] >= 1.0 - f[0].sqrt() - 1e-15);
        let f = zdt2(&x);
        assert!(f[1] >= 1.0 - f[0] * f[0] - 1e-15);
        let f = dtlz2(&x[..12], 3);
        assert!(f.iter().map(|v| v * v).sum::<f64>().sqrt() >= 1.0 - 1e-15);
    }
}

/// `(lower, upper)` bounds on the hypervolume of a 2-objective front `f₂ = φ(f₁)`, φ
/// decreasing, from `n + 1` front points at `t = k/n`: the points themselves dominate less
/// than the curve; the points `(f₁(t_k), f₂(t_{k+1}))` dominate all of the curve between
/// `t_k` and `t_{k+1}`, so more.
fn zdt_bounds(p: &MultiObjectiveProblem, n: usize) -> (f64, f64) {
    let front: Vec<Vec<f64>> = (0..=n)
        .map(|k| (p.f)(&p.pareto_optimal_x(&[k as f64 / n as f64])))
        .collect();
    let corners: Vec<Vec<f64>> = front.windows(2).map(|w| vec![w[0][0], w[1][1]]).collect();
    (
        hypervolume(&front, &p.reference),
        hypervolume(&corners, &p.reference),
    )
}

#[test]
fn zdt_front_hypervolumes_are_bracketed_by_sampled_fronts() {
    for name in ["zdt1", "zdt2"] {
        let p = problem(name);
        let (lo, hi) = zdt_bounds(&p, 100_000);
        assert!(
            lo <= p.front_hypervolume && p.front_hypervolume <= hi,
            "{name}: {lo} {hi}"
        );
        // The bracket is n rectangles of width 1/n whose heights add up to φ's total drop,
        // 1: exactly 1/n = 1e-5, up to rounding.
        assert!(
            (hi - lo - 1e-5).abs() <= 1e-12,
            "{name}: bracket {lo}..{hi}"
        );
    }
}

/// `(lower, upper)` bounds on the hypervolume of DTLZ2's front from a `k × k` grid on the
/// position variables `(x₁, x₂) ∈ [0, 1]²`: the grid points dominate less than the sphere
/// octant; for each grid cell the componentwise minimum of the front over the cell dominates
/// the cell's part of the front, so these dominate more. With `θ = x₁π/2`, `ϕ = x₂π/2`,
/// `f = (cos θ cos ϕ, cos θ sin ϕ, sin θ)`: `f₁` is smallest at the cell's `(θ₁, ϕ₁)`
/// corner, `f₂` at `(θ₁, ϕ₀)`, `f₃` at `θ₀`.
fn dtlz2_bounds(p: &MultiObjectiveProblem, k: usize) -> (f64, f64) {
    let at = |i: usize, j: usize| {
        (p.f)(&p.pareto_optimal_x(&[i as f64 / k as f64, j as f64 / k as f64]))
    };
    let mut grid = Vec::new();
    let mut corners = Vec::new();
    for i in 0..=k {
        for j in 0..=k {
            grid.push(at(i, j));
            if i < k && j < k {
                corners.push(vec![at(i + 1, j + 1)[0], at(i + 1, j)[1], at(i, j)[2]]);
            }
        }
    }
    (
        hypervolume(&grid, &p.reference),
        hypervolume(&corners, &p.reference),
    )
}

#[test]
fn dtlz2_front_hypervolume_is_bracketed_by_sampled_fronts() {
    let p = problem("dtlz2");
    let want = 1.331 - std::f64::consts::PI / 6.0;
    let (lo60, hi60) = dtlz2_bounds(&p, 60);
    let (lo, hi) = dtlz2_bounds(&p, 120);
    assert!(
        lo60 <= lo && lo <= want && want <= hi && hi <= hi60,
        "{lo} ≤ {want} ≤ {hi}"
    );
    // The bracket shrinks like 1/k (staircase steps of size π/(2k) over the octant's area):
    // measured 0.0112 at k = 120.
    assert!(hi - lo <= 1.5 / 120.0, "bracket {lo}..{hi}");
    // Both bounds err by c/k + O(1/k²), so Richardson extrapolation 2·B(2k) − B(k) must land
    // much closer than the bracket: measured 3.2e-5 (lower) and 3.0e-5 (upper) below the
    // closed form, against a bracket of 1.1e-2.
    for (b60, b120) in [(lo60, lo), (hi60, hi)] {
        let extrapolated = 2.0 * b120 - b60;
        assert!(
            (extrapolated - want).abs() <= 1e-4,
            "{extrapolated} vs {want}"
        );
    }
}

#[test]
fn hypervolume_regret_is_zero_for_the_true_front_and_shrinks_with_density() {
    let p = problem("zdt1");
    let regret = |n: usize| {
        let pts: Vec<Vec<f64>> = (0..=n)
            .map(|k| (p.f)(&p.pareto_optimal_x(&[k as f64 / n as f64])))
            .collect();
        p.hypervolume_regret(&pts)
    };
    let (r10, r100, r1000) = (regret(10), regret(100), regret(1000));
    assert!(r10 > r100 && r100 > r1000 && r1000 > 0.0);
    // O(1/n): the staircase gaps ½·Σ (1/n)·Δf₂ ≈ 1/(2n) for a front falling by 1 over [0, 1].
    assert!(r1000 < 1e-3 && r1000 > 1e-4, "{r1000}");
    // Off-front points (x₂ > 0) lose more than on-front ones at the same f₁ values.
    let off: Vec<Vec<f64>> = (0..=100)
        .map(|k| {
            let mut x = p.pareto_optimal_x(&[k as f64 / 100.0]);
            x[1] = 0.1;
            (p.f)(&x)
        })
        .collect();
    assert!(p.hypervolume_regret(&off) > r100);
}
