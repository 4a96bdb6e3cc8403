//! Strategy parameters of one CMA-ES run: recombination weights and learning rates for
//! dimension `n` and population `λ`.
//!
//! Equation numbers refer to N. Hansen, "The CMA Evolution Strategy: A Tutorial",
//! arXiv:1604.00772. Two parameter sets:
//!
//! - **Active** (the default): the tutorial's weights with negative values for the worst
//!   `λ − μ` offspring (eq. 49–53; active CMA, Jastrebski & Arnold 2006), with the learning
//!   rates pycma uses alongside them (pycma's default `CMA_active=True`): `c1 = min(1, λ/6) ·
//!   2/((n+1.3)² + μeff)` and `cμ = min(1 − c1, 2 (1/4 + μeff − 2 + 1/μeff)/((n+2)² + μeff))`
//!   (`cma/interfaces.py`, `parameters`; the 1/4 is pycma's `rankmu_offset`), and
//!   `cσ = (μeff + 2)/(n + μeff + 3)` (`cma/sigma_adaptation.py`, `CMAAdaptSigmaCSA`). `cc`
//!   and `dσ` are the tutorial's eq. 55–56, which pycma shares (its `dσ` has an extra term
//!   only with mirrored sampling, used for `λ < 6`). C is decomposed as often as pycma does
//!   ([`Params::eigen_gap`]): with negative weights, Mahalanobis lengths measured against a
//!   stale decomposition let C lose positive definiteness (seen as cond(C) > 1e14 stops on
//!   2-d Rastrigin with the old cadence).
//! - **Positive only**: the tutorial's Table 1 with positive weights only (`α_cov = 2`,
//!   eq. 55–58). This is the strategy from before active CMA; snapshots written then carry
//!   no negative weights and resume with exactly these numbers.
//!
//! ## References
//!
//! - G. A. Jastrebski, D. V. Arnold, "Improving Evolution Strategies through Active
//!   Covariance Matrix Adaptation", IEEE CEC 2006.
//! - N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772, eq. 49–58.
//! - N. Hansen et al., pycma 4.x (`cma/recombination_weights.py`, `RecombinationWeights.
//!   finalize_negative_weights`; `cma/options_parameters.py`, `CMAParameters`).

use serde::{Deserialize, Serialize};

/// Strategy parameters for dimension `n` and population `λ`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Params {
    pub lambda: usize,
    pub mu: usize,
    /// Positive recombination weights `w_1 ≥ … ≥ w_μ > 0`, summing to 1 (eq. 49, 53).
    pub weights: Vec<f64>,
    /// The active parameter set (module docs); `false` in snapshots written before active
    /// CMA.
    #[serde(default)]
    pub active: bool,
    /// Weights `0 ≥ w_{μ+1} ≥ … ≥ w_λ` of the worst `λ − μ` offspring in the covariance
    /// update (eq. 53); empty for the positive-only strategy (and in snapshots written before
    /// active CMA).
    #[serde(default)]
    pub neg_weights: Vec<f64>,
    /// `μeff = 1 / Σ w_i²` over the positive weights.
    pub mueff: f64,
    pub cc: f64,
    pub cs: f64,
    pub c1: f64,
    pub cmu: f64,
    pub damps: f64,
    /// `E‖N(0, I)‖ ≈ √n (1 − 1/(4n) + 1/(21n²))`.
    pub chi_n: f64,
}

/// Raw weights `w'_i = ln((λ+1)/2) − ln i`, `i = 1..=λ` (eq. 49): positive for `i ≤ ⌊λ/2⌋`.
fn raw_weights(lambda: usize) -> Vec<f64> {
    (1..=lambda)
        .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
        .collect()
}

