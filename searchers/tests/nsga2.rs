//! NSGA-II: conformance, convergence on ZDT1/ZDT2, failures, snapshots, config.

mod common;

use common::batch;
use mergesearch_searchers::pareto::hypervolume;
use mergesearch_searchers::testbed::{multi_objective_suite, zdt1, zdt2};
use mergesearch_searchers::{
    build, AnySearcher, Bounds, Nsga2, Outcome, Problem, SearchError, Searcher, SearcherConfig,
    Sense,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const REFERENCE: [f64; 2] = [1.1, 1.1];

/// Hypervolume of the true front of `name` (`zdt1`, `zdt2`) against [`REFERENCE`], from the
/// test problems' closed forms (ZDT1 `1.21 − 1/3`, ZDT2 `1.21 − 2/3`).
fn true_hypervolume(name: &str) -> f64 {
    multi_objective_suite()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
        .front_hypervolume
}

fn unit(d: usize) -> Bounds {
    Bounds::new(vec![0.0; d], vec![1.0; d]).unwrap()
}

/// Two minimized objectives over `[0, 1]^d`, no constraints.
fn two(d: usize) -> Problem {
    Problem::new(
        unit(d),
        vec![Sense::Minimize; 2],
        vec![1.0; 2],
        Some(REFERENCE.to_vec()),
        0,
    )
    .unwrap()
}

/// Runs NSGA-II (popsize 40) for `generations` on `f` over [0,1]^10, telling `Failed` for
/// every `fail_every`-th evaluation (0 = never); returns the searcher.
fn run(f: fn(&[f64]) -> Vec<f64>, seed: u64, generations: usize, fail_every: usize) -> Nsga2 {
    let b = unit(10);
    let mut s = Nsga2::new(two(10), None, Some(40), seed).unwrap();
    let mut k = 0;
    let mut next = 0;
    for _ in 0..generations {
        batch(&mut s, &mut next, 40, |x| {
            assert!(b.contains(x), "{x:?} outside the box");
            k += 1;
            match (fail_every, k % 13) {
                (0, _) => Outcome::scored(f(x)),
                (e, _) if k % e == 0 => Outcome::Failed,
                (_, 4) => Outcome::scored(vec![f64::NAN, 0.0]),
                (_, 9) => Outcome::scored(vec![0.0]), // wrong length: a failure
                _ => Outcome::scored(f(x)),
            }
        });
    }
    s
}

fn front_hypervolume(s: &Nsga2) -> f64 {
    let f: Vec<Vec<f64>> = s.front().into_iter().map(|(_, f)| f).collect();
    hypervolume(&f, &REFERENCE)
}

#[test]
fn nsga2_passes_the_conformance_checks() {
    common::conformance(|problem, seed| {
        build(
            &SearcherConfig::Nsga2 { popsize: None },
            problem,
            None,
            seed,
            None,
        )
        .unwrap()
    });
}

#[test]
fn zdt1_reaches_95_percent_of_the_true_hypervolume_in_4000_evaluations() {
    // N = 40, 100 generations, n = 10. Measured over seeds 0..20: 96.8–98.2% (median 98.0%);
    // pymoo 0.6.2's NSGA2(pop_size=40), same operators, 100 generations, seeds 0..10:
    // 97.6–98.1%. (Deb et al. 2002 use n = 30, N = 100, 250 generations.)
    let hv_true = true_hypervolume("zdt1");
    for seed in [0, 1, 2] {
        let s = run(zdt1, seed, 100, 0);
        assert_eq!((s.evaluations(), s.generation()), (4_000, 100));
        let hv = front_hypervolume(&s);
        eprintln!(
            "zdt1 seed {seed}: {hv:.5} of {hv_true:.5} ({:.2}%)",
            100.0 * hv / hv_true
        );
        assert!(
            hv >= 0.95 * hv_true,
            "zdt1 seed {seed}: {hv} < 0.95 · {hv_true}"
        );
    }
}

#[test]
fn zdt2_reaches_95_percent_of_the_true_hypervolume_in_6000_evaluations() {
    // On ZDT2's non-convex front the population first crowds at f1 = 0 and spreads out
    // later. After 100 generations (4,000
    // evaluations) 14 of seeds 0..20 are at ≥ 95% (median 96.6%, worst 77.9%, seed 2: 85.6%);
    // pymoo 0.6.2's NSGA2(pop_size=40) after 100 generations, seeds 0..10: 84.1–97.1%, 8 of
    // 10 at ≥ 95%. After 150 generations all 20 seeds are at 96.8–97.4%, hence 6,000 here.
    let hv_true = true_hypervolume("zdt2");
    for seed in [0, 1, 2] {
        let s = run(zdt2, seed, 150, 0);
        let hv = front_hypervolume(&s);
        eprintln!(
            "zdt2 seed {seed}: {hv:.5} of {hv_true:.5} ({:.2}%)",
            100.0 * hv / hv_true
        );
        assert!(
            hv >= 0.95 * hv_true,
            "zdt2 seed {seed}: {hv} < 0.95 · {hv_true}"
        );
    }
}

#[test]
fn failed_and_malformed_outcomes_are_tolerated() {
    // Every 5th evaluation fails, plus NaN and wrong-length vectors (about a third in all):
    // the front holds only scored points and still gets close to the true one.
    let hv_true = true_hypervolume("zdt1");
    let s = run(zdt1, 0, 100, 5);
    assert_eq!(s.n_objectives(), 2);
    for (x, f) in s.front() {
        assert_eq!(
            f,
            zdt1(&x),
            "the front holds a point with made-up objectives"
        );
    }
    let hv = front_hypervolume(&s);
    eprintln!("zdt1 with failures: hypervolume {hv:.5} of {hv_true:.5}");
    assert!(hv >= 0.9 * hv_true, "{hv}");

    // Nothing but failures: asks go on, in the box, and the population is all failed.
    let b = unit(3);
    let mut s = Nsga2::new(two(3), None, Some(8), 0).unwrap();
    let mut next = 0;
    for _ in 0..5 {
        let xs = batch(&mut s, &mut next, 8, |_| Outcome::Failed);
        assert!(xs.iter().all(|x| b.contains(x)));
    }
    // The number of objectives comes from the problem, not from the outcomes.
    assert_eq!(s.n_objectives(), 2);
    assert!(s.front().is_empty());
    assert_eq!(s.population().len(), 8);
}

#[test]
fn snapshot_round_trip_continues_identically_with_two_objectives() {
    let c = SearcherConfig::Nsga2 { popsize: Some(10) };
    let mut s = build(&c, two(10), None, 3, None).unwrap();
    let score = |x: &[f64]| Outcome::scored(zdt1(x));
    let mut next = 0;
    for _ in 0..7 {
        batch(&mut s, &mut next, 7, score);
    }
    // Asked past the open generation, nothing of it told yet.
    let ids: Vec<u64> = (next..next + 12).collect();
    next += 12;
    let pending = common::ask_ids(&mut s, &ids);
    let json = serde_json::to_string(&s).unwrap();
    let mut r: AnySearcher = serde_json::from_str(&json).unwrap();
    for (t, x) in ids.iter().zip(&pending) {
        s.tell(*t, &score(x)).unwrap();
        r.tell(*t, &score(x)).unwrap();
    }
    let mut next_r = next;
    for _ in 0..30 {
        assert_eq!(
            batch(&mut s, &mut next, 9, score),
            batch(&mut r, &mut next_r, 9, score)
        );
    }
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        serde_json::to_string(&r).unwrap()
    );
}

