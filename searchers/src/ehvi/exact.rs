//! Closed-form EHVI and log-EHVI: a sum over the boxes of the non-dominated region of products
//! of one-dimensional Gaussian expectations (Yang et al. 2019, Sec. 3; for two objectives the
//! strips of Emmerich et al. 2011). See the module docs of [`crate::ehvi`].

use super::boxes::{staircase, AxisBox};
use crate::normal::{h, log1mexp, log_h};

/// `E[(u − max(Y, l))⁺]` for `Y ~ N(μ, σ²)` and `l < u` (`l` may be `−∞`):
/// `σ·(h(a) − h(b))` with `a = (u − μ)/σ`, `b = (l − μ)/σ`, since
/// `(u − max(Y, l))⁺ = (u − Y)⁺ − (l − Y)⁺` and `E[(c − Y)⁺] = σ·h((c − μ)/σ)`.
/// For `b ≥ 0` it uses `h(z) = z + h(−z)`, so the dominant part `u − l` is exact and only
/// small tails are subtracted (this is what makes `σ → 0` converge to the deterministic gap).
fn gap(l: f64, u: f64, mu: f64, sigma: f64) -> f64 {
    if sigma == 0.0 {
        return (u - mu.max(l)).max(0.0);
    }
    let a = (u - mu) / sigma;
    if l == f64::NEG_INFINITY {
        return sigma * h(a);
    }
    let b = (l - mu) / sigma;
    if b >= 0.0 {
        (u - l) + sigma * (h(-a) - h(-b))
    } else {
        sigma * (h(a) - h(b))
    }
}

/// `ln` of [`gap`], finite where the gap underflows: for `a < −1` (the box's top edge many σ
/// below the mean) `ln σ + ln h(a) + ln(1 − h(b)/h(a))` from [`log_h`] and [`log1mexp`];
/// elsewhere `h(a) ≥ h(−1) ≈ 0.083` and the plain log is safe.
fn log_gap(l: f64, u: f64, mu: f64, sigma: f64) -> f64 {
    let a = (u - mu) / sigma;
    if sigma == 0.0 || a >= -1.0 {
        return gap(l, u, mu, sigma).ln();
    }
    let log_ha = log_h(a);
    if l == f64::NEG_INFINITY {
        return sigma.ln() + log_ha;
    }
    let log_hb = log_h((l - mu) / sigma);
    // h(b) < h(a) for b < a; rounding may tie them, and log1mexp(0) = −∞ then.
    sigma.ln() + log_ha + log1mexp((log_hb - log_ha).min(0.0))
}

/// Whether every `σⱼ` is a valid standard deviation (finite or not, but `≥ 0`, not NaN).
fn valid_sigma(sigma: &[f64]) -> bool {
    sigma.iter().all(|s| *s >= 0.0)
}

/// Exact EHVI of the independent Gaussian prediction `N(mu, diag(sigma²))` over the front
/// whose non-dominated region is `boxes` ([`super::nondominated_boxes`]), any number of
/// objectives: `Σ_boxes Πⱼ E[(hiⱼ − max(Yⱼ, loⱼ))⁺]` (Yang et al. 2019, Sec. 3). NaN if a
/// `sigma` is negative or NaN; with every `sigma = 0` it is [`super::hvi`]`(mu, boxes)`.
pub fn ehvi(mu: &[f64], sigma: &[f64], boxes: &[AxisBox]) -> f64 {
    debug_assert_eq!(mu.len(), sigma.len(), "mu and sigma lengths differ");
    if !valid_sigma(sigma) {
        return f64::NAN;
    }
    boxes
        .iter()
        .map(|(lo, hi)| {
            let mut product = 1.0;
            for j in 0..mu.len() {
                product *= gap(lo[j], hi[j], mu[j], sigma[j]);
                if product == 0.0 {
                    break;
                }
            }
            product
        })
        .sum()
}

