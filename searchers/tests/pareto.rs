//! Pareto utilities against hand-computed values (each case says how its number was obtained)
//! and against a brute-force inclusion–exclusion hypervolume.

use mergesearch_searchers::pareto::{
    crowding_distance, dominates, hypervolume, hypervolume_mc, non_dominated_sort, pareto_front,
    reference_point, HV_MC_SAMPLES, HV_MC_SEED,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const INF: f64 = f64::INFINITY;

fn pts(rows: &[&[f64]]) -> Vec<Vec<f64>> {
    rows.iter().map(|r| r.to_vec()).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// Exact hypervolume by inclusion–exclusion over all non-empty subsets S of the points inside
/// the reference: HV = Σ (−1)^{|S|+1} Π_j (r_j − max_{i∈S} p_ij), the volume of the union of
/// the boxes [p_i, r] (their intersection over S is [max_{i∈S} p_i, r]). Exponential in n.
fn hv_inclusion_exclusion(points: &[Vec<f64>], r: &[f64]) -> f64 {
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
        let sign = if mask.count_ones() % 2 == 1 {
            1.0
        } else {
            -1.0
        };
        total += sign * vol;
    }
    total
}

#[test]
fn dominance_needs_one_strict_improvement() {
    assert!(dominates(&[1.0, 2.0], &[2.0, 3.0]));
    assert!(dominates(&[1.0, 2.0], &[1.0, 3.0])); // equal in one, better in the other
    assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0])); // equal points: neither dominates
    assert!(!dominates(&[1.0, 3.0], &[2.0, 2.0])); // mixed: trade-off
    assert!(!dominates(&[2.0, 2.0], &[1.0, 3.0]));
    assert!(!dominates(&[2.0, 3.0], &[1.0, 2.0])); // worse everywhere
    assert!(!dominates(&[f64::NAN, 0.0], &[1.0, 1.0]));
    assert!(!dominates(&[0.0, 0.0], &[f64::NAN, 1.0]));
    assert!(dominates(&[0.0], &[1.0])); // m = 1
}

#[test]
fn sorting_finds_three_known_fronts() {
    // Front 0: (1,5),(2,3),(4,1) — mutually non-dominated, nothing better.
    // Front 1: (2,5) ← (1,5); (3,4) ← (2,3); (5,2) ← (4,1).
    // Front 2: (4,5) ← (3,4) and (2,5); (6,3) ← (5,2).
    let p = pts(&[
        &[3.0, 4.0],
        &[1.0, 5.0],
        &[6.0, 3.0],
        &[2.0, 3.0],
        &[2.0, 5.0],
        &[4.0, 5.0],
        &[4.0, 1.0],
        &[5.0, 2.0],
    ]);
    assert_eq!(non_dominated_sort(&p), vec![1, 0, 2, 0, 1, 2, 0, 1]);
    assert_eq!(pareto_front(&p), vec![1, 3, 6]);
    assert_eq!(non_dominated_sort(&[]), Vec::<usize>::new());
}

#[test]
fn duplicates_share_a_rank_and_dominate_together() {
    // (1,1) twice: neither dominates the other → both rank 0. (2,2) and (1.5,3) are dominated
    // by both copies and trade off with each other → rank 1; (3,3) ← (2,2), (1.5,3) → rank 2.
    let p = pts(&[
        &[1.0, 1.0],
        &[2.0, 2.0],
        &[1.0, 1.0],
        &[1.5, 3.0],
        &[3.0, 3.0],
    ]);
    assert_eq!(non_dominated_sort(&p), vec![0, 1, 0, 1, 2]);
    assert_eq!(pareto_front(&p), vec![0, 2]);
}

#[test]
fn nan_points_are_ranked_last_and_never_on_the_front() {
    let p = pts(&[&[f64::NAN, 0.0], &[1.0, 1.0], &[2.0, 2.0], &[0.0, f64::NAN]]);
    assert_eq!(non_dominated_sort(&p), vec![usize::MAX, 0, 1, usize::MAX]);
    assert_eq!(pareto_front(&p), vec![1]);
}

#[test]
fn sorting_in_three_objectives() {
    // (1,2,3),(3,2,1),(2,2,2) trade off → rank 0; (2,3,3) ← (1,2,3),(2,2,2) → rank 1;
    // (3,3,3) ← (2,3,3) → rank 2; (0,9,9) trades off with all → rank 0.
    let p = pts(&[
        &[2.0, 3.0, 3.0],
        &[1.0, 2.0, 3.0],
        &[3.0, 3.0, 3.0],
        &[3.0, 2.0, 1.0],
        &[2.0, 2.0, 2.0],
        &[0.0, 9.0, 9.0],
    ]);
    assert_eq!(non_dominated_sort(&p), vec![1, 0, 2, 0, 0, 0]);
}

