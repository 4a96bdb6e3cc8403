//! Gaussian-process regression: the surrogate model of the Bayesian searchers.
//!
//! - **Model.** `f ~ GP(m, k)` with a constant mean `m`, the Matérn-5/2 ARD kernel
//!   ([`kernel`]) and Gaussian observation noise `σ_n²`. Inputs are expected in the unit box
//!   (the searchers scale them); outputs are standardized to mean 0 and standard deviation 1
//!   before fitting, so the priors below mean the same thing on every problem.
//! - **Constant mean.** Profiled out by generalized least squares,
//!   `m̂ = 1ᵀK⁻¹y / 1ᵀK⁻¹1` (Rasmussen & Williams 2006, §2.7): the marginal likelihood at `m̂`
//!   is the maximum over `m`, and its gradient in the kernel parameters is the plain one at
//!   `y − m̂` (the derivative in `m` vanishes there).
//! - **Hyperparameters** are fitted in [`fit`] by maximizing the log marginal likelihood plus
//!   weak log priors, with L-BFGS from several starts.
//! - **Posterior** ([`Gp::predict`], [`Gp::predict_grad`]): mean and latent variance (without
//!   the noise), with their gradients in `x` for acquisition maximization; R&W eq. 2.25–2.26.
//! - **Cholesky with jitter.** When `K` is numerically singular (duplicated points with tiny
//!   noise), `10⁻⁸·s², 10⁻⁷·s², …` up to `10⁻²·s²` is added to the diagonal until the
//!   factorization succeeds.
//!
//! ## References
//!
//! - C. E. Rasmussen, C. K. I. Williams, "Gaussian Processes for Machine Learning", MIT Press,
//!   2006: Algorithm 2.1 (prediction), eq. 5.8–5.9 (marginal likelihood and its gradient).

pub mod fit;
pub mod kernel;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

pub use fit::{fit, FitOptions};
pub use kernel::Matern52;

/// Noise variance floor, in standardized units (Optuna's `DEFAULT_MINIMUM_NOISE_VAR`).
pub const MIN_NOISE: f64 = 1e-8;

/// The latent variance never goes below `VAR_FLOOR · s²`, so acquisition functions can divide
/// by the standard deviation.
const VAR_FLOOR: f64 = 1e-12;

/// Kernel hyperparameters in log space (the space they are fitted in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpParams {
    /// `ln ℓ_k` per input.
    pub log_ls: Vec<f64>,
    /// `ln s²`.
    pub log_signal: f64,
    /// `ln(σ_n² − MIN_NOISE)`.
    pub log_noise: f64,
}

impl GpParams {
    /// The kernel these parameters describe.
    pub fn kernel(&self) -> Matern52 {
        Matern52 {
            inv_ls2: self.log_ls.iter().map(|l| (-2.0 * l).exp()).collect(),
            signal: self.log_signal.exp(),
        }
    }

    /// The noise variance `σ_n²` (standardized units).
    pub fn noise(&self) -> f64 {
        MIN_NOISE + self.log_noise.exp()
    }

    /// Length scales `ℓ_k` (unit-box units).
    pub fn length_scales(&self) -> Vec<f64> {
        self.log_ls.iter().map(|l| l.exp()).collect()
    }

    /// As a flat vector `[ln ℓ…, ln s², ln(σ_n² − min)]`.
    pub(crate) fn to_vec(&self) -> Vec<f64> {
        let mut v = self.log_ls.clone();
        v.push(self.log_signal);
        v.push(self.log_noise);
        v
    }

    /// From [`GpParams::to_vec`]'s layout.
    pub(crate) fn from_slice(v: &[f64]) -> Self {
        let d = v.len() - 2;
        Self {
            log_ls: v[..d].to_vec(),
            log_signal: v[d],
            log_noise: v[d + 1],
        }
    }
}

/// A GP posterior for fixed hyperparameters.
#[derive(Debug, Clone)]
pub struct Gp {
    x: Vec<Vec<f64>>,
    params: GpParams,
    kernel: Matern52,
    /// Standardization: `y = shift + scale · z`.
    shift: f64,
    scale: f64,
    /// Constant mean in standardized units.
    mean: f64,
    /// Lower Cholesky factor of `K + σ_n² I` (plus jitter).
    chol: DMatrix<f64>,
    /// Standardized targets.
    z: Vec<f64>,
    /// `K⁻¹ (z − m)`.
    alpha: DVector<f64>,
    /// How many of the last observations are noise-free fantasies.
    exact: usize,
}

