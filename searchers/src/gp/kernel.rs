//! The Matérn-5/2 kernel with one length scale per input (ARD).
//!
//! `k(a, b) = s² · M(r)`, `r² = Σ_k (a_k − b_k)² / ℓ_k²`,
//! `M(r) = (1 + √5 r + 5r²/3) · exp(−√5 r)` (Rasmussen & Williams 2006, eq. 4.17 with ν = 5/2).
//! Its derivative is `M'(r) = −(5/3) r (1 + √5 r) exp(−√5 r)`, so `M'(r)/r` has no
//! singularity at `r = 0`: every gradient below is written with [`neg_dm_over_r`].
//!
//! ## References
//!
//! - C. E. Rasmussen, C. K. I. Williams, "Gaussian Processes for Machine Learning", MIT Press,
//!   2006, §4.2.1.

use serde::{Deserialize, Serialize};

const SQRT5: f64 = 2.236_067_977_499_79;

/// `M(r)`, the Matérn-5/2 correlation at scaled distance `r ≥ 0`.
pub fn matern52(r: f64) -> f64 {
    (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * (-SQRT5 * r).exp()
}

/// `−M'(r) / r = (5/3)(1 + √5 r) exp(−√5 r)`, finite at `r = 0`.
pub fn neg_dm_over_r(r: f64) -> f64 {
    5.0 / 3.0 * (1.0 + SQRT5 * r) * (-SQRT5 * r).exp()
}

/// A Matérn-5/2 ARD kernel: signal variance `s²` and inverse squared length scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matern52 {
    /// `1 / ℓ_k²` per input.
    pub inv_ls2: Vec<f64>,
    /// Signal variance `s²`.
    pub signal: f64,
}

impl Matern52 {
    /// Squared scaled distance `r²` between `a` and `b`.
    pub fn r2(&self, a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .zip(&self.inv_ls2)
            .map(|((x, y), w)| (x - y) * (x - y) * w)
            .sum()
    }

    /// `k(a, b)`.
    pub fn k(&self, a: &[f64], b: &[f64]) -> f64 {
        self.signal * matern52(self.r2(a, b).sqrt())
    }

    /// `k(x, b)` and its gradient in `x`, added into `grad` scaled by `weight`:
    /// `∂k/∂x_d = −s² · (−M'(r)/r) · (x_d − b_d) / ℓ_d²`.
    pub fn k_and_grad(&self, x: &[f64], b: &[f64], weight: f64, grad: &mut [f64]) -> f64 {
        let r = self.r2(x, b).sqrt();
        let c = -self.signal * neg_dm_over_r(r) * weight;
        for ((g, (xd, bd)), w) in grad.iter_mut().zip(x.iter().zip(b)).zip(&self.inv_ls2) {
            *g += c * (xd - bd) * w;
        }
        self.signal * matern52(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matern_values_and_derivative() {
        // M(0) = 1; M(1) = (1 + √5 + 5/3) e^{−√5} = 0.523994 (evaluated by hand:
        // 4.902734 × 0.106878).
        assert_eq!(matern52(0.0), 1.0);
        assert!((matern52(1.0) - 4.902_734_644_166_456 * (-SQRT5).exp()).abs() < 1e-15);
        assert!((matern52(1.0) - 0.523_994).abs() < 1e-6);
        // −M'(r)/r against a central difference of M.
        for r in [0.1, 0.7, 2.5] {
            let h = 1e-6;
            let d = (matern52(r + h) - matern52(r - h)) / (2.0 * h);
            assert!((-d / r - neg_dm_over_r(r)).abs() < 1e-8, "r = {r}");
        }
    }

    #[test]
    fn input_gradient_matches_finite_differences() {
        let k = Matern52 {
            inv_ls2: vec![4.0, 0.5, 1.0],
            signal: 1.7,
        };
        let (x, b) = ([0.3, 0.8, 0.1], [0.5, 0.2, 0.4]);
        let mut g = vec![0.0; 3];
        k.k_and_grad(&x, &b, 1.0, &mut g);
        for d in 0..3 {
            let (mut p, mut m) = (x, x);
            p[d] += 1e-6;
            m[d] -= 1e-6;
            let fd = (k.k(&p, &b) - k.k(&m, &b)) / 2e-6;
            assert!((fd - g[d]).abs() < 1e-8, "d = {d}: {fd} vs {}", g[d]);
        }
    }
}