#[test]
fn maximized_objectives_are_negated_by_the_caller() {
    // (loss ↓, accuracy ↑). Negating accuracy: A = (0.5, 0.9) has the best accuracy, B = (0.3,
    // 0.7) the best loss; D = (0.5, 0.85) is dominated by A only → rank 1; C = (0.6, 0.8) is
    // dominated by A and by D → rank 2.
    let raw = [[0.5, 0.9], [0.3, 0.7], [0.6, 0.8], [0.5, 0.85]];
    let negated: Vec<Vec<f64>> = raw.iter().map(|&[l, a]| vec![l, -a]).collect();
    assert_eq!(pareto_front(&negated), vec![0, 1]);
    assert_eq!(non_dominated_sort(&negated), vec![0, 0, 2, 1]);
    // Without negation, B minimizes both and is alone on the front.
    let as_is: Vec<Vec<f64>> = raw.iter().map(|r| r.to_vec()).collect();
    assert_eq!(pareto_front(&as_is), vec![1]);
}

#[test]
fn crowding_distance_by_hand() {
    // Front (0,4),(1,2),(3,1),(4,0); both ranges are 4. Listed out of order on purpose.
    // f0 order 0,1,3,4: (1,2) adds (3−0)/4 = 0.75, (3,1) adds (4−1)/4 = 0.75.
    // f1 order 0,1,2,4: (3,1) adds (2−0)/4 = 0.5, (1,2) adds (4−1)/4 = 0.75.
    // → (1,2): 1.5, (3,1): 1.25, boundaries +∞.
    let p = pts(&[
        &[3.0, 1.0],
        &[0.0, 4.0],
        &[9.0, 9.0],
        &[4.0, 0.0],
        &[1.0, 2.0],
    ]);
    let d = crowding_distance(&p, &[0, 1, 3, 4]);
    assert!(close(d[0], 1.25), "{d:?}");
    assert_eq!(d[1], INF);
    assert_eq!(d[2], INF);
    assert!(close(d[3], 1.5), "{d:?}");
}

#[test]
fn zero_range_objective_contributes_nothing() {
    // Same front plus a constant third objective: same distances, no NaN from 0/0.
    let p = pts(&[
        &[0.0, 4.0, 7.0],
        &[1.0, 2.0, 7.0],
        &[3.0, 1.0, 7.0],
        &[4.0, 0.0, 7.0],
    ]);
    let d = crowding_distance(&p, &[0, 1, 2, 3]);
    assert_eq!(d[0], INF);
    assert!(close(d[1], 1.5), "{d:?}");
    assert!(close(d[2], 1.25), "{d:?}");
    assert_eq!(d[3], INF);
    // All objectives constant: nothing to spread, every distance 0.
    let same = pts(&[&[1.0, 1.0], &[1.0, 1.0], &[1.0, 1.0]]);
    assert_eq!(crowding_distance(&same, &[0, 1, 2]), vec![0.0; 3]);
}

#[test]
fn small_fronts_are_all_infinite() {
    let p = pts(&[&[0.0, 1.0], &[1.0, 0.0]]);
    assert_eq!(crowding_distance(&p, &[0, 1]), vec![INF, INF]);
    assert_eq!(crowding_distance(&p, &[1]), vec![INF]);
    assert_eq!(crowding_distance(&p, &[]), Vec::<f64>::new());
}

#[test]
fn hypervolume_2d_by_hand() {
    let r = [4.0, 4.0];
    // Staircase (1,3),(2,2),(3,1) under (4,4): strips 3·1 + 2·1 + 1·1 = 6.
    let base = pts(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]);
    assert_eq!(hypervolume(&base, &r), 6.0);
    let mut more = base.clone();
    more.push(vec![3.0, 3.0]); // dominated by (2,2)
    more.push(vec![2.0, 2.0]); // duplicate
    more.push(vec![0.0, 5.0]); // beyond the reference in f1
    more.push(vec![4.0, 0.0]); // on the reference boundary: not strictly better
    more.push(vec![f64::NAN, 0.0]);
    assert_eq!(hypervolume(&more, &r), 6.0);
    // One point: the box (4−1.5)·(4−2) = 5.
    assert_eq!(hypervolume(&pts(&[&[1.5, 2.0]]), &r), 5.0);
    assert_eq!(hypervolume(&[], &r), 0.0);
    assert_eq!(hypervolume(&pts(&[&[5.0, 5.0]]), &r), 0.0);
}

