//! Random, Sobol and Latin-hypercube sampling.

mod common;

use common::ask_ids;
use mergesearch_searchers::random::default_lhs_block;
use mergesearch_searchers::{
    build, Bounds, Outcome, Problem, RandomSearch, Sampler, SearchError, Searcher, SearcherConfig,
};

#[test]
fn every_sampler_passes_the_conformance_checks() {
    // Without a horizon, and with one (a Latin hypercube of 7 asks, shorter than the checks,
    // so they cross block boundaries).
    for horizon in [None, Some(7)] {
        for sampler in [Sampler::Uniform, Sampler::Sobol, Sampler::Lhs] {
            common::conformance(|problem, seed| {
                build(
                    &SearcherConfig::Random { sampler },
                    problem,
                    None,
                    seed,
                    horizon,
                )
                .unwrap()
            });
        }
    }
}

/// Asks the next `n` trial ids from `*next`.
fn ask<S: Searcher + ?Sized>(s: &mut S, next: &mut u64, n: usize) -> Vec<Vec<f64>> {
    let ids: Vec<u64> = (*next..*next + n as u64).collect();
    *next += n as u64;
    ask_ids(s, &ids)
}

/// Which of `m` equal strata of `[lo, hi]` holds `v`.
fn stratum(v: f64, lo: f64, hi: f64, m: usize) -> usize {
    (((v - lo) / (hi - lo) * m as f64).floor() as usize).min(m - 1)
}

#[test]
fn lhs_puts_exactly_one_point_in_each_stratum_of_each_coordinate() {
    let b = common::test_box(6);
    let mut s = RandomSearch::new(Problem::single(b.clone()), Sampler::Lhs, 3);
    let mut next = 0;
    // The default block of 10·d = 60 asks, then blocks of other sizes.
    for n in [60, 1, 2, 7, 50] {
        if n != 60 {
            s.set_lhs_block(n).unwrap();
        }
        let xs = ask(&mut s, &mut next, n);
        for j in 0..6 {
            let mut seen = vec![0; n];
            for x in &xs {
                seen[stratum(x[j], b.lo[j], b.hi[j], n)] += 1;
            }
            assert_eq!(seen, vec![1; n], "n = {n}, coordinate {j}");
        }
    }
}

#[test]
fn sobol_first_points_are_a_net_in_every_coordinate() {
    // Owen-scrambled Sobol keeps the (0, k, 1)-net property of each coordinate: of the first
    // 2^k points, each of the 2^j equal sub-intervals holds exactly 2^(k-j) (j ≤ k).
    let d = 8;
    let b = Bounds::new(vec![0.0; d], vec![1.0; d]).unwrap();
    let mut s = RandomSearch::new(Problem::single(b), Sampler::Sobol, 11);
    let xs = ask(&mut s, &mut 0, 256);
    for k in [1u32, 4, 8] {
        let n = 1usize << k;
        for j in 0..=k.min(4) {
            let m = 1usize << j;
            for c in 0..d {
                let mut counts = vec![0; m];
                for x in &xs[..n] {
                    counts[stratum(x[c], 0.0, 1.0, m)] += 1;
                }
                assert_eq!(
                    counts,
                    vec![n / m; m],
                    "2^{k} points, {m} strata, coordinate {c}"
                );
            }
        }
    }
    // Uniform sampling is (almost surely) not that even: the check has teeth.
    let mut u = RandomSearch::new(
        Problem::single(Bounds::new(vec![0.0; d], vec![1.0; d]).unwrap()),
        Sampler::Uniform,
        11,
    );
    let xs = ask(&mut u, &mut 0, 256);
    let uneven = (0..d).any(|c| {
        let mut counts = [0; 16];
        for x in &xs {
            counts[stratum(x[c], 0.0, 1.0, 16)] += 1;
        }
        counts != [16; 16]
    });
    assert!(uneven);
}

