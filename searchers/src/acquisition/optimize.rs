//! Maximizing an acquisition function inside a box of the unit cube: score a set of
//! candidates (quasi-random points, perturbations of good observations), then polish the
//! best few with L-BFGS (Optuna's `GPSampler` does the same: 2048 Sobol candidates, then
//! local search from the best of them; BoTorch's `optimize_acqf` with raw samples and
//! restarts).
//!
//! L-BFGS is unconstrained, so the box `[lo, hi]` is reparametrized as
//! `u_i = lo_i + (hi_i − lo_i)·(1 + sin t_i)/2`: every `t` maps into the box, the map is smooth,
//! and the bounds are reached at finite `t` (`t_i = ±π/2`), where the chain-rule factor
//! `cos t_i` vanishes, which makes an optimum on the boundary a stationary point in `t`.

use crate::lbfgs;

/// A box inside the unit cube (the whole cube, or a trust region).
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Lower corner.
    pub lo: Vec<f64>,
    /// Upper corner (`hi_i ≥ lo_i`).
    pub hi: Vec<f64>,
}

impl Region {
    /// `[0, 1]^d`.
    pub fn unit(d: usize) -> Self {
        Self {
            lo: vec![0.0; d],
            hi: vec![1.0; d],
        }
    }

    /// Maps a unit-cube point `v ∈ [0,1]^d` into this region.
    pub fn from_unit(&self, v: &[f64]) -> Vec<f64> {
        v.iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(t, (l, h))| (l + t * (h - l)).clamp(*l, *h))
            .collect()
    }
}

/// An acquisition function of unit-cube points, maximized.
pub trait Acquisition {
    /// Value at `u` (may be `−∞`).
    fn value(&self, u: &[f64]) -> f64;
    /// Value and gradient at `u`.
    fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>);
}

/// L-BFGS iterations per local search.
const LOCAL_ITERS: u64 = 50;

/// The best point of `region` found from `candidates` (points inside `region`) by scoring
/// them all and polishing the best `starts` with L-BFGS; `None` if `candidates` is empty.
/// Ties and non-finite values resolve to the earliest candidate, so the result is
/// deterministic.
pub fn maximize(
    acq: &impl Acquisition,
    region: &Region,
    candidates: &[Vec<f64>],
    starts: usize,
) -> Option<(Vec<f64>, f64)> {
    let mut scored: Vec<(usize, f64)> = candidates
        .iter()
        .enumerate()
        .map(|(i, u)| (i, acq.value(u)))
        .map(|(i, v)| (i, if v.is_nan() { f64::NEG_INFINITY } else { v }))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut best = scored.first().map(|&(i, v)| (candidates[i].clone(), v))?;
    if !best.1.is_finite() {
        return Some(best);
    }
    for &(i, _) in scored.iter().take(starts) {
        if let Some((u, v)) = polish(acq, region, &candidates[i]) {
            if v > best.1 {
                best = (u, v);
            }
        }
    }
    Some(best)
}

/// L-BFGS from `u0` in the sine reparametrization of `region`.
fn polish(acq: &impl Acquisition, region: &Region, u0: &[f64]) -> Option<(Vec<f64>, f64)> {
    let width: Vec<f64> = region
        .lo
        .iter()
        .zip(&region.hi)
        .map(|(l, h)| h - l)
        .collect();
    let to_u = |t: &[f64]| -> Vec<f64> {
        t.iter()
            .zip(region.lo.iter().zip(&width))
            .map(|(ti, (l, w))| (l + w * 0.5 * (1.0 + ti.sin())).clamp(*l, l + w))
            .collect()
    };
    let t0: Vec<f64> = u0
        .iter()
        .zip(region.lo.iter().zip(&width))
        .map(|(u, (l, w))| {
            if *w > 0.0 {
                (2.0 * (u - l) / w - 1.0).clamp(-1.0, 1.0).asin()
            } else {
                0.0
            }
        })
        .collect();
    let objective = |t: &[f64]| {
        let u = to_u(t);
        let (v, g) = acq.value_grad(&u);
        if !v.is_finite() {
            return None;
        }
        let gt = g
            .iter()
            .zip(t.iter().zip(&width))
            .map(|(gi, (ti, w))| -gi * w * 0.5 * ti.cos())
            .collect();
        Some((-v, gt))
    };
    let (t, v) = lbfgs::minimize(&objective, t0, lbfgs::Stop::iters(LOCAL_ITERS))?;
    Some((to_u(&t), -v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// −Σ (u_i − c_i)², maximized at c (clipped into the region).
    struct Bowl(Vec<f64>);

    impl Acquisition for Bowl {
        fn value(&self, u: &[f64]) -> f64 {
            -u.iter()
                .zip(&self.0)
                .map(|(a, c)| (a - c).powi(2))
                .sum::<f64>()
        }
        fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
            let g = u.iter().zip(&self.0).map(|(a, c)| -2.0 * (a - c)).collect();
            (self.value(u), g)
        }
    }

    #[test]
    fn finds_interior_and_boundary_optima() {
        let grid: Vec<Vec<f64>> = (0..5)
            .flat_map(|i| (0..5).map(move |j| vec![0.1 + 0.2 * i as f64, 0.1 + 0.2 * j as f64]))
            .collect();
        let (u, v) = maximize(&Bowl(vec![0.37, 0.62]), &Region::unit(2), &grid, 3).unwrap();
        assert!(
            (u[0] - 0.37).abs() < 1e-5 && (u[1] - 0.62).abs() < 1e-5 && v > -1e-9,
            "{u:?}"
        );
        // The optimum (1.4, −0.3) lies outside: the answer is the nearest corner of the box.
        let (u, _) = maximize(&Bowl(vec![1.4, -0.3]), &Region::unit(2), &grid, 3).unwrap();
        assert!((u[0] - 1.0).abs() < 1e-6 && u[1].abs() < 1e-6, "{u:?}");
        // Inside a trust region [0.2, 0.5]²: the optimum (0.37, 0.62) clips to (0.37, 0.5).
        let region = Region {
            lo: vec![0.2, 0.2],
            hi: vec![0.5, 0.5],
        };
        let inside: Vec<Vec<f64>> = grid.iter().map(|g| region.from_unit(g)).collect();
        let (u, _) = maximize(&Bowl(vec![0.37, 0.62]), &region, &inside, 3).unwrap();
        assert!(
            (u[0] - 0.37).abs() < 1e-5 && (u[1] - 0.5).abs() < 1e-6,
            "{u:?}"
        );
    }
}