#[test]
fn hypervolume_1d_is_distance_of_the_best_point() {
    // min = 1 → 5 − 1 = 4; 6 lies beyond the reference.
    assert_eq!(
        hypervolume(&pts(&[&[3.0], &[1.0], &[2.0], &[6.0]]), &[5.0]),
        4.0
    );
}

#[test]
fn hypervolume_3d_by_hand() {
    let r = [3.0, 3.0, 3.0];
    // One point: box (3−1)·(3−2)·(3−0.5) = 5.
    assert_eq!(hypervolume(&pts(&[&[1.0, 2.0, 0.5]]), &r), 5.0);
    // (1,1,2) → box 2·2·1 = 4; (2,2,1) → box 1·1·2 = 2; intersection [max = (2,2,2), r] = 1.
    // Inclusion–exclusion: 4 + 2 − 1 = 5.
    let two = pts(&[&[1.0, 1.0, 2.0], &[2.0, 2.0, 1.0]]);
    assert_eq!(hypervolume(&two, &r), 5.0);
    assert!(close(hv_inclusion_exclusion(&two, &r), 5.0));
    // A dominated point, a duplicate and an outside point change nothing.
    let mut more = two.clone();
    more.extend(pts(&[&[2.0, 2.0, 2.5], &[1.0, 1.0, 2.0], &[0.0, 0.0, 3.0]]));
    assert_eq!(hypervolume(&more, &r), 5.0);
}

#[test]
fn exact_hypervolume_matches_inclusion_exclusion_on_random_sets() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for trial in 0..300 {
        let m = 2 + trial % 2; // 2-D and 3-D
        let n = rng.random_range(1..=6);
        // Half the trials on a coarse grid (many ties and duplicates), half continuous.
        let grid = trial % 4 < 2;
        let p: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                (0..m)
                    .map(|_| {
                        if grid {
                            f64::from(rng.random_range(0..5u8))
                        } else {
                            rng.random::<f64>() * 4.5
                        }
                    })
                    .collect()
            })
            .collect();
        let r = vec![4.0; m];
        let (got, want) = (hypervolume(&p, &r), hv_inclusion_exclusion(&p, &r));
        assert!(close(got, want), "trial {trial}: {p:?} → {got} vs {want}");
    }
}

#[test]
fn monte_carlo_4d_is_close_and_reproducible() {
    let p = pts(&[
        &[0.2, 0.5, 0.6, 0.4],
        &[0.5, 0.2, 0.4, 0.6],
        &[0.6, 0.4, 0.2, 0.5],
        &[0.4, 0.6, 0.5, 0.2],
        &[0.7, 0.7, 0.7, 0.7], // dominated
    ]);
    let r = [1.0; 4];
    let exact = hv_inclusion_exclusion(&p, &r);
    let est = hypervolume_mc(&p, &r, 200_000, 42);
    assert!((est - exact).abs() < 0.02 * exact, "{est} vs {exact}");
    assert_eq!(hypervolume_mc(&p, &r, 200_000, 42), est);
    // The dispatching entry point is the documented default estimate.
    let default = hypervolume(&p, &r);
    assert_eq!(default, hypervolume_mc(&p, &r, HV_MC_SAMPLES, HV_MC_SEED));
    assert!(
        (default - exact).abs() < 0.02 * exact,
        "{default} vs {exact}"
    );
    assert_eq!(hypervolume_mc(&p, &r, 0, 1), 0.0);
    // The estimator itself is not 4-D specific: a 2-D box of exactly known area.
    let est2 = hypervolume_mc(
        &pts(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]),
        &[4.0, 4.0],
        200_000,
        1,
    );
    assert!((est2 - 6.0).abs() < 0.02 * 6.0, "{est2}");
}

#[test]
fn derived_reference_point() {
    // Nadir (3,3), ideal (1,1), range 2 → 3 + 0.1·2 = 3.2 each.
    let r = reference_point(&pts(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]), 0.1);
    assert!(close(r[0], 3.2) && close(r[1], 3.2), "{r:?}");
    // Zero range: f0 = 5 everywhere → 5 + 0.1·max(1, 5) = 5.5; f1 = 0 → 0 + 0.1·1 = 0.1.
    // The NaN point is ignored.
    let r = reference_point(&pts(&[&[5.0, 0.0], &[5.0, 0.0], &[f64::NAN, 9.0]]), 0.1);
    assert!(close(r[0], 5.5) && close(r[1], 0.1), "{r:?}");
    assert_eq!(reference_point(&[], 0.1), Vec::<f64>::new());
    // Every point of the front then contributes: HV > HV without the extremes.
    let front = pts(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]);
    let r = reference_point(&front, 0.1);
    assert!(hypervolume(&front, &r) > hypervolume(&front[1..2], &r));
}
