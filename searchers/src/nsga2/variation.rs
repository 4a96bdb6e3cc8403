//! NSGA-II's variation operators on real genes, bounded to the box: simulated binary crossover
//! and polynomial mutation.
//!
//! Both follow Deb's reference C code (`nsga2-v1.1`, `crossover.c` / `mutation.c`), the
//! bounded variants: the spread factor's distribution is truncated so children stay inside
//! `[lo, hi]` (Deb & Agrawal 1995; Deb & Goyal 1996; Deb 2001, Sec. 4.2), and the results are
//! clamped against rounding.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Bounds;

/// Parents closer than this in a coordinate are copied, not crossed (Deb's `EPS`).
const EPS: f64 = 1e-14;

/// Bounded SBX of `p1`, `p2` with distribution index `eta`: each coordinate is crossed with
/// probability 1/2 (otherwise copied), children are swapped with probability 1/2.
pub fn sbx(
    p1: &[f64],
    p2: &[f64],
    bounds: &Bounds,
    eta: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<f64>, Vec<f64>) {
    let mut c1 = p1.to_vec();
    let mut c2 = p2.to_vec();
    for i in 0..p1.len() {
        if rng.random::<f64>() > 0.5 || (p1[i] - p2[i]).abs() <= EPS {
            continue;
        }
        let (y1, y2) = (p1[i].min(p2[i]), p1[i].max(p2[i]));
        let (lo, hi) = (bounds.lo[i], bounds.hi[i]);
        let u: f64 = rng.random();
        // β from each bound, then the truncated spread factor β_q (Deb 2001, eq. 4.13 with
        // the bounded normalization α = 2 − β^−(η+1)).
        let beta_q = |beta: f64| {
            let alpha = 2.0 - beta.powf(-(eta + 1.0));
            if u <= 1.0 / alpha {
                (u * alpha).powf(1.0 / (eta + 1.0))
            } else {
                (1.0 / (2.0 - u * alpha)).powf(1.0 / (eta + 1.0))
            }
        };
        let bq1 = beta_q(1.0 + 2.0 * (y1 - lo) / (y2 - y1));
        let bq2 = beta_q(1.0 + 2.0 * (hi - y2) / (y2 - y1));
        let a = (0.5 * ((y1 + y2) - bq1 * (y2 - y1))).clamp(lo, hi);
        let b = (0.5 * ((y1 + y2) + bq2 * (y2 - y1))).clamp(lo, hi);
        if rng.random::<f64>() <= 0.5 {
            (c1[i], c2[i]) = (b, a);
        } else {
            (c1[i], c2[i]) = (a, b);
        }
    }
    (c1, c2)
}

/// Bounded polynomial mutation of `x` in place, each coordinate with probability `p`,
/// distribution index `eta` (Deb & Goyal 1996; the bound-aware form of Deb's `realmutate`).
pub fn polynomial_mutation(x: &mut [f64], bounds: &Bounds, eta: f64, p: f64, rng: &mut ChaCha8Rng) {
    for (i, y) in x.iter_mut().enumerate() {
        if rng.random::<f64>() > p {
            continue;
        }
        let (lo, hi) = (bounds.lo[i], bounds.hi[i]);
        let w = hi - lo;
        let (d1, d2) = ((*y - lo) / w, (hi - *y) / w);
        let u: f64 = rng.random();
        let pow = 1.0 / (eta + 1.0);
        let delta_q = if u <= 0.5 {
            let v = 2.0 * u + (1.0 - 2.0 * u) * (1.0 - d1).powf(eta + 1.0);
            v.powf(pow) - 1.0
        } else {
            let v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - d2).powf(eta + 1.0);
            1.0 - v.powf(pow)
        };
        *y = (*y + delta_q * w).clamp(lo, hi);
    }
}