/// `(shift, scale)` that standardize `y` (scale 1 for constant data).
pub(crate) fn standardization(y: &[f64]) -> (f64, f64) {
    let n = y.len().max(1) as f64;
    let shift = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - shift).powi(2)).sum::<f64>() / n;
    let scale = var.sqrt();
    let tiny = 1e-12 * shift.abs().max(1.0);
    (shift, if scale > tiny { scale } else { 1.0 })
}

/// The kernel matrix `K + σ_n² I` of `x`.
pub(crate) fn kernel_matrix(x: &[Vec<f64>], kernel: &Matern52, noise: f64) -> DMatrix<f64> {
    let n = x.len();
    let mut k = DMatrix::zeros(n, n);
    for i in 0..n {
        k[(i, i)] = kernel.signal + noise;
        for j in 0..i {
            let v = kernel.k(&x[i], &x[j]);
            k[(i, j)] = v;
            k[(j, i)] = v;
        }
    }
    k
}

/// Lower Cholesky factor of `k`, adding jitter to the diagonal if needed (module docs).
pub(crate) fn cholesky_with_jitter(mut k: DMatrix<f64>, signal: f64) -> Option<DMatrix<f64>> {
    let mut added = 0.0;
    for e in [0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2] {
        let jitter = e * signal;
        for i in 0..k.nrows() {
            k[(i, i)] += jitter - added;
        }
        added = jitter;
        if let Some(c) = k.clone().cholesky() {
            return Some(c.unpack());
        }
    }
    None
}

/// `1ᵀK⁻¹z / 1ᵀK⁻¹1` given the Cholesky factor `l` of `K` (0 when undefined).
fn gls_mean(l: &DMatrix<f64>, z: &DVector<f64>) -> f64 {
    let ones = DVector::from_element(z.len(), 1.0);
    let solve = |b: &DVector<f64>| {
        let y = l.solve_lower_triangular(b)?;
        l.tr_solve_lower_triangular(&y)
    };
    match (solve(z), solve(&ones)) {
        (Some(a), Some(b)) if b.sum().abs() > 0.0 => {
            let m = a.sum() / b.sum();
            if m.is_finite() {
                m
            } else {
                0.0
            }
        }
        _ => 0.0,
    }
}

impl Gp {
    /// The posterior of observations `(x, y)` (x in the unit box) under `params`; `None` if
    /// the kernel matrix cannot be factorized even with jitter or `x` is empty.
    pub fn new(x: Vec<Vec<f64>>, y: &[f64], params: GpParams) -> Option<Self> {
        if x.is_empty() || x.len() != y.len() {
            return None;
        }
        let (shift, scale) = standardization(y);
        let z: Vec<f64> = y.iter().map(|v| (v - shift) / scale).collect();
        Self::standardized(x, &z, params, (shift, scale), None, 0)
    }

    /// The posterior of standardized targets `z`; the constant mean is `mean` or, if `None`,
    /// the GLS estimate.
    /// The last `exact` observations are noise-free (fantasies, see [`Gp::believe`]).
    fn standardized(
        x: Vec<Vec<f64>>,
        z: &[f64],
        params: GpParams,
        (shift, scale): (f64, f64),
        mean: Option<f64>,
        exact: usize,
    ) -> Option<Self> {
        let kernel = params.kernel();
        let noise = params.noise();
        let mut k = kernel_matrix(&x, &kernel, noise);
        let n = x.len();
        for i in n.saturating_sub(exact)..n {
            k[(i, i)] -= noise - MIN_NOISE;
        }
        let chol = cholesky_with_jitter(k, kernel.signal)?;
        let zv = DVector::from_column_slice(z);
        let mean = mean.unwrap_or_else(|| gls_mean(&chol, &zv));
        let r = zv.add_scalar(-mean);
        let alpha = chol
            .solve_lower_triangular(&r)
            .and_then(|y| chol.tr_solve_lower_triangular(&y))?;
        Some(Self {
            x,
            params,
            kernel,
            shift,
            scale,
            mean,
            chol,
            z: z.to_vec(),
            alpha,
            exact,
        })
    }