#[test]
fn sobol_continues_across_asks_and_beyond_256_dimensions() {
    let d = 300;
    let b = Bounds::new(vec![-1.0; d], vec![1.0; d]).unwrap();
    let mut one = RandomSearch::new(Problem::single(b.clone()), Sampler::Sobol, 5);
    let mut two = RandomSearch::new(Problem::single(b.clone()), Sampler::Sobol, 5);
    let all = ask(&mut one, &mut 0, 6);
    // Other ids, asked in another order, with a tell in between: still the next points.
    let mut parts = ask_ids(&mut two, &[90, 12]);
    two.tell(12, &mergesearch_searchers::Outcome::Failed)
        .unwrap();
    parts.extend(ask_ids(&mut two, &[5, 6, 70, 1]));
    assert_eq!(all, parts);
    for x in &all {
        assert!(b.contains(x));
    }
    // Coordinates 0 and 256 share a table dimension but not a scramble.
    assert_ne!(all[1][0], all[1][256]);
}

#[test]
fn config_parses_with_default_sampler_and_rejects_unknown_fields() {
    let c: SearcherConfig = serde_json::from_str(r#"{"type":"random"}"#).unwrap();
    assert_eq!(
        c,
        SearcherConfig::Random {
            sampler: Sampler::Uniform
        }
    );
    let c: SearcherConfig = serde_json::from_str(r#"{"type":"random","sampler":"lhs"}"#).unwrap();
    assert_eq!(
        c,
        SearcherConfig::Random {
            sampler: Sampler::Lhs
        }
    );
    assert!(serde_json::from_str::<SearcherConfig>(r#"{"type":"random","samplr":"lhs"}"#).is_err());
    assert!(
        serde_json::from_str::<SearcherConfig>(r#"{"type":"random","sampler":"halton"}"#).is_err()
    );
}

/// Whether each coordinate's `n` strata over `b` hold exactly one of `xs` (`n = xs.len()`).
fn one_per_stratum(xs: &[Vec<f64>], b: &Bounds) -> bool {
    let n = xs.len();
    (0..b.dim()).all(|j| {
        let mut seen = vec![0; n];
        for x in xs {
            seen[stratum(x[j], b.lo[j], b.hi[j], n)] += 1;
        }
        seen == vec![1; n]
    })
}

#[test]
fn lhs_over_a_horizon_stratifies_one_at_a_time_asks() {
    // A study with a budget of 37 trials asks one point at a time (each told before the next
    // ask); over the 37 asks every coordinate's 37 strata hold exactly one point.
    let b = common::test_box(5);
    let lhs = SearcherConfig::Random {
        sampler: Sampler::Lhs,
    };
    for horizon in [37, 1, 200] {
        let mut s = build(&lhs, Problem::single(b.clone()), None, 4, Some(horizon)).unwrap();
        let xs: Vec<Vec<f64>> = (0..horizon as u64)
            .map(|t| {
                let x = s.ask(t).unwrap();
                s.tell(t, &Outcome::scored(vec![x[0]])).unwrap();
                x
            })
            .collect();
        assert!(one_per_stratum(&xs, &b), "horizon {horizon}");
    }
    // Without a horizon the block is 10·d = 50 asks: the first 37 are not a Latin hypercube
    // of 37 (checked on this seed), the first 50 are one.
    assert_eq!(default_lhs_block(5), 50);
    let mut s = build(&lhs, Problem::single(b.clone()), None, 4, None).unwrap();
    let xs = ask(&mut s, &mut 0, 50);
    assert!(!one_per_stratum(&xs[..37], &b));
    assert!(one_per_stratum(&xs, &b));
    // A horizon of 0 is an error, not a panic.
    let zero = build(&lhs, Problem::single(b.clone()), None, 4, Some(0));
    assert!(matches!(zero, Err(SearchError::Config(m)) if m.contains("at least one point")));
    let direct = RandomSearch::with_horizon(Problem::single(b), Sampler::Lhs, 4, Some(0));
    assert!(direct.is_err());
}
