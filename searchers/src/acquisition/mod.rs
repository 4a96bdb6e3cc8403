//! Acquisition functions over GP predictions (all *maximized*, all for a *minimized*
//! target), and their maximization inside a box ([`maximize`]).
//!
//! - **log expected improvement** ([`log_ei`]): `ln EI = ln σ + ln h(z)`,
//!   `z = (f* − μ)/σ`, `h(z) = φ(z) + zΦ(z)`, with `ln h` computed stably
//!   ([`crate::normal::log_h`]) so the landscape stays informative where EI itself underflows
//!   (Ament et al. 2023). Its gradient uses `h'(z) = Φ(z)`.
//! - **lower confidence bound** ([`ucb`]): `−(μ − √β σ)` (Srinivas et al. 2010 for
//!   maximization; negated here since the target is minimized).
//! - **probability of feasibility** ([`log_pof`]): `ln Φ(−μ_c/σ_c)` for a constraint `c ≤ 0`
//!   modelled by its own GP; it is added to the log acquisition (i.e. multiplies EI; Gardner
//!   et al. 2014, Gelbart et al. 2014).
//!
//! ## References
//!
//! - D. R. Jones, M. Schonlau, W. J. Welch, "Efficient Global Optimization of Expensive
//!   Black-Box Functions", J. Global Optim. 13:455–492, 1998 (EI, eq. 15).
//! - S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy, "Unexpected Improvements to
//!   Expected Improvement for Bayesian Optimization", NeurIPS 2023 (logEI).
//! - N. Srinivas, A. Krause, S. Kakade, M. Seeger, "Gaussian Process Optimization in the
//!   Bandit Setting", ICML 2010 (GP-UCB).
//! - J. Gardner, M. Kusner, Z. Xu, K. Weinberger, J. Cunningham, "Bayesian Optimization with
//!   Inequality Constraints", ICML 2014 (EI × probability of feasibility).

pub mod optimize;

pub use optimize::{maximize, Region};

use crate::gp::Prediction;
use crate::normal;

/// `ln √(2π)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `σ` and `∇σ` from a prediction's variance and its gradient.
fn sigma(p: &Prediction) -> (f64, Vec<f64>) {
    let s = p.var.sqrt();
    (s, p.dvar.iter().map(|g| g / (2.0 * s)).collect())
}

/// `ln EI` of a prediction below the incumbent `best` (minimization), with its gradient.
pub fn log_ei(p: &Prediction, best: f64) -> (f64, Vec<f64>) {
    let (s, ds) = sigma(p);
    let z = (best - p.mean) / s;
    let value = s.ln() + normal::log_h(z);
    // d ln h / dz = Φ(z)/h(z), in logs so it stays finite in the far tail.
    let dlh = (normal::log_cdf(z) - normal::log_h(z)).exp();
    let grad = p
        .dmean
        .iter()
        .zip(&ds)
        .map(|(dm, dsd)| dsd / s + dlh * (-dm - z * dsd) / s)
        .collect();
    (value, grad)
}

/// `−(μ − √β σ)`, the negated lower confidence bound, with its gradient.
pub fn ucb(p: &Prediction, beta: f64) -> (f64, Vec<f64>) {
    let (s, ds) = sigma(p);
    let b = beta.sqrt();
    let grad = p
        .dmean
        .iter()
        .zip(&ds)
        .map(|(dm, dsd)| -dm + b * dsd)
        .collect();
    (-(p.mean - b * s), grad)
}

/// `ln P(c ≤ 0) = ln Φ(−μ/σ)` of a constraint prediction, with its gradient.
pub fn log_pof(p: &Prediction) -> (f64, Vec<f64>) {
    let (s, ds) = sigma(p);
    let z = -p.mean / s;
    let value = normal::log_cdf(z);
    // d ln Φ / dz = φ(z)/Φ(z).
    let ratio = (-0.5 * z * z - LN_SQRT_2PI - value).exp();
    let grad = p
        .dmean
        .iter()
        .zip(&ds)
        .map(|(dm, dsd)| ratio * (-dm - z * dsd) / s)
        .collect();
    (value, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(mean: f64, var: f64, dmean: Vec<f64>, dvar: Vec<f64>) -> Prediction {
        Prediction {
            mean,
            var,
            dmean,
            dvar,
        }
    }

    #[test]
    fn log_ei_is_the_log_of_jones_ei() {
        // EI = (f* − μ)Φ(z) + σφ(z) (Jones et al. 1998, eq. 15): μ = 0.3, σ = 0.5, f* = 0.
        // z = −0.6, Φ(−0.6) = 0.2742531177, φ(−0.6) = 0.3332246029 (standard tables) →
        // EI = −0.3·0.2742531177 + 0.5·0.3332246029 = 0.0843363661.
        let (v, _) = log_ei(&pred(0.3, 0.25, vec![0.0], vec![0.0]), 0.0);
        assert!((v.exp() - 0.084_336_366_1).abs() < 1e-9, "{}", v.exp());
        // Far below the incumbent's reach EI underflows, log EI does not.
        let (v, _) = log_ei(&pred(50.0, 1e-2, vec![0.0], vec![0.0]), 0.0);
        assert!(v.is_finite() && v < -1000.0, "{v}");
    }

    /// Gradients in x through a prediction that depends linearly on x: μ = a·x, σ² = b·x + c.
    fn check_chain(f: impl Fn(&Prediction) -> (f64, Vec<f64>)) {
        let at = |x: f64| pred(0.4 * x - 0.1, 0.3 * x + 0.05, vec![0.4], vec![0.3]);
        for x in [0.1, 0.6, 2.0, 9.0] {
            let h = 1e-6;
            let fd = (f(&at(x + h)).0 - f(&at(x - h)).0) / (2.0 * h);
            let g = f(&at(x)).1[0];
            assert!(
                (fd - g).abs() < 1e-6 * (1.0 + g.abs()),
                "x = {x}: {fd} vs {g}"
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_chain(|p| log_ei(p, 0.0));
        check_chain(|p| ucb(p, 2.0));
        check_chain(log_pof);
    }
}