    /// This posterior conditioned on noise-free extra observations at `xs` equal to its own
    /// posterior mean there (the kriging believer of Ginsbourger et al. 2010): the mean is
    /// unchanged, the variance collapses to ~0 at `xs` (noise-free, or a fitted noise would
    /// leave most of it), so the next maximizer of an acquisition function looks elsewhere.
    /// Hyperparameters, standardization and constant mean are kept.
    pub fn believe(&self, xs: &[Vec<f64>]) -> Option<Self> {
        if xs.is_empty() {
            return Some(self.clone());
        }
        let means: Vec<f64> = xs.iter().map(|p| self.predict(p).0).collect();
        self.with_observations(xs, &means)
    }

    /// This posterior with noise-free extra observations `(xs, ys)` in original units,
    /// keeping the hyperparameters, standardization and constant mean (the constant liar of
    /// Ginsbourger et al. 2010 when `ys` are all one value).
    pub fn with_observations(&self, xs: &[Vec<f64>], ys: &[f64]) -> Option<Self> {
        let mut z = self.z.clone();
        let mut x = self.x.clone();
        for (p, y) in xs.iter().zip(ys) {
            z.push((y - self.shift) / self.scale);
            x.push(p.clone());
        }
        let exact = self.exact + xs.len();
        Self::standardized(
            x,
            &z,
            self.params.clone(),
            (self.shift, self.scale),
            Some(self.mean),
            exact,
        )
    }

    /// The fitted hyperparameters.
    pub fn params(&self) -> &GpParams {
        &self.params
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are no observations (never true for a built GP).
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Posterior mean and latent variance at `x`, in the original units of `y`.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let k = DVector::from_iterator(self.x.len(), self.x.iter().map(|xi| self.kernel.k(x, xi)));
        let mu = self.mean + k.dot(&self.alpha);
        let var = match self.chol.solve_lower_triangular(&k) {
            Some(v) => self.kernel.signal - v.norm_squared(),
            None => 0.0,
        };
        let var = var.max(VAR_FLOOR * self.kernel.signal);
        (self.shift + self.scale * mu, self.scale * self.scale * var)
    }

    /// Posterior mean and latent variance at `x` with their gradients in `x`:
    /// `∇μ = Σ_i α_i ∇k_i`, `∇σ² = −2 Σ_i (K⁻¹k)_i ∇k_i` (R&W eq. 2.25–2.26 differentiated).
    pub fn predict_grad(&self, x: &[f64]) -> Prediction {
        let d = x.len();
        let k = DVector::from_iterator(self.x.len(), self.x.iter().map(|xi| self.kernel.k(x, xi)));
        let mut dmean = vec![0.0; d];
        let mut dvar = vec![0.0; d];
        let v = self.chol.solve_lower_triangular(&k);
        let w = v
            .as_ref()
            .and_then(|v| self.chol.tr_solve_lower_triangular(v));
        let raw_var = v
            .as_ref()
            .map_or(0.0, |v| self.kernel.signal - v.norm_squared());
        let floored = raw_var <= VAR_FLOOR * self.kernel.signal;
        for (i, xi) in self.x.iter().enumerate() {
            self.kernel.k_and_grad(x, xi, self.alpha[i], &mut dmean);
            if let (Some(w), false) = (&w, floored) {
                self.kernel.k_and_grad(x, xi, -2.0 * w[i], &mut dvar);
            }
        }
        let s2 = self.scale * self.scale;
        dmean.iter_mut().for_each(|g| *g *= self.scale);
        dvar.iter_mut().for_each(|g| *g *= s2);
        Prediction {
            mean: self.shift + self.scale * (self.mean + k.dot(&self.alpha)),
            var: s2 * raw_var.max(VAR_FLOOR * self.kernel.signal),
            dmean,
            dvar,
        }
    }
}

/// A posterior prediction with gradients (see [`Gp::predict_grad`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Posterior mean.
    pub mean: f64,
    /// Latent posterior variance (floored just above 0).
    pub var: f64,
    /// `∇ mean`.
    pub dmean: Vec<f64>,
    /// `∇ var` (0 where the floor is active).
    pub dvar: Vec<f64>,
}
