//! Random, Sobol and Latin-hypercube sampling.

mod common;

use mergesearch_searchers::{build, Bounds, RandomSearch, Sampler, Searcher, SearcherConfig};

#[test]
fn every_sampler_passes_the_conformance_checks() {
    for sampler in [Sampler::Uniform, Sampler::Sobol, Sampler::Lhs] {
        common::conformance(|seed| {
            build(
                &SearcherConfig::Random { sampler },
                common::test_box(4),
                None,
                seed,
            )
            .unwrap()
        });
    }
}

/// Which of `m` equal strata of `[lo, hi]` holds `v`.
fn stratum(v: f64, lo: f64, hi: f64, m: usize) -> usize {
    (((v - lo) / (hi - lo) * m as f64).floor() as usize).min(m - 1)
}

#[test]
fn lhs_puts_exactly_one_point_in_each_stratum_of_each_coordinate() {
    let b = common::test_box(6);
    let mut s = RandomSearch::new(b.clone(), Sampler::Lhs, 3);
    for n in [1, 2, 7, 50] {
        let xs = s.ask(n);
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
    let mut s = RandomSearch::new(b, Sampler::Sobol, 11);
    let xs = s.ask(256);
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
        Bounds::new(vec![0.0; d], vec![1.0; d]).unwrap(),
        Sampler::Uniform,
        11,
    );
    let xs = u.ask(256);
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
    let mut one = RandomSearch::new(b.clone(), Sampler::Sobol, 5);
    let mut two = RandomSearch::new(b.clone(), Sampler::Sobol, 5);
    let all = one.ask(6);
    let mut parts = two.ask(2);
    parts.extend(two.ask(4));
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
