//! Hyperparameter fitting: maximize `log p(y | θ) + log p(θ)` over
//! `θ = (ln ℓ_1…ln ℓ_d, ln s², ln(σ_n² − min))` with L-BFGS on the analytic gradient.
//!
//! - **Marginal likelihood** (R&W eq. 5.8): `−½ rᵀK⁻¹r − Σ ln L_ii − (n/2) ln 2π` with
//!   `r = z − m̂` (the GLS constant mean, see [`super`]). **Gradient** (R&W eq. 5.9):
//!   `∂/∂θ_j = ½ tr((ααᵀ − K⁻¹) ∂K/∂θ_j)`, `α = K⁻¹r`, with
//!   `∂K_ab/∂ln ℓ_k = s² · (−M'(r)/r) · (x_ak − x_bk)²/ℓ_k²`, `∂K/∂ln s² = s² M`, and
//!   `∂K/∂ln(σ_n² − min) = (σ_n² − min) I`.
//! - **Priors** (weak; log densities of the parameters themselves, constants dropped, as
//!   Optuna's `GPSampler` and BoTorch write them):
//!   - length scales: log-normal with `μ = √2 + ½ ln d`, `σ² = 3` — the dimension-scaled
//!     prior of Hvarfner et al. 2024, BoTorch's default since 0.12: as `d` grows, the prior
//!     favours longer length scales, which keeps BO from degenerating into local search in
//!     high dimension;
//!   - signal variance: Gamma(2, 1) (Optuna's `GPSampler`);
//!   - noise variance: Gamma(1.1, 30) above the floor [`MIN_NOISE`] (Optuna's `GPSampler`):
//!     mean noise ≈ 0.04 of the standardized output variance, a nearly deterministic
//!     objective is allowed.
//! - **Starts**: the previous fit's parameters (warm start, as Optuna does between trials),
//!   the prior's mode, and `restarts` random perturbations of it; the best posterior wins.
//!
//! ## References
//!
//! - C. E. Rasmussen, C. K. I. Williams, "Gaussian Processes for Machine Learning", 2006,
//!   §5.4.1.
//! - C. Hvarfner, E. O. Hellsten, L. Nardi, "Vanilla Bayesian Optimization Performs Great in
//!   High Dimensions", ICML 2024 (the dimension-scaled length-scale prior).
//! - Optuna `optuna/_gp/prior.py` (`default_log_prior`) and `optuna/_gp/gp.py`
//!   (`fit_kernel_params`): Gamma priors, noise floor, warm starts.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::{kernel, standardization, Gp, GpParams, MIN_NOISE};
use crate::lbfgs;

/// Variance `σ²` of the log-normal length-scale prior (Hvarfner et al. 2024).
const LS_PRIOR_VAR: f64 = 3.0;

/// How hard [`fit`] tries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Random starts besides the warm start and the prior mode.
    pub restarts: usize,
    /// Whether the prior mode is a start even when there is a warm start.
    pub mode_start: bool,
    /// L-BFGS iterations per start.
    pub max_iters: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            restarts: 1,
            mode_start: true,
            max_iters: 60,
        }
    }
}

/// Gradient tolerance of the fit: the log posterior is O(n) nats, and a gradient norm of
/// 1e-3 nats per log-unit changes nothing a proposal depends on.
const TOL_GRAD: f64 = 1e-3;
/// Cost tolerance of the fit (nats).
const TOL_COST: f64 = 1e-7;

/// Mean `μ = √2 + ½ ln d` of the log-normal length-scale prior.
fn ls_prior_mean(d: usize) -> f64 {
    std::f64::consts::SQRT_2 + 0.5 * (d as f64).ln()
}

/// The prior's mode: `ln ℓ = μ − σ²` (the maximizer of `−ln ℓ − (ln ℓ − μ)²/2σ²`), unit
/// signal variance, noise 0.01 above the floor.
pub fn prior_mode(d: usize) -> GpParams {
    GpParams {
        log_ls: vec![ls_prior_mean(d) - LS_PRIOR_VAR; d],
        log_signal: 0.0,
        log_noise: (1e-2f64).ln(),
    }
}

