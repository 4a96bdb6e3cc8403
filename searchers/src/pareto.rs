//! Pareto utilities for multi-objective studies: dominance, non-dominated sorting, crowding
//! distance and the hypervolume indicator.
//!
//! Every objective is **minimized** (as everywhere in this crate); the caller negates maximized
//! metrics before calling in. All functions take points as `&[Vec<f64>]`, each of the same
//! length `m ≥ 1`; mixing lengths is a caller bug (checked by debug assertions only).
//!
//! NaN convention: a point with any NaN coordinate neither dominates nor is dominated, gets rank
//! `usize::MAX` from [`non_dominated_sort`], is never on the [`pareto_front`], is ignored by
//! [`reference_point`] and contributes nothing to the hypervolume.
//!
//! ## References
//! - K. Deb, A. Pratap, S. Agarwal, T. Meyarivan, "A fast and elitist multiobjective genetic
//!   algorithm: NSGA-II", IEEE Trans. Evol. Comput. 6(2):182–197, 2002 (sorting, crowding).
//! - E. Zitzler, L. Thiele, "Multiobjective optimization using evolutionary algorithms — a
//!   comparative case study", PPSN V, 1998 (hypervolume, the "size of the dominated space").
//! - C. M. Fonseca, L. Paquete, M. López-Ibáñez, "An improved dimension-sweep algorithm for
//!   the hypervolume indicator", IEEE CEC 2006 (sweeping the last objective, used for m = 3).
//! - J. Bader, E. Zitzler, "HypE: an algorithm for fast hypervolume-based many-objective
//!   optimization", Evol. Comput. 19(1):45–76, 2011 (Monte Carlo estimation for m ≥ 4).

use std::cmp::Ordering;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Samples [`hypervolume`] draws for `m ≥ 4`: the relative standard error of the estimate is
/// `sqrt((1 − p) / (p · N))` for a dominated fraction `p` of the box, about 0.3% at `p = 0.3`.
pub const HV_MC_SAMPLES: usize = 200_000;

/// Seed [`hypervolume`] uses for `m ≥ 4`, so the same points always give the same value.
pub const HV_MC_SEED: u64 = 0;

/// Whether `a` Pareto-dominates `b` (minimization): `a ≤ b` in every objective and `a < b` in at
/// least one. Equal points do not dominate each other; NaN anywhere gives `false`.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    debug_assert_eq!(a.len(), b.len(), "points of different lengths");
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        match x.partial_cmp(y) {
            Some(Ordering::Less) => strictly = true,
            Some(Ordering::Equal) => {}
            Some(Ordering::Greater) | None => return false, // worse, or NaN on either side
        }
    }
    strictly
}

fn has_nan(p: &[f64]) -> bool {
    p.iter().any(|v| v.is_nan())
}

/// Front rank of every point (0 = the Pareto front, 1 = the front once rank 0 is removed, …), so
/// NSGA-II-style selection can prefer lower ranks. Deb et al. 2002's fast non-dominated sort,
/// `O(m·n²)`. Duplicates share a rank; points with any NaN get `usize::MAX`.
pub fn non_dominated_sort(points: &[Vec<f64>]) -> Vec<usize> {
    let n = points.len();
    let mut rank = vec![usize::MAX; n];
    let valid: Vec<usize> = (0..n).filter(|&i| !has_nan(&points[i])).collect();
    // S_p: the points p dominates; n_p: how many points dominate p (Deb et al. 2002, Sec. III-A).
    let mut dominated_by_me: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut dominators = vec![0usize; n];
    for (k, &p) in valid.iter().enumerate() {
        for &q in &valid[k + 1..] {
            if dominates(&points[p], &points[q]) {
                dominated_by_me[p].push(q);
                dominators[q] += 1;
            } else if dominates(&points[q], &points[p]) {
                dominated_by_me[q].push(p);
                dominators[p] += 1;
            }
        }
    }
    let mut front: Vec<usize> = valid.into_iter().filter(|&p| dominators[p] == 0).collect();
    let mut r = 0;
    while !front.is_empty() {
        let mut next = Vec::new();
        for &p in &front {
            rank[p] = r;
            for &q in &dominated_by_me[p] {
                dominators[q] -= 1;
                if dominators[q] == 0 {
                    next.push(q);
                }
            }
        }
        front = next;
        r += 1;
    }
    rank
}