#[test]
fn config_defaults_validation_and_multi_objective() {
    let parse = |t: &str| serde_json::from_str::<SearcherConfig>(t);
    let c = parse(r#"{"type":"nsga2"}"#).unwrap();
    assert_eq!(c, SearcherConfig::Nsga2 { popsize: None });
    let s = build(&c, two(10), None, 0, None).unwrap();
    assert!(s.multi_objective());
    let AnySearcher::Nsga2(n) = s else {
        panic!("expected NSGA-II");
    };
    assert_eq!(n.popsize(), 20); // max(8, 2·(4 + ⌊3 ln 10⌋)) = 2·(4 + 6)
    assert_eq!(mergesearch_searchers::nsga2::default_popsize(1), 8); // 2·4
    assert_eq!(mergesearch_searchers::nsga2::default_popsize(100), 34); // 2·(4 + 13)

    for bad in [0, 2, 5, 7] {
        let c = SearcherConfig::Nsga2 { popsize: Some(bad) };
        match build(&c, two(3), None, 0, None) {
            Err(SearchError::Config(m)) => {
                assert!(m.contains("popsize"), "{m}")
            }
            other => panic!("popsize {bad}: expected a config error, got {other:?}"),
        }
    }
    let c = SearcherConfig::Nsga2 { popsize: Some(6) };
    assert!(
        matches!(build(&c, two(3), Some(vec![0.5, 1.5, 0.5]), 0, None),
        Err(SearchError::Config(m)) if m.contains("x0"))
    );
    assert!(parse(r#"{"type":"nsga2","population":6}"#).is_err());

    // x0 is the first point of the first generation; the rest is uniform.
    let mut s = build(&c, two(3), Some(vec![0.1, 0.2, 0.3]), 0, None).unwrap();
    let xs = common::ask_ids(&mut s, &[0, 1, 2, 3, 4, 5]);
    assert_eq!(xs[0], vec![0.1, 0.2, 0.3]);
    assert_ne!(xs[1], xs[0]);

    for other in [r#"{"type":"cmaes"}"#, r#"{"type":"random"}"#] {
        assert!(!build(&parse(other).unwrap(), two(3), None, 0, None)
            .unwrap()
            .multi_objective());
    }
}

#[test]
fn out_of_order_tells_with_pending_trials_still_reach_95_percent_on_zdt1() {
    // As the in-order ZDT1 test (N = 40, 4,000 evaluations, ≥ 95% of the true hypervolume),
    // but with 8 trials always in flight, told in random order (seeded), ids with gaps.
    // Measured (this test's eprintln): 97.62% and 97.61% (in order, seeds 0..3: 97.9–98.0%).
    let hv_true = true_hypervolume("zdt1");
    let b = unit(10);
    for seed in [0, 1] {
        let mut s = Nsga2::new(two(10), None, Some(40), seed).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut flight: Vec<(u64, Vec<f64>)> = Vec::new();
        let mut next = 10;
        while s.evaluations() < 4_000 {
            while flight.len() < 8 {
                flight.push((next, s.ask(next).unwrap()));
                next += 1 + next % 3;
            }
            let (t, x) = flight.swap_remove(rng.random_range(0..flight.len()));
            assert!(b.contains(&x));
            s.tell(t, &Outcome::scored(zdt1(&x))).unwrap();
        }
        let hv = front_hypervolume(&s);
        eprintln!("zdt1 seed {seed}, 8 pending: {:.2}%", 100.0 * hv / hv_true);
        assert!(hv >= 0.95 * hv_true, "seed {seed}: {hv} < 0.95 · {hv_true}");
    }
}

#[test]
fn infeasible_points_rank_below_feasible_ones() {
    // ZDT1 subject to x₀ ≥ 0.5: the constrained front is the true front's part with
    // f1 ∈ [0.5, 1]. Unpenalized, the points with f1 < 0.5 would be non-dominated too; with
    // 10·violation added to both objectives they are dominated by feasible ones, so every
    // member of the final front must be feasible and carry its plain objectives.
    let p = Problem::new(unit(10), vec![Sense::Minimize; 2], vec![1.0; 2], None, 1).unwrap();
    let mut s = Nsga2::new(p, None, Some(40), 3).unwrap();
    let mut next = 0;
    for _ in 0..100 {
        batch(&mut s, &mut next, 40, |x| Outcome::Scored {
            objectives: zdt1(x),
            violations: vec![(0.5 - x[0]).max(0.0)],
        });
    }
    let front = s.front();
    assert!(front.len() >= 10, "{}", front.len());
    for (x, f) in &front {
        assert!(x[0] >= 0.5, "infeasible front member {x:?}");
        assert_eq!(f, &zdt1(x), "a feasible member carries no penalty");
    }
}

#[test]
fn maximized_objectives_are_negated_in_the_vector_view() {
    // Maximizing −f is minimizing f: the same asks, and the front holds the minimized vector.
    let max = Problem::new(unit(4), vec![Sense::Maximize; 2], vec![1.0; 2], None, 0).unwrap();
    let mut a = Nsga2::new(two(4), None, Some(8), 2).unwrap();
    let mut c = Nsga2::new(max, None, Some(8), 2).unwrap();
    let (mut na, mut nc) = (0, 0);
    for _ in 0..20 {
        let xa = batch(&mut a, &mut na, 5, |x| Outcome::scored(zdt1(x)));
        let xc = batch(&mut c, &mut nc, 5, |x| {
            Outcome::scored(zdt1(x).iter().map(|v| -v).collect())
        });
        assert_eq!(xa, xc);
    }
    assert_eq!(a.front(), c.front());
}

#[test]
fn popsize_is_capped_with_an_error_naming_the_field() {
    // popsize 1e9 used to abort on a huge allocation; the non-dominated sort of 2N points
    // keeps up to 2N² links, so the cap is √(2^30 / 16) = 8,192.
    assert_eq!(mergesearch_searchers::nsga2::max_popsize(10), 8_192);
    for p in [1_000_000_000, 8_194] {
        let c = SearcherConfig::Nsga2 { popsize: Some(p) };
        match build(&c, two(10), None, 0, None) {
            Err(SearchError::Config(m)) => {
                assert!(m.contains("searcher.popsize") && m.contains("8192"), "{m}")
            }
            other => panic!("popsize {p}: expected a config error, got {other:?}"),
        }
    }
    let c = SearcherConfig::Nsga2 {
        popsize: Some(8_192),
    };
    assert!(build(&c, two(10), None, 0, None).is_ok());
}