/// `log p(θ)` and its gradient in `θ` (module docs).
fn log_prior(theta: &[f64]) -> (f64, Vec<f64>) {
    let d = theta.len() - 2;
    let mu = ls_prior_mean(d);
    let mut v = 0.0;
    let mut g = vec![0.0; theta.len()];
    for (l, gl) in theta[..d].iter().zip(&mut g) {
        v += -l - (l - mu).powi(2) / (2.0 * LS_PRIOR_VAR);
        *gl = -1.0 - (l - mu) / LS_PRIOR_VAR;
    }
    let s2 = theta[d].exp();
    v += s2.ln() - s2;
    g[d] = 1.0 - s2;
    let excess = theta[d + 1].exp();
    let noise = MIN_NOISE + excess;
    v += 0.1 * noise.ln() - 30.0 * noise;
    g[d + 1] = (0.1 / noise - 30.0) * excess;
    (v, g)
}

/// `K⁻¹` from the lower Cholesky factor `L` of `K` (only its lower triangle is read):
/// `M = L⁻¹` column by column by forward substitution, touching only the lower triangle and
/// reading `L` by columns, then `K⁻¹ = MᵀM` as one dense product (matrixmultiply's gemm).
/// The fit's cost is this inverse; nalgebra's `Cholesky::inverse` solves against a full
/// identity and takes about three times as long.
fn inverse_from_cholesky(l: &nalgebra::DMatrix<f64>) -> nalgebra::DMatrix<f64> {
    let n = l.nrows();
    let mut m = nalgebra::DMatrix::<f64>::zeros(n, n);
    // Column-major storage: column c of a matrix is `[c·n, (c+1)·n)` of its slice.
    let ls = l.as_slice();
    for (j, x) in m.as_mut_slice().chunks_exact_mut(n).enumerate() {
        x[j] = 1.0;
        for k in j..n {
            let lk = &ls[k * n..(k + 1) * n];
            x[k] /= lk[k];
            let xk = x[k];
            for (xi, li) in x[k + 1..].iter_mut().zip(&lk[k + 1..]) {
                *xi -= xk * li;
            }
        }
    }
    m.transpose() * m
}

/// `log p(z | θ)` (standardized targets, GLS mean profiled out) and its gradient in `θ`;
/// `None` where `K` cannot be factorized or `θ` is absurd.
pub fn log_marginal_likelihood(
    x: &[Vec<f64>],
    z: &[f64],
    theta: &[f64],
) -> Option<(f64, Vec<f64>)> {
    if theta.iter().any(|t| !t.is_finite() || t.abs() > 25.0) {
        return None;
    }
    let n = x.len();
    let d = theta.len() - 2;
    let params = GpParams::from_slice(theta);
    let kern = params.kernel();
    let noise = params.noise();
    let k = super::kernel_matrix(x, &kern, noise);
    let l = k.clone().cholesky()?;
    let kinv = inverse_from_cholesky(l.l_dirty());
    let zv = nalgebra::DVector::from_column_slice(z);
    let kz = &kinv * &zv;
    let k1: f64 = kinv.row_iter().map(|r| r.sum()).sum();
    let mean = if k1.abs() > 0.0 { kz.sum() / k1 } else { 0.0 };
    let r = zv.add_scalar(-mean);
    let alpha = &kinv * &r;
    let lower = l.l();
    let logdet: f64 = (0..n).map(|i| lower[(i, i)].ln()).sum();
    let lml = -0.5 * r.dot(&alpha) - logdet - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    // W = ααᵀ − K⁻¹; the gradient is ½ Σ_ab W_ab ∂K_ab/∂θ.
    let mut g = vec![0.0; theta.len()];
    let mut trace_w = 0.0;
    for a in 0..n {
        trace_w += alpha[a] * alpha[a] - kinv[(a, a)];
        // Diagonal of ∂K/∂ln s² is s² (times W_aa, halved: the full sum counts it once).
        g[d] += 0.5 * (alpha[a] * alpha[a] - kinv[(a, a)]) * kern.signal;
        for b in 0..a {
            let w = alpha[a] * alpha[b] - kinv[(a, b)];
            let rr = kern.r2(&x[a], &x[b]).sqrt();
            // Off-diagonal pairs appear twice in the sum: ½ · 2 = 1.
            g[d] += w * k[(a, b)];
            let c = w * kern.signal * kernel::neg_dm_over_r(rr);
            for (j, gj) in g[..d].iter_mut().enumerate() {
                let diff = x[a][j] - x[b][j];
                *gj += c * diff * diff * kern.inv_ls2[j];
            }
        }
    }
    g[d + 1] = 0.5 * trace_w * (noise - MIN_NOISE);
    Some((lml, g))
}