/// Indices (ascending) of the non-dominated points, rank 0 of [`non_dominated_sort`] — the
/// trade-off set a multi-objective study reports (Deb et al. 2002).
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<usize> {
    non_dominated_sort(points)
        .into_iter()
        .enumerate()
        .filter(|&(_, r)| r == 0)
        .map(|(i, _)| i)
        .collect()
}

/// NSGA-II crowding distance of each point of `front` (result aligned with `front`), so
/// selection within one rank prefers points in sparse regions (Deb et al. 2002, Sec. III-B).
///
/// Per objective the front is sorted; its two boundary points get `+∞`, each interior point adds
/// `(f[i+1] − f[i−1]) / (f_max − f_min)`. An objective with zero range (or a non-finite one)
/// contributes nothing, boundaries included — its order is arbitrary. Fronts of at most two
/// points are all `+∞`. Ties are broken by position in `front` (stable sort).
pub fn crowding_distance(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = points[front[0]].len();
    let mut distance = vec![0.0; n];
    let mut order: Vec<usize> = (0..n).collect();
    for j in 0..m {
        let f = objective(points, front, j);
        order.sort_by(|&a, &b| f[a].total_cmp(&f[b]));
        let range = f[order[n - 1]] - f[order[0]];
        if !(range.is_finite() && range > 0.0) {
            continue;
        }
        distance[order[0]] = f64::INFINITY;
        distance[order[n - 1]] = f64::INFINITY;
        for w in order.windows(3) {
            distance[w[1]] += (f[w[2]] - f[w[0]]) / range;
        }
    }
    distance
}

/// Objective `j` of the points of `front`, in `front`'s order.
fn objective(points: &[Vec<f64>], front: &[usize], j: usize) -> Vec<f64> {
    front.iter().map(|&i| points[i][j]).collect()
}

/// A reference point for [`hypervolume`] when a study declares none: per objective the nadir
/// (worst value over the points) pushed out by `margin · (nadir − ideal)`, or by
/// `margin · max(1, |nadir|)` where that range is 0, so every point — the extremes included —
/// contributes a positive volume.
///
/// Convention: the scaled-range offset of BoTorch's `infer_reference_point` (default scale 0.1),
/// rather than Optuna's multiplicative `1.1 ×` worst value, which breaks down near 0; pass
/// `margin = 0.1` for the usual choice. Points with any NaN are ignored; returns an empty vector
/// when no point is left.
pub fn reference_point(points: &[Vec<f64>], margin: f64) -> Vec<f64> {
    let mut valid = points.iter().filter(|p| !has_nan(p));
    let Some(first) = valid.next() else {
        return Vec::new();
    };
    let (mut ideal, mut nadir) = (first.clone(), first.clone());
    for p in valid {
        for (j, &v) in p.iter().enumerate() {
            ideal[j] = ideal[j].min(v);
            nadir[j] = nadir[j].max(v);
        }
    }
    nadir
        .iter()
        .zip(&ideal)
        .map(|(&hi, &lo)| {
            let range = hi - lo;
            let scale = if range > 0.0 {
                range
            } else {
                hi.abs().max(1.0)
            };
            hi + margin * scale
        })
        .collect()
}

/// The hypervolume indicator (Zitzler & Thiele 1998): the Lebesgue measure of the region
/// dominated by the points and bounded by `reference` — the one scalar that rewards both
/// convergence and spread of a front, for comparing studies and tracking progress.
///
/// Only points strictly better than `reference` in every objective count (others, and NaN
/// points, contribute nothing). Exact for `m = 1`, `m = 2` (staircase sweep, `O(n log n)`) and
/// `m = 3` (sweep along the third objective with a 2-D sweep per slab, `O(n²)`, after Fonseca
/// et al. 2006); for `m ≥ 4` a Monte Carlo estimate, [`hypervolume_mc`] with [`HV_MC_SAMPLES`]
/// samples and seed [`HV_MC_SEED`] (deterministic). Returns 0 when nothing counts (or
/// `reference` is empty).
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let pts = inside(points, reference);
    if pts.is_empty() || reference.is_empty() {
        return 0.0;
    }
    match reference.len() {
        1 => reference[0] - pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min),
        2 => {
            let mut xy: Vec<(f64, f64)> = pts.iter().map(|p| (p[0], p[1])).collect();
            xy.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            area_2d(xy.into_iter(), reference[0], reference[1])
        }
        3 => volume_3d(&pts, reference),
        _ => mc_estimate(&pts, reference, HV_MC_SAMPLES, HV_MC_SEED),
    }
}