/// `ln` of [`ehvi`], computed without underflow: each box contributes `Σⱼ ln E[…]` (from
/// [`log_h`]) and the boxes are combined by log-sum-exp. Finite whenever every `σⱼ > 0`, even
/// where [`ehvi`] underflows to 0; `−∞` when the improvement is surely 0 (e.g. `σ = 0` and
/// `mu` dominated) or `boxes` is empty; NaN for a negative or NaN `sigma`.
pub fn log_ehvi(mu: &[f64], sigma: &[f64], boxes: &[AxisBox]) -> f64 {
    debug_assert_eq!(mu.len(), sigma.len(), "mu and sigma lengths differ");
    if !valid_sigma(sigma) {
        return f64::NAN;
    }
    let mut acc = LogSumExp::default();
    for (lo, hi) in boxes {
        let mut log_product = 0.0;
        for j in 0..mu.len() {
            log_product += log_gap(lo[j], hi[j], mu[j], sigma[j]);
            if log_product == f64::NEG_INFINITY {
                break;
            }
        }
        acc.add(log_product);
    }
    acc.value()
}

/// Exact two-objective EHVI (Emmerich et al. 2011): the strips `[x_i, x_{i+1}) × (−∞, y_i)`
/// under the front's staircase, each contributing `E[(x_{i+1} − max(Y₁, x_i))⁺] ·
/// E[(y_i − Y₂)⁺]`. `O(n log n)` for `n` front points, no allocation per strip. Same value as
/// [`ehvi`] over [`super::nondominated_boxes`]; front points that are not finite and strictly
/// below `reference` are ignored.
pub fn ehvi_2d(mu: [f64; 2], sigma: [f64; 2], front: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    if !valid_sigma(&sigma) {
        return f64::NAN;
    }
    let mut total = 0.0;
    for_each_strip(front, reference, |x_lo, x_hi, y_hi| {
        total += gap(x_lo, x_hi, mu[0], sigma[0]) * gap(f64::NEG_INFINITY, y_hi, mu[1], sigma[1]);
    });
    total
}

/// `ln` of [`ehvi_2d`], stable far from the front where [`ehvi_2d`] underflows to 0 (see
/// [`log_ehvi`]).
pub fn log_ehvi_2d(mu: [f64; 2], sigma: [f64; 2], front: &[[f64; 2]], reference: [f64; 2]) -> f64 {
    if !valid_sigma(&sigma) {
        return f64::NAN;
    }
    let mut acc = LogSumExp::default();
    for_each_strip(front, reference, |x_lo, x_hi, y_hi| {
        acc.add(
            log_gap(x_lo, x_hi, mu[0], sigma[0])
                + log_gap(f64::NEG_INFINITY, y_hi, mu[1], sigma[1]),
        );
    });
    acc.value()
}

/// Calls `f(x_lo, x_hi, y_hi)` for each strip of the two-objective non-dominated region.
fn for_each_strip(front: &[[f64; 2]], reference: [f64; 2], mut f: impl FnMut(f64, f64, f64)) {
    let inside = front.iter().filter(|p| {
        p.iter()
            .zip(&reference)
            .all(|(v, r)| v.is_finite() && v < r)
    });
    let (mut x_lo, mut y_hi) = (f64::NEG_INFINITY, reference[1]);
    for (x, y) in staircase(inside.map(|p| (p[0], p[1]))) {
        f(x_lo, x, y_hi);
        (x_lo, y_hi) = (x, y);
    }
    f(x_lo, reference[0], y_hi);
}

/// Streaming `ln Σ exp(tᵢ)`: keeps the largest term seen and the sum rescaled to it.
struct LogSumExp {
    max: f64,
    sum: f64,
}

impl Default for LogSumExp {
    fn default() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }
}

impl LogSumExp {
    fn add(&mut self, t: f64) {
        if t.is_nan() {
            self.sum = f64::NAN;
        } else if t > self.max {
            self.sum = self.sum * (self.max - t).exp() + 1.0;
            self.max = t;
        } else if t > f64::NEG_INFINITY {
            self.sum += (t - self.max).exp();
        }
    }

    fn value(&self) -> f64 {
        self.max + self.sum.ln()
    }
}