/// Fits hyperparameters to observations `(x, y)` (x in the unit box) and returns the
/// posterior; `warm` is the previous fit, if any. Falls back to the warm start or the prior
/// mode unfitted when no start can be optimized; `None` only if not even that posterior can
/// be factorized.
pub fn fit(
    x: Vec<Vec<f64>>,
    y: &[f64],
    warm: Option<&GpParams>,
    options: FitOptions,
    rng: &mut ChaCha8Rng,
) -> Option<Gp> {
    let d = x.first()?.len();
    let (shift, scale) = standardization(y);
    let z: Vec<f64> = y.iter().map(|v| (v - shift) / scale).collect();
    let objective = |theta: &[f64]| {
        let (lml, gl) = log_marginal_likelihood(&x, &z, theta)?;
        let (lp, gp) = log_prior(theta);
        let grad = gl.iter().zip(&gp).map(|(a, b)| -(a + b)).collect();
        Some((-(lml + lp), grad))
    };
    let mode = prior_mode(d).to_vec();
    let mut starts: Vec<Vec<f64>> = warm
        .filter(|w| w.log_ls.len() == d)
        .map(|w| w.to_vec())
        .into_iter()
        .collect();
    if starts.is_empty() || options.mode_start {
        starts.push(mode.clone());
    }
    for _ in 0..options.restarts {
        let mut t = mode.clone();
        for v in t.iter_mut().take(d) {
            *v += rng.sample::<f64, _>(StandardNormal);
        }
        starts.push(t);
    }
    let best = starts
        .into_iter()
        .filter_map(|t| {
            let stop = lbfgs::Stop {
                max_iters: options.max_iters,
                tol_grad: TOL_GRAD,
                tol_cost: TOL_COST,
            };
            lbfgs::minimize(&objective, t, stop)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| GpParams::from_slice(&t));
    let params = best
        .or_else(|| warm.cloned())
        .unwrap_or_else(|| prior_mode(d));
    Gp::new(x, y, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Vec<Vec<f64>>, Vec<f64>) {
        let x: Vec<Vec<f64>> = (0..9)
            .map(|i| {
                let t = i as f64 / 8.0;
                vec![t, (3.0 * t).fract(), (7.0 * t + 0.1).fract()]
            })
            .collect();
        let z = x
            .iter()
            .map(|p| (4.0 * p[0]).sin() + p[1] * p[1] - 0.3 * p[2])
            .collect();
        (x, z)
    }

    #[test]
    fn marginal_likelihood_gradient_matches_central_differences() {
        let (x, z) = data();
        let theta = vec![-0.4, 0.3, -1.1, 0.2, (0.05f64).ln()];
        let (_, g) = log_marginal_likelihood(&x, &z, &theta).unwrap();
        for j in 0..theta.len() {
            let h = 1e-5;
            let (mut p, mut m) = (theta.clone(), theta.clone());
            p[j] += h;
            m[j] -= h;
            let fd = (log_marginal_likelihood(&x, &z, &p).unwrap().0
                - log_marginal_likelihood(&x, &z, &m).unwrap().0)
                / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-5 * (1.0 + fd.abs()),
                "θ_{j}: {fd} vs {}",
                g[j]
            );
        }
    }

    #[test]
    fn prior_gradient_matches_central_differences() {
        let theta = vec![-0.4, 0.3, 0.2, (0.05f64).ln()];
        let (_, g) = log_prior(&theta);
        for j in 0..theta.len() {
            let h = 1e-6;
            let (mut p, mut m) = (theta.clone(), theta.clone());
            p[j] += h;
            m[j] -= h;
            let fd = (log_prior(&p).0 - log_prior(&m).0) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-6 * (1.0 + fd.abs()),
                "θ_{j}: {fd} vs {}",
                g[j]
            );
        }
    }
}