/// Monte Carlo estimate of [`hypervolume`] for any `m` (Bader & Zitzler 2011): draws `samples`
/// uniform points from the box `[ideal, reference]` (ideal = best value per objective over the
/// counted points) with a `ChaCha8Rng` seeded by `seed`, and scales the box volume by the
/// fraction that some point weakly dominates. Same inputs and seed → same value; `samples = 0`
/// (or an empty `reference`) gives 0.
pub fn hypervolume_mc(points: &[Vec<f64>], reference: &[f64], samples: usize, seed: u64) -> f64 {
    let pts = inside(points, reference);
    if pts.is_empty() || reference.is_empty() || samples == 0 {
        return 0.0;
    }
    mc_estimate(&pts, reference, samples, seed)
}

/// The points strictly better than `reference` in every objective (NaN fails the test).
fn inside<'a>(points: &'a [Vec<f64>], reference: &[f64]) -> Vec<&'a [f64]> {
    points
        .iter()
        .filter(|p| {
            debug_assert_eq!(
                p.len(),
                reference.len(),
                "point and reference lengths differ"
            );
            p.iter().zip(reference).all(|(v, r)| v < r)
        })
        .map(|p| p.as_slice())
        .collect()
}

/// Area dominated by `(x, y)` points sorted by `x` then `y`, bounded by `(rx, ry)`: each point
/// that lowers the staircase adds the strip `(rx − x) · (y_prev − y)`.
fn area_2d(sorted: impl Iterator<Item = (f64, f64)>, rx: f64, ry: f64) -> f64 {
    let mut area = 0.0;
    let mut y_prev = ry;
    for (x, y) in sorted {
        if y < y_prev {
            area += (rx - x) * (y_prev - y);
            y_prev = y;
        }
    }
    area
}

/// Exact 3-D volume: between consecutive distinct `z` levels the dominated region is a prism
/// whose cross-section is the 2-D area of the points with `z ≤` the lower level.
fn volume_3d(pts: &[&[f64]], reference: &[f64]) -> f64 {
    let mut by_x: Vec<&[f64]> = pts.to_vec();
    by_x.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let mut levels: Vec<f64> = pts.iter().map(|p| p[2]).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let mut volume = 0.0;
    for (k, &z) in levels.iter().enumerate() {
        let top = levels.get(k + 1).copied().unwrap_or(reference[2]);
        let slab = by_x.iter().filter(|p| p[2] <= z).map(|p| (p[0], p[1]));
        volume += area_2d(slab, reference[0], reference[1]) * (top - z);
    }
    volume
}

fn mc_estimate(pts: &[&[f64]], reference: &[f64], samples: usize, seed: u64) -> f64 {
    // Only the non-dominated points matter; dropping the rest makes each sample cheaper.
    let owned: Vec<Vec<f64>> = pts.iter().map(|p| p.to_vec()).collect();
    let front: Vec<&[f64]> = pareto_front(&owned).into_iter().map(|i| pts[i]).collect();
    let m = reference.len();
    let ideal: Vec<f64> = (0..m)
        .map(|j| front.iter().map(|p| p[j]).fold(f64::INFINITY, f64::min))
        .collect();
    let box_volume: f64 = ideal.iter().zip(reference).map(|(lo, r)| r - lo).product();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut u = vec![0.0; m];
    let mut hits = 0usize;
    for _ in 0..samples {
        for (j, uj) in u.iter_mut().enumerate() {
            *uj = ideal[j] + (reference[j] - ideal[j]) * rng.random::<f64>();
        }
        let covered = front.iter().any(|p| p.iter().zip(&u).all(|(a, b)| a <= b));
        hits += usize::from(covered);
    }
    box_volume * hits as f64 / samples as f64
}