impl Params {
    /// Parameters for dimension `n`, population `lambda`, with negative weights (`active`)
    /// or positive weights only (module docs).
    pub fn new(n: usize, lambda: usize, active: bool) -> Self {
        let nf = n as f64;
        let mu = lambda / 2;
        let raw = raw_weights(lambda);
        let sum: f64 = raw[..mu].iter().sum();
        let weights: Vec<f64> = raw[..mu].iter().map(|w| w / sum).collect();
        let mueff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let cc = (4.0 + mueff / nf) / (nf + 4.0 + 2.0 * mueff / nf); // eq. (56)
        let chi_n = nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf));
        let damps_from =
            |cs: f64| 1.0 + 2.0 * (((mueff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + cs; // (55)
        if !active {
            let cs = (mueff + 2.0) / (nf + mueff + 5.0); // eq. (55)
            let c1 = 2.0 / ((nf + 1.3).powi(2) + mueff); // eq. (57), α_cov = 2
            let cmu =
                (1.0 - c1).min(2.0 * (mueff - 2.0 + 1.0 / mueff) / ((nf + 2.0).powi(2) + mueff)); // (58)
            return Self {
                lambda,
                mu,
                weights,
                active: false,
                neg_weights: Vec::new(),
                mueff,
                cc,
                cs,
                c1,
                cmu,
                damps: damps_from(cs),
                chi_n,
            };
        }
        // pycma's learning rates (module docs).
        let cs = (mueff + 2.0) / (nf + mueff + 3.0);
        let c1 = (lambda as f64 / 6.0).min(1.0) * 2.0 / ((nf + 1.3).powi(2) + mueff);
        let cmu =
            (1.0 - c1).min(2.0 * (0.25 + mueff - 2.0 + 1.0 / mueff) / ((nf + 2.0).powi(2) + mueff));
        let neg_weights = negative_weights(&raw[mu..], n, mueff, c1, cmu);
        Self {
            lambda,
            mu,
            weights,
            active: true,
            neg_weights,
            mueff,
            cc,
            cs,
            c1,
            cmu,
            damps: damps_from(cs),
            chi_n,
        }
    }

    /// Generations between eigendecompositions of C (at least this many). Active: the
    /// tutorial's Appendix C code, `λ / ((c1 + cμ) n 10)` evaluations, i.e.
    /// `1 / ((c1 + cμ) n 10)` generations, as pycma's `lazy_update_gap` (every generation
    /// in small dimensions, so the Mahalanobis lengths of eq. 46 are measured against the C
    /// being updated). Positive only: the `λ`-times lazier cadence this crate used before
    /// active CMA, kept so old snapshots resume exactly.
    pub fn eigen_gap(&self, n: usize) -> f64 {
        let rate = (self.c1 + self.cmu) * n as f64 * 10.0;
        if self.active {
            1.0 / rate
        } else {
            self.lambda as f64 / rate
        }
    }
}

/// Scales the non-positive raw weights `raw` (ranks `μ+1..λ`) so that they sum to
/// `−min(α_μ⁻, α_μeff⁻, α_posdef⁻)` (eq. 53):
/// `α_μ⁻ = 1 + c1/cμ` (eq. 50: no decay of C in the update),
/// `α_μeff⁻ = 1 + 2 μeff⁻/(μeff + 2)` (eq. 51), `μeff⁻ = (Σ w'_i)² / Σ w'_i²` over `raw`, and
/// `α_posdef⁻ = (1 − c1 − cμ)/(n cμ)` (eq. 52: C stays positive definite when every
/// negatively weighted step has squared Mahalanobis length `n`, which eq. 46 ensures).
fn negative_weights(raw: &[f64], n: usize, mueff: f64, c1: f64, cmu: f64) -> Vec<f64> {
    let neg_sum: f64 = raw.iter().map(|w| -w).sum();
    if raw.is_empty() || neg_sum <= 0.0 || cmu <= 0.0 {
        return vec![0.0; raw.len()];
    }
    let mueff_minus = neg_sum * neg_sum / raw.iter().map(|w| w * w).sum::<f64>();
    let alpha_mu = 1.0 + c1 / cmu;
    let alpha_mueff = 1.0 + 2.0 * mueff_minus / (mueff + 2.0);
    let alpha_posdef = ((1.0 - c1 - cmu) / (n as f64 * cmu)).max(0.0);
    let alpha = alpha_mu.min(alpha_mueff).min(alpha_posdef);
    raw.iter().map(|w| alpha * w / neg_sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_weights_match_pycma_for_n_20_lambda_12() {
        // pycma's own doctest (`cma/options_parameters.py`, `CMAParameters`: `cma.
        // CMAEvolutionStrategy(20 * [0.1], 1).sp.disp()`, pycma 4.x) prints these, to the
        // digits given there.
        let p = Params::new(20, 12, true);
        let pycma = [
            0.4024029428,
            0.2533890840,
            0.1662215645,
            0.1043752252,
            0.05640347757,
            0.01720770576,
            -0.05018713636,
            -0.1406167894,
            -0.2203813963,
            -0.2917332686,
            -0.3562788884,
            -0.4152044225,
        ];
        let ours: Vec<f64> = p.weights.iter().chain(&p.neg_weights).cloned().collect();
        assert_eq!(ours.len(), 12);
        for (o, t) in ours.iter().zip(pycma) {
            assert!((o - t).abs() < 1e-9, "{ours:?}");
        }
        assert!((p.c1 - 0.00437235).abs() < 1e-8, "{}", p.c1);
        assert!((p.cmu - 0.00921656).abs() < 1e-8, "{}", p.cmu);
        assert!((p.cc - 0.171767).abs() < 1e-6, "{}", p.cc);
    }

    #[test]
    fn negative_weights_sum_to_minus_the_smallest_alpha() {
        // n = 10, λ = 10 (the default 4 + ⌊3 ln 10⌋): the tutorial's eq. 49–53, recomputed
        // here step by step from the formulas (not from `Params`).
        let (n, lambda) = (10.0_f64, 10usize);
        let raw: Vec<f64> = (1..=lambda)
            .map(|i| (5.5_f64).ln() - (i as f64).ln())
            .collect();
        let pos_sum: f64 = raw[..5].iter().sum();
        let mueff = pos_sum.powi(2) / raw[..5].iter().map(|w| w * w).sum::<f64>();
        let neg_sum: f64 = -raw[5..].iter().sum::<f64>();
        let mueff_minus = neg_sum.powi(2) / raw[5..].iter().map(|w| w * w).sum::<f64>();
        let c1 = 2.0 / ((n + 1.3).powi(2) + mueff);
        let cmu = 2.0 * (0.25 + mueff - 2.0 + 1.0 / mueff) / ((n + 2.0).powi(2) + mueff);
        let alpha_mu = 1.0 + c1 / cmu;
        let alpha_mueff = 1.0 + 2.0 * mueff_minus / (mueff + 2.0);
        let alpha_posdef = (1.0 - c1 - cmu) / (n * cmu);
        // With the default λ the binding limit is α_μ⁻ (no decay), as pycma's docstring of
        // `finalize_negative_weights` says ("the latter two conditions do not change the
        // weights with default population size").
        assert!(alpha_mu < alpha_mueff && alpha_mu < alpha_posdef);

        let p = Params::new(10, lambda, true);
        assert_eq!((p.mu, p.weights.len(), p.neg_weights.len()), (5, 5, 5));
        assert!((p.mueff - mueff).abs() < 1e-12);
        let sum_neg: f64 = p.neg_weights.iter().sum();
        assert!(
            (sum_neg + alpha_mu).abs() < 1e-12,
            "{sum_neg} vs −{alpha_mu}"
        );
        // Hence the decay factor 1 − c1 − cμ Σ w_j of eq. 47 is exactly 1.
        let sum_all: f64 = p.weights.iter().sum::<f64>() + sum_neg;
        assert!((1.0 - p.c1 - p.cmu * sum_all - 1.0).abs() < 1e-15);
        // Same shape as the raw weights: w_i / w'_i is one constant over the negative ranks.
        let k = p.neg_weights[0] / raw[5];
        for (w, r) in p.neg_weights.iter().zip(&raw[5..]) {
            assert!((w / r - k).abs() < 1e-12);
        }
        assert!((k - alpha_mu / neg_sum).abs() < 1e-12);
    }

    #[test]
    fn a_large_population_is_limited_by_positive_definiteness() {
        // n = 2, λ = 40: cμ ≈ 0.67 is large and α_posdef⁻ = (1 − c1 − cμ)/(n cμ) ≈ 0.18 binds.
        let p = Params::new(2, 40, true);
        let alpha_posdef = (1.0 - p.c1 - p.cmu) / (2.0 * p.cmu);
        assert!(alpha_posdef > 0.1 && alpha_posdef < 1.0 + p.c1 / p.cmu);
        let sum_neg: f64 = p.neg_weights.iter().sum();
        assert!(
            (sum_neg + alpha_posdef).abs() < 1e-12,
            "{sum_neg} vs −{alpha_posdef}"
        );
    }

    #[test]
    fn odd_lambda_gives_the_middle_rank_weight_zero() {
        // λ = 7: w'_4 = ln 4 − ln 4 = 0; pycma counts it with the negative weights.
        let p = Params::new(5, 7, true);
        assert_eq!((p.mu, p.neg_weights.len()), (3, 4));
        assert_eq!(p.neg_weights[0], 0.0);
        assert!(p.neg_weights[1..].iter().all(|w| *w < 0.0));
    }

    #[test]
    fn positive_only_has_no_negative_weights() {
        let p = Params::new(10, 10, false);
        assert!(!p.active && p.neg_weights.is_empty());
        assert!((p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }
}
