//! Expected hypervolume improvement (EHVI) of a Gaussian prediction over a Pareto front, and
//! its logarithm, for multi-objective Bayesian optimization.
//!
//! Every objective is **minimized**, as everywhere in this crate. A candidate's objectives are
//! predicted as independent Gaussians `Yⱼ ~ N(μⱼ, σⱼ²)`; the front `P` (points of length `m`)
//! and the reference point `r` fix the region a new point can still claim. The hypervolume
//! improvement of a point `y` is `HVI(y) = HV(P ∪ {y}) − HV(P)` (see
//! [`crate::pareto::hypervolume`]), and `EHVI = E[HVI(Y)]`.
//!
//! How it is computed: the part of the reference box that `P` does not dominate is cut once
//! into disjoint axis-aligned boxes ([`nondominated_boxes`]); `HVI(y)` is then the volume of
//! `[y, ∞)` inside those boxes ([`hvi`]). Because the boxes are disjoint and the objectives
//! independent, `EHVI = Σ_boxes Πⱼ E[(uⱼ − max(Yⱼ, lⱼ))⁺]`, and each factor has a closed form
//! in the normal kernel `h(z) = φ(z) + zΦ(z)` (see [`crate::normal`]):
//! `E[(u − max(Y, l))⁺] = σ·(h((u − μ)/σ) − h((l − μ)/σ))`. So EHVI is exact for any `m`
//! ([`ehvi`], [`log_ehvi`]); for two objectives the boxes are the vertical strips under the
//! staircase and [`ehvi_2d`] builds them directly in `O(n log n)`. [`ehvi_mc`] is the plain
//! Monte Carlo average of `HVI(μ + σ∘z)` over given standard-normal samples (quasi-random ones
//! from [`normal_qmc_samples`]): the estimator to use once the predictions are correlated,
//! and a cross-check of the closed form here.
//!
//! Far from the front EHVI underflows to 0 (a product of `m` Gaussian tails); the log forms
//! add the logs of the factors, each from [`crate::normal::log_h`], and log-sum-exp the boxes,
//! so they stay finite and keep ranking such points (Ament et al. 2023's argument for logEI,
//! and what Optuna's GPSampler optimizes for several objectives).
//!
//! Input convention (as in [`crate::pareto`]): front points, `mu`, `sigma` and `reference`
//! have the same length `m ≥ 1`; mixing lengths is a caller bug (debug assertions only). Front
//! points with a coordinate that is NaN or infinite, or not strictly below `reference` in every
//! objective, add nothing and are ignored. A NaN or negative `sigma` gives NaN; `σⱼ = 0` is a
//! point prediction in that objective.
//!
//! ## References
//! - M. T. M. Emmerich, K. C. Giannakoglou, B. Naujoks, "Single- and multiobjective
//!   evolutionary optimization assisted by Gaussian random field metamodels", IEEE Trans.
//!   Evol. Comput. 10(4):421–439, 2006 (EHVI as the expected hypervolume improvement).
//! - M. T. M. Emmerich, A. H. Deutz, J. W. Klinkenberg, "Hypervolume-based expected
//!   improvement: monotonicity properties and exact computation", IEEE CEC 2011 (the exact
//!   2-objective EHVI over the strips of the non-dominated region, with
//!   `ψ(a, b, μ, σ) = σφ((b − μ)/σ) + (a − μ)Φ((b − μ)/σ)`; our factor
//!   `σ(h((u − μ)/σ) − h((l − μ)/σ))` is `(u − l)Φ((l − μ)/σ) + ψ(u, u) − ψ(u, l)` in their
//!   notation).
//! - I. Couckuyt, D. Deschrijver, T. Dhaene, "Fast calculation of multiobjective probability
//!   of improvement and expected improvement criteria for Pareto optimization", J. Global
//!   Optim. 60(3):575–594, 2014 (EHVI as a sum over cells of the non-dominated region).
//! - K. Yang, M. Emmerich, A. Deutz, T. Bäck, "Efficient computation of expected hypervolume
//!   improvement using box decomposition algorithms", J. Global Optim. 75:3–34, 2019 (Sec. 3:
//!   with independent objectives, EHVI is the sum over disjoint boxes of products of
//!   one-dimensional expectations).
//! - S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy, "Unexpected Improvements to
//!   Expected Improvement for Bayesian Optimization", NeurIPS 2023 (log-EI, eq. (9)).
//! - S. Daulton, M. Balandat, E. Bakshy, "Differentiable Expected Hypervolume Improvement for
//!   Parallel Multi-Objective Bayesian Optimization", NeurIPS 2020 (Monte Carlo EHVI over a
//!   box decomposition with quasi-random normal samples).

mod boxes;
mod exact;
mod mc;

pub use boxes::{hvi, nondominated_boxes, AxisBox};
pub use exact::{ehvi, ehvi_2d, log_ehvi, log_ehvi_2d};
pub use mc::{ehvi_mc, ehvi_mc_boxes, log_ehvi_mc, normal_qmc_samples};
