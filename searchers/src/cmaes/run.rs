//! One CMA-ES run (no restarts, no box): the strategy parameters, sampling, the
//! generation update and the stopping tests, in normalized coordinates.
//!
//! Equation numbers refer to N. Hansen, "The CMA Evolution Strategy: A Tutorial",
//! arXiv:1604.00772 (2016/2023); the constants are in [`Params`] (`c_m = 1`). The covariance
//! update is eq. 47 with the active (negative-weight) part of eq. 46 when the parameters have
//! negative weights (Jastrebski & Arnold 2006). Stopping tests follow the tutorial's
//! Appendix B.3 with pycma's default thresholds.

use std::collections::VecDeque;

use nalgebra::{DMatrix, SymmetricEigen};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::params::Params;

/// `tolfun` (pycma default): stop when recent best values and the current generation's
/// values all lie within this range.
const TOL_FUN: f64 = 1e-11;
/// `tolx` in box widths (pycma's 1e-11 is absolute; our unit is the box width).
const TOL_X: f64 = 1e-12;
/// `tolconditioncov` (tutorial B.3 / pycma): condition number of C.
const TOL_CONDITION: f64 = 1e14;
/// Step sizes this far beyond the unit box sample only its corners: the run has diverged.
const TOL_UP_SIGMA: f64 = 1e4;

/// Why a run stopped (the tutorial's B.3 criteria).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Fitness values flat over recent generations.
    TolFun,
    /// Step sizes negligible in every coordinate.
    TolX,
    /// A 0.1σ step along a principal axis no longer changes the mean.
    NoEffectAxis,
    /// A 0.2σ step in a coordinate no longer changes the mean.
    NoEffectCoord,
    /// cond(C) above 1e14.
    ConditionCov,
    /// Median best and median fitness have not improved over the stagnation window.
    Stagnation,
    /// σ·max(D) far beyond the box, or a non-finite state.
    Diverged,
}

/// State of one run: `N(m, σ² C)` with evolution paths, `C = B D² Bᵀ` (row-major `n × n`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub p: Params,
    pub n: usize,
    pub mean: Vec<f64>,
    pub sigma: f64,
    pc: Vec<f64>,
    ps: Vec<f64>,
    c: Vec<f64>,
    b: Vec<f64>,
    d: Vec<f64>,
    /// Generation of the last eigendecomposition.
    eigen_gen: u64,
    /// Generations updated in this run.
    pub gen: u64,
    /// Best and median ranking fitness per generation, for tolfun and stagnation.
    best_hist: VecDeque<f64>,
    median_hist: VecDeque<f64>,
    /// Range of the last generation's scored fitness values.
    last_range: f64,
}

impl Run {
    /// A run from `mean` with step size `sigma` and population `lambda`, with negative
    /// weights where `active` (see [`Params`]).
    pub fn new(mean: Vec<f64>, sigma: f64, lambda: usize, active: bool) -> Self {
        let n = mean.len();
        let mut eye = vec![0.0; n * n];
        for i in 0..n {
            eye[i * n + i] = 1.0;
        }
        Self {
            p: Params::new(n, lambda, active),
            n,
            mean,
            sigma,
            pc: vec![0.0; n],
            ps: vec![0.0; n],
            c: eye.clone(),
            b: eye,
            d: vec![1.0; n],
            eigen_gen: 0,
            gen: 0,
            best_hist: VecDeque::new(),
            median_hist: VecDeque::new(),
            last_range: 0.0,
        }
    }

