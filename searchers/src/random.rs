//! Model-free sampling of the box: uniform, scrambled Sobol, or Latin hypercube.
//!
//! [`RandomSearch`] ignores what it is told; it is the baseline every model-based searcher has
//! to beat, and the initial design for those that need one.
//!
//! ## References
//!
//! - B. Burley, "Practical Hash-based Owen Scrambling", JCGT 9(4), 2020 (the Sobol sampler,
//!   via the `sobol_burley` crate: Owen-scrambled Sobol with Joe–Kuo direction numbers).
//! - M. D. McKay, R. J. Beckman, W. J. Conover, "A Comparison of Three Methods for Selecting
//!   Values of Input Variables in the Analysis of Output from a Computer Code",
//!   Technometrics 21(2), 1979 (Latin hypercube sampling).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Bounds, Outcome, Searcher};

/// How [`RandomSearch`] places its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    /// Independent uniform points.
    #[default]
    Uniform,
    /// Owen-scrambled Sobol sequence: the first `2^k` points are a (0, k, 1)-net in every
    /// coordinate (each of the `2^j` equal sub-intervals of an axis holds `2^(k-j)` points).
    Sobol,
    /// Latin hypercube per `ask(n)` batch: every coordinate's `n` strata `[k/n, (k+1)/n)` hold
    /// exactly one point each.
    Lhs,
}

/// Dimensions per `sobol_burley` scramble seed (the crate's table has 256).
const SOBOL_DIMS: usize = 256;
/// Points per `sobol_burley` sequence (the crate's maximum is 2^16).
const SOBOL_LEN: u64 = 1 << 16;

/// Random search over a box with a seeded ChaCha8 generator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RandomSearch {
    bounds: Bounds,
    sampler: Sampler,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    /// Scramble seed of the Sobol sequence (drawn from the seed).
    sobol_seed: u32,
    /// Points handed out so far (the next Sobol index).
    asked: u64,
}

impl RandomSearch {
    /// A random search over `bounds`; the same `seed` gives the same points.
    pub fn new(bounds: Bounds, sampler: Sampler, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sobol_seed = rng.random();
        Self {
            bounds,
            sampler,
            rng,
            sobol_seed,
            asked: 0,
        }
    }

    /// The sampler in use.
    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    /// Points handed out so far.
    pub fn asked(&self) -> u64 {
        self.asked
    }

    /// Coordinate `dim` of Sobol point `index`, in `[0, 1)`.
    ///
    /// Beyond the crate's 256 dimensions and 2^16 points, a fresh scramble seed is derived
    /// per block of 256 dimensions and per block of 2^16 points (the crate's documented way to
    /// extend it); each block is still a scrambled Sobol sequence.
    fn sobol(&self, index: u64, dim: usize) -> f64 {
        let block = (index / SOBOL_LEN) * 1_000_003 + (dim / SOBOL_DIMS) as u64;
        let seed = self.sobol_seed ^ (splitmix(block) as u32);
        let u = sobol_burley::sample((index % SOBOL_LEN) as u32, (dim % SOBOL_DIMS) as u32, seed);
        f64::from(u)
    }

    fn to_box(&self, u: &[f64]) -> Vec<f64> {
        let mut x: Vec<f64> = u
            .iter()
            .enumerate()
            .map(|(i, ui)| self.bounds.lo[i] + ui * self.bounds.width(i))
            .collect();
        // Rounding of lo + u·width may land a hair outside; the box is a hard promise.
        self.bounds.clip(&mut x);
        x
    }
}

/// SplitMix64 finalizer: decorrelates block indices before they become seeds.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Searcher for RandomSearch {
    fn dim(&self) -> usize {
        self.bounds.dim()
    }

    fn ask(&mut self, n: usize) -> Vec<Vec<f64>> {
        let d = self.dim();
        let unit: Vec<Vec<f64>> = match self.sampler {
            Sampler::Uniform => (0..n)
                .map(|_| (0..d).map(|_| self.rng.random::<f64>()).collect())
                .collect(),
            Sampler::Sobol => (0..n as u64)
                .map(|k| (0..d).map(|j| self.sobol(self.asked + k, j)).collect())
                .collect(),
            Sampler::Lhs => {
                let mut pts = vec![vec![0.0; d]; n];
                let mut perm: Vec<usize> = (0..n).collect();
                for j in 0..d {
                    perm.shuffle(&mut self.rng);
                    for (p, stratum) in pts.iter_mut().zip(&perm) {
                        let u: f64 = self.rng.random();
                        // Stays below (stratum + 1) / n: u < 1 and the division rounds down
                        // at worst to the stratum's upper edge, which `min` guards.
                        p[j] = ((*stratum as f64 + u) / n as f64).min(1.0);
                    }
                }
                pts
            }
        };
        self.asked += n as u64;
        unit.iter().map(|u| self.to_box(u)).collect()
    }

    fn tell(&mut self, _results: &[(Vec<f64>, Outcome)]) {}
}
