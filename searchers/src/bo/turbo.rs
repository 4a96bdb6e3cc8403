//! TuRBO-1: one trust region around the incumbent, for BO in high dimension.
//!
//! A global GP model over 100+ merge genes needs far more data than a study has; inside a
//! small box around the best point the model is accurate and EI is maximized where it
//! matters (Eriksson et al. 2019). The box is a hyperrectangle centred at the best
//! observation of the current epoch, with side `L · λ_i / (Π_j λ_j)^{1/d}` along input `i`
//! (`λ` the GP's length scales, so the box is longer along directions the objective varies
//! slowly in), clipped to the unit cube.
//!
//! - `L` starts at 0.8, doubles (up to 1.6) after 3 consecutive successes and halves after
//!   `max(4, d)` consecutive failures (the paper's `τ_succ = 3`, `τ_fail = ⌈max(4/q, d/q)⌉`
//!   with batch size `q = 1`: every tell counts as one batch here). A success is a scored,
//!   feasible trial better than the incumbent by more than `10⁻³·|incumbent|`.
//! - When `L` falls below `0.5⁷` the region restarts: a new epoch with a fresh Sobol design;
//!   the GP forgets the old epoch's observations.
//!
//! ## References
//!
//! - D. Eriksson, M. Pearce, J. Gardner, R. Turner, M. Poloczek, "Scalable Global
//!   Optimization via Local Bayesian Optimization", NeurIPS 2019, §2–3 (TuRBO-1).

use serde::{Deserialize, Serialize};

use crate::acquisition::Region;

/// Initial side length.
const L_INIT: f64 = 0.8;
/// Largest side length.
const L_MAX: f64 = 1.6;
/// A region this small restarts.
const L_MIN: f64 = 0.0078125; // 0.5^7
/// Consecutive successes that double the side.
const SUCC_TOL: u32 = 3;

/// Trust-region state (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrustRegion {
    /// Side length `L` (unit-cube units).
    pub length: f64,
    successes: u32,
    failures: u32,
    /// Consecutive failures that halve the side: `max(4, d)`.
    fail_tol: u32,
    /// Best feasible target of the current epoch.
    incumbent: Option<f64>,
}

impl TrustRegion {
    /// A fresh region for dimension `d`.
    pub fn new(d: usize) -> Self {
        Self {
            length: L_INIT,
            successes: 0,
            failures: 0,
            fail_tol: (d as u32).max(4),
            incumbent: None,
        }
    }

    /// Records a told trial's target (`None` if failed or infeasible); returns `true` when
    /// the region collapsed and must restart (the caller starts a new epoch).
    pub fn record(&mut self, target: Option<f64>) -> bool {
        let improved = match (target, self.incumbent) {
            (Some(y), Some(best)) => y < best - 1e-3 * best.abs(),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if let Some(y) = target {
            self.incumbent = Some(self.incumbent.map_or(y, |b| b.min(y)));
        }
        if improved {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        if self.successes >= SUCC_TOL {
            self.length = (2.0 * self.length).min(L_MAX);
            self.successes = 0;
        } else if self.failures >= self.fail_tol {
            self.length /= 2.0;
            self.failures = 0;
        }
        if self.length < L_MIN {
            *self = Self {
                fail_tol: self.fail_tol,
                ..Self::new(1)
            };
            return true;
        }
        false
    }

    /// The box around `center` for GP length scales `ls` (module docs).
    pub fn region(&self, center: &[f64], ls: &[f64]) -> Region {
        let d = ls.len() as f64;
        let geo = (ls.iter().map(|l| l.ln()).sum::<f64>() / d).exp();
        let (lo, hi) = center
            .iter()
            .zip(ls)
            .map(|(c, l)| {
                let half = 0.5 * self.length * l / geo;
                ((c - half).max(0.0), (c + half).min(1.0))
            })
            .unzip();
        Region { lo, hi }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_shrinks_and_restarts_as_in_the_paper() {
        let mut t = TrustRegion::new(2);
        // First scored trial sets the incumbent (a success), two more improvements → doubled.
        assert!(!t.record(Some(10.0)));
        assert!(!t.record(Some(9.0)));
        assert!(!t.record(Some(8.0)));
        assert_eq!(t.length, 1.6);
        // fail_tol = max(4, 2) = 4 failures halve it; 0.8·0.5^k < 0.5^7 after 8 halvings
        // from 1.6 (1.6 / 2^8 = 0.00625).
        let mut restarted = false;
        for k in 0..32 {
            restarted = t.record(Some(8.0));
            if restarted {
                assert_eq!(k, 31, "restart after 8 halvings of 4 failures");
            }
        }
        assert!(restarted);
        assert_eq!(t.length, 0.8);
    }

    #[test]
    fn region_follows_length_scales_and_stays_in_the_cube() {
        let t = TrustRegion::new(2);
        // ls = (1, 4): geometric mean 2 → half-sides 0.8·(1/2)/2 = 0.2 and 0.8·(4/2)/2 = 0.8.
        let r = t.region(&[0.5, 0.5], &[1.0, 4.0]);
        assert!((r.lo[0] - 0.3).abs() < 1e-12 && (r.hi[0] - 0.7).abs() < 1e-12);
        assert_eq!((r.lo[1], r.hi[1]), (0.0, 1.0));
    }
}