    /// `m + σ B D z`, `z ~ N(0, I)` (eq. 38–40).
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let n = self.n;
        let dz: Vec<f64> = (0..n)
            .map(|k| self.d[k] * rng.sample::<f64, _>(StandardNormal))
            .collect();
        (0..n)
            .map(|i| {
                let y: f64 = (0..n).map(|k| self.b[i * n + k] * dz[k]).sum();
                self.mean[i] + self.sigma * y
            })
            .collect()
    }

    /// `C^{-1/2} v = B D⁻¹ Bᵀ v`.
    fn inv_sqrt_c(&self, v: &[f64]) -> Vec<f64> {
        let n = self.n;
        let t: Vec<f64> = (0..n)
            .map(|k| (0..n).map(|i| self.b[i * n + k] * v[i]).sum::<f64>() / self.d[k])
            .collect();
        (0..n)
            .map(|i| (0..n).map(|k| self.b[i * n + k] * t[k]).sum())
            .collect()
    }

    /// One generation's update from its samples `u` and their ranking fitness (`None` =
    /// failed, ranked last and never recombined). `injected`: the samples were drawn from an
    /// older distribution, so each step is clipped to Mahalanobis length `√n + 2n/(n+2)`
    /// (Hansen 2011, "Injecting External Solutions Into CMA-ES", as pycma does).
    ///
    /// Negative weights (active CMA) go to the worst scored points only: with `k` scored
    /// points, ranks `μ+1..k` get the last `k − μ` of `w_{μ+1..λ}` (the worst scored point
    /// the most negative weight, as pycma's `RecombinationWeights.__call__` shortens the
    /// list); failed and NaN points get no weight, positive or negative. The negative steps of
    /// an `injected` generation are measured from `sampled_from` (the mean and σ it was drawn
    /// with: the samples' own draws), not from the current mean, which has moved toward the
    /// good points so that the bad ones would all lie behind it — their negative update would
    /// then take variance away from the direction of progress. (pycma gives injected points
    /// no negative weight, `CMA_active_injected = 0`; here every generation of a driver with
    /// many trials in flight is injected, and its negative update is worth keeping.)
    pub fn update(
        &mut self,
        u: &[Vec<f64>],
        fit: &[Option<f64>],
        injected: bool,
        sampled_from: Option<(&[f64], f64)>,
    ) {
        let n = self.n;
        let nf = n as f64;
        let p = self.p.clone();
        let mut order: Vec<usize> = (0..u.len()).collect();
        order.sort_by(|&a, &b| match (fit[a], fit[b]) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(&b),
        });
        let ok: Vec<f64> = order.iter().filter_map(|&i| fit[i]).collect();
        if ok.is_empty() {
            self.gen += 1;
            return;
        }
        // Failed points get no weight: with fewer than μ scored points, the first weights are
        // renormalized over those.
        let mu = p.mu.min(ok.len()).max(1);
        let wsum: f64 = p.weights[..mu].iter().sum();
        let w: Vec<f64> = p.weights[..mu].iter().map(|x| x / wsum).collect();
        let mueff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();

        // Flat fitness (tutorial B.2 end): detected now, applied after the update so the
        // steps y_i below are measured with the σ they were sampled with.
        let k07 = ((0.7 * p.lambda as f64).ceil() as usize).min(ok.len()) - 1;
        let flat = ok.len() > 1 && ok[0] == ok[k07];

        // y_i = (x_i − m) / σ (eq. 41), clipped when injected.
        let max_len = nf.sqrt() + 2.0 * nf / (nf + 2.0);
        let step = |i: usize| {
            let mut y: Vec<f64> = (0..n)
                .map(|j| (u[i][j] - self.mean[j]) / self.sigma)
                .collect();
            if injected {
                let len = norm(&self.inv_sqrt_c(&y));
                if len > max_len {
                    y.iter_mut().for_each(|v| *v *= max_len / len);
                }
            }
            y
        };
        let ys: Vec<Vec<f64>> = order[..mu].iter().map(|&i| step(i)).collect();
        // Negatively weighted steps (active CMA): the scored ranks after μ, each weight
        // rescaled by n / ‖C^{-1/2} y_i‖² (eq. 46) so every such step has squared
        // Mahalanobis length n — what α_posdef⁻ (eq. 52) needs to keep C positive definite.
        let n_neg = if p.active {
            (ok.len().saturating_sub(p.mu)).min(p.neg_weights.len())
        } else {
            0
        };
        let neg_w = &p.neg_weights[p.neg_weights.len() - n_neg..];
        let neg: Vec<(f64, Vec<f64>)> = order[p.mu..p.mu + n_neg]
            .iter()
            .zip(neg_w)
            .filter(|(_, &w)| w < 0.0)
            .filter_map(|(&i, &w)| {
                let y = match sampled_from {
                    Some((m0, s0)) if injected => (0..n).map(|j| (u[i][j] - m0[j]) / s0).collect(),
                    _ => step(i),
                };
                let len2 = self.inv_sqrt_c(&y).iter().map(|v| v * v).sum::<f64>();
                (len2 > 0.0 && len2.is_finite()).then(|| (w * nf / len2, y))
            })
            .collect();
        let neg_sum: f64 = neg_w.iter().sum();
        let yw: Vec<f64> = (0..n)
            .map(|j| ys.iter().zip(&w).map(|(y, wi)| wi * y[j]).sum())
            .collect();
        // Mean (eq. 41, c_m = 1): positive weights only.
        for (m, y) in self.mean.iter_mut().zip(&yw) {
            *m += self.sigma * y;
        }
        // Step-size path (eq. 43).
        let z = self.inv_sqrt_c(&yw);
        let a = (p.cs * (2.0 - p.cs) * mueff).sqrt();
        for (ps, zj) in self.ps.iter_mut().zip(&z) {
            *ps = (1.0 - p.cs) * *ps + a * zj;
        }
        // h_σ stall of p_c (tutorial footnote to eq. 45).
        let ps_norm = norm(&self.ps);
        let corr = (1.0 - (1.0 - p.cs).powf(2.0 * (self.gen + 1) as f64)).sqrt();
        let hsig = ps_norm / corr < (1.4 + 2.0 / (nf + 1.0)) * p.chi_n;
        let hs = if hsig { 1.0 } else { 0.0 };
        // Covariance path (eq. 45).
        let a = (p.cc * (2.0 - p.cc) * mueff).sqrt();
        for (pc, y) in self.pc.iter_mut().zip(&yw) {
            *pc = (1.0 - p.cc) * *pc + hs * a * y;
        }
        // Rank-one and rank-μ update (eq. 47 with δ(h_σ) of the footnote): the positive
        // weights sum to 1, the negative ones to `neg_sum` (un-rescaled, as in eq. 47's
        // decay term), so the decay is 1 + c1 δ − c1 − cμ (1 + neg_sum).
        let delta = (1.0 - hs) * p.cc * (2.0 - p.cc);
        let mut keep = 1.0 + p.c1 * delta - p.c1 - p.cmu;
        if n_neg > 0 {
            keep -= p.cmu * neg_sum;
        }
        for r in 0..n {
            for s in 0..=r {
                let mut rank_mu: f64 = ys.iter().zip(&w).map(|(y, wi)| wi * y[r] * y[s]).sum();
                if !neg.is_empty() {
                    rank_mu += neg.iter().map(|(wi, y)| wi * y[r] * y[s]).sum::<f64>();
                }
                let v = keep * self.c[r * n + s] + p.c1 * self.pc[r] * self.pc[s] + p.cmu * rank_mu;
                self.c[r * n + s] = v;
                self.c[s * n + r] = v;
            }
        }
        // CSA (eq. 44), exponent capped at 1 as pycma does.
        self.sigma *= ((p.cs / p.damps) * (ps_norm / p.chi_n - 1.0))
            .min(1.0)
            .exp();
        if flat {
            // Enlarge σ instead of learning nothing from equal fitness values.
            self.sigma *= (0.2 + p.cs / p.damps).exp();
        }
        self.gen += 1;

        // Lazy eigendecomposition (tutorial B.2, Appendix C; see `Params::eigen_gap`).
        if (self.gen - self.eigen_gen) as f64 >= p.eigen_gap(n) {
            self.decompose();
        }

        // Histories for the stopping tests (bounded by the stagnation window).
        let cap = self.stagnation_window();
        self.best_hist.push_back(ok[0]);
        self.median_hist.push_back(ok[ok.len() / 2]);
        while self.best_hist.len() > cap {
            self.best_hist.pop_front();
            self.median_hist.pop_front();
        }
        self.last_range = ok[ok.len() - 1] - ok[0];
    }

    fn decompose(&mut self) {
        let n = self.n;
        let eig = SymmetricEigen::new(DMatrix::from_row_slice(n, n, &self.c));
        for i in 0..n {
            for k in 0..n {
                self.b[i * n + k] = eig.eigenvectors[(i, k)];
            }
        }
        for k in 0..n {
            // Round-off can leave tiny negative eigenvalues; the condition test catches them.
            self.d[k] = eig.eigenvalues[k].max(f64::MIN_POSITIVE).sqrt();
        }
        self.eigen_gen = self.gen;
    }

    /// pycma's `tolstagnation`: `100 + 100 n^1.5 / λ` generations.
    fn stagnation_window(&self) -> usize {
        (100.0 + 100.0 * (self.n as f64).powf(1.5) / self.p.lambda as f64).ceil() as usize
    }

    /// The first stopping criterion that holds, if any (tutorial B.3).
    pub fn stop(&self) -> Option<Stop> {
        let n = self.n;
        let finite = self.sigma.is_finite()
            && self.mean.iter().all(|v| v.is_finite())
            && self.c.iter().all(|v| v.is_finite());
        let dmax = self.d.iter().cloned().fold(0.0, f64::max);
        let dmin = self.d.iter().cloned().fold(f64::INFINITY, f64::min);
        if !finite || self.sigma * dmax > TOL_UP_SIGMA {
            return Some(Stop::Diverged);
        }
        if self.gen == 0 {
            return None;
        }
        let recent = 10 + (30.0 * n as f64 / self.p.lambda as f64).ceil() as usize;
        if self.best_hist.len() >= recent {
            let tail = self.best_hist.iter().rev().take(recent);
            let (lo, hi) = tail.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
            if hi - lo < TOL_FUN && self.last_range < TOL_FUN {
                return Some(Stop::TolFun);
            }
        }
        if (0..n).all(|i| self.sigma * self.pc[i].abs().max(self.c[i * n + i].sqrt()) < TOL_X) {
            return Some(Stop::TolX);
        }
        if (dmax / dmin).powi(2) > TOL_CONDITION {
            return Some(Stop::ConditionCov);
        }
        let axis = (self.gen as usize) % n;
        let scale = 0.1 * self.sigma * self.d[axis];
        if (0..n).all(|i| self.mean[i] + scale * self.b[i * n + axis] == self.mean[i]) {
            return Some(Stop::NoEffectAxis);
        }
        if (0..n)
            .any(|i| self.mean[i] + 0.2 * self.sigma * self.c[i * n + i].sqrt() == self.mean[i])
        {
            return Some(Stop::NoEffectCoord);
        }
        let cap = self.stagnation_window();
        if self.best_hist.len() >= cap {
            let k = (cap / 5).max(1);
            let first = |h: &VecDeque<f64>| median(h.iter().take(k).cloned().collect());
            let last = |h: &VecDeque<f64>| median(h.iter().rev().take(k).cloned().collect());
            if last(&self.best_hist) >= first(&self.best_hist)
                && last(&self.median_hist) >= first(&self.median_hist)
            {
                return Some(Stop::Stagnation);
            }
        }
        None
    }

    /// `mean(diag C)`: the scale of the boundary penalty.
    pub fn mean_diag_c(&self) -> f64 {
        let n = self.n;
        (0..n).map(|i| self.c[i * n + i]).sum::<f64>() / n as f64
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A 4-d run with λ = 8 after `gens` sphere generations, and one more generation's samples.
    fn warmed(active: bool, gens: usize) -> (Run, Vec<Vec<f64>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut run = Run::new(vec![0.3; 4], 0.2, 8, active);
        let sphere = |u: &Vec<f64>| u.iter().map(|v| v * v).sum::<f64>();
        for _ in 0..gens {
            let u: Vec<Vec<f64>> = (0..8).map(|_| run.sample(&mut rng)).collect();
            let fit: Vec<Option<f64>> = u.iter().map(|x| Some(sphere(x))).collect();
            run.update(&u, &fit, false, None);
        }
        let u: Vec<Vec<f64>> = (0..8).map(|_| run.sample(&mut rng)).collect();
        (run, u)
    }

    fn state(run: &Run) -> String {
        serde_json::to_string(run).unwrap()
    }

    #[test]
    fn failed_points_get_no_weight_positive_or_negative() {
        // Failing two of eight points must update the run exactly as if those two samples had
        // never been drawn: no positive weight, no negative weight, and the negative weights
        // of the remaining ranks μ+1..6 are the last ones, w_7 and w_8 being the 2 dropped.
        let (run, u) = warmed(true, 5);
        let fit: Vec<Option<f64>> = u
            .iter()
            .enumerate()
            .map(|(i, x)| (i % 4 != 1).then(|| x.iter().map(|v| v * v).sum::<f64>()))
            .collect();
        let (kept_u, kept_fit): (Vec<Vec<f64>>, Vec<Option<f64>>) = u
            .iter()
            .zip(&fit)
            .filter(|(_, f)| f.is_some())
            .map(|(x, f)| (x.clone(), *f))
            .unzip();
        assert_eq!(kept_u.len(), 6);
        let (mut with_failed, mut without) = (run.clone(), run);
        with_failed.update(&u, &fit, false, None);
        without.update(&kept_u, &kept_fit, false, None);
        assert_eq!(state(&with_failed), state(&without));
    }

    #[test]
    fn the_active_update_keeps_c_positive_definite_and_shrinks_bad_directions() {
        // Twenty generations on a function that punishes the first coordinate 1e6 times more
        // than the others: the negative weights must shrink C's first variance (relative to
        // the mean variance) more than the positive-only update does, and C stays positive
        // definite (every eigenvalue > 0).
        let f = |x: &Vec<f64>| 1e6 * x[0] * x[0] + x[1..].iter().map(|v| v * v).sum::<f64>();
        let mut var0 = Vec::new();
        for active in [false, true] {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut run = Run::new(vec![0.0; 4], 0.3, 8, active);
            for _ in 0..20 {
                let u: Vec<Vec<f64>> = (0..8).map(|_| run.sample(&mut rng)).collect();
                let fit: Vec<Option<f64>> = u.iter().map(|x| Some(f(x))).collect();
                run.update(&u, &fit, false, None);
            }
            run.decompose();
            assert!(
                run.d.iter().all(|d| *d > 1e-150),
                "active {active}: {:?}",
                run.d
            );
            var0.push(run.c[0] / run.mean_diag_c());
        }
        assert!(var0[1] < var0[0], "relative variance of x0: {var0:?}");
    }
}
