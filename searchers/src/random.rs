//! Model-free sampling of the box: uniform, scrambled Sobol, or Latin hypercube.
//!
//! [`RandomSearch`] ignores what it is told; it is the baseline every model-based searcher has
//! to beat, and the initial design for those that need one. The point for a trial is the next
//! point of its sequence in ask order, whatever the trial ids; tells only clear pending ids
//! (still validated, like every searcher's: see [`crate::searcher`]).
//!
//! ## References
//!
//! - B. Burley, "Practical Hash-based Owen Scrambling", JCGT 9(4), 2020 (the Sobol sampler,
//!   via the `sobol_burley` crate: Owen-scrambled Sobol with Joe–Kuo direction numbers).
//! - M. D. McKay, R. J. Beckman, W. J. Conover, "A Comparison of Three Methods for Selecting
//!   Values of Input Variables in the Analysis of Output from a Computer Code",
//!   Technometrics 21(2), 1979 (Latin hypercube sampling).
//! - D. R. Jones, M. Schonlau, W. J. Welch, "Efficient Global Optimization of Expensive
//!   Black-Box Functions", J. Global Optimization 13:455–492, 1998 (an initial design of
//!   about `10·d` points: the default Latin hypercube block).

use std::collections::VecDeque;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::tickets::Tickets;
use crate::{Outcome, Problem, SearchError, Searcher};

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
    /// Latin hypercubes in blocks of `n` consecutive asks: in each block, every coordinate's
    /// `n` strata `[k/n, (k+1)/n)` hold exactly one point each. `n` is the horizon given to
    /// [`RandomSearch::with_horizon`] (a study's trial budget, so a study asking one point at
    /// a time is stratified over all its trials), else [`default_lhs_block`]; see also
    /// [`RandomSearch::set_lhs_block`].
    Lhs,
}

/// Default Latin hypercube block: `10·d` points (Jones et al. 1998's initial design size).
pub fn default_lhs_block(d: usize) -> usize {
    10 * d
}

/// Random search over a box with a seeded ChaCha8 generator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RandomSearch {
    problem: Problem,
    sampler: Sampler,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    /// Scramble seed of the Sobol sequence (drawn from the seed).
    sobol_seed: u32,
    /// Points handed out so far (the next Sobol index).
    asked: u64,
    /// Size of the next Latin hypercube blocks.
    lhs_block: usize,
    /// Unit-cube points of the current Latin hypercube block not yet handed out, in order.
    lhs_left: VecDeque<Vec<f64>>,
    tickets: Tickets<()>,
}

impl RandomSearch {
    /// A random search over `problem`'s box; the same `seed` gives the same points.
    pub fn new(problem: Problem, sampler: Sampler, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let sobol_seed = rng.random();
        Self {
            lhs_block: default_lhs_block(problem.bounds.dim()),
            problem,
            sampler,
            rng,
            sobol_seed,
            asked: 0,
            lhs_left: VecDeque::new(),
            tickets: Tickets::default(),
        }
    }

    /// A random search whose Latin hypercube ([`Sampler::Lhs`]) spans `horizon` asks: the
    /// number of trials it is expected to serve (a study's trial budget, or the initial
    /// design size of a model-based searcher). `None` keeps [`default_lhs_block`]; asks
    /// beyond the horizon start further blocks of the same size. Other samplers ignore it.
    /// Errors on a horizon of 0.
    pub fn with_horizon(
        problem: Problem,
        sampler: Sampler,
        seed: u64,
        horizon: Option<usize>,
    ) -> Result<Self, SearchError> {
        let mut s = Self::new(problem, sampler, seed);
        if let Some(n) = horizon {
            s.set_lhs_block(n)?;
        }
        Ok(s)
    }

    /// Makes the next `n ≥ 1` asks (and every later block of `n`) a Latin hypercube of their
    /// own, dropping what is left of the current block. Only [`Sampler::Lhs`] uses it.
    pub fn set_lhs_block(&mut self, n: usize) -> Result<(), SearchError> {
        if n == 0 {
            return Err(SearchError::Config(
                "the Latin hypercube block (the study's trial budget when it comes from one) \
                 must hold at least one point"
                    .into(),
            ));
        }
        self.lhs_block = n;
        self.lhs_left.clear();
        Ok(())
    }

    /// The sampler in use.
    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    /// Points handed out so far.
    pub fn asked(&self) -> u64 {
        self.asked
    }

    fn to_box(&self, u: &[f64]) -> Vec<f64> {
        let b = &self.problem.bounds;
        let mut x: Vec<f64> = u
            .iter()
            .enumerate()
            .map(|(i, ui)| b.lo[i] + ui * b.width(i))
            .collect();
        // Rounding of lo + u·width may land a hair outside; the box is a hard promise.
        b.clip(&mut x);
        x
    }

    /// A Latin hypercube of `n` points in the unit cube.
    fn lhs(&mut self, n: usize) -> Vec<Vec<f64>> {
        let d = self.problem.bounds.dim();
        let mut pts = vec![vec![0.0; d]; n];
        let mut perm: Vec<usize> = (0..n).collect();
        for j in 0..d {
            perm.shuffle(&mut self.rng);
            for (p, stratum) in pts.iter_mut().zip(&perm) {
                let u: f64 = self.rng.random();
                // Stays below (stratum + 1) / n: u < 1 and the division rounds down at worst
                // to the stratum's upper edge, which `min` guards.
                p[j] = ((*stratum as f64 + u) / n as f64).min(1.0);
            }
        }
        pts
    }

    /// The next unit-cube point of the sequence.
    fn next_unit(&mut self) -> Vec<f64> {
        let d = self.problem.bounds.dim();
        match self.sampler {
            Sampler::Uniform => (0..d).map(|_| self.rng.random::<f64>()).collect(),
            Sampler::Sobol => crate::qmc::sobol_point(self.asked, d, self.sobol_seed),
            Sampler::Lhs => {
                if self.lhs_left.is_empty() {
                    let block = self.lhs(self.lhs_block);
                    self.lhs_left.extend(block);
                }
                self.lhs_left.pop_front().unwrap_or_default()
            }
        }
    }
}

impl Searcher for RandomSearch {
    fn problem(&self) -> &Problem {
        &self.problem
    }

    fn multi_objective(&self) -> bool {
        false
    }

    fn ask(&mut self, trial: u64) -> Result<Vec<f64>, SearchError> {
        self.tickets.check_ask(trial)?;
        let u = self.next_unit();
        self.asked += 1;
        self.tickets.ask(trial, ());
        Ok(self.to_box(&u))
    }

    fn tell(&mut self, trial: u64, _outcome: &Outcome) -> Result<(), SearchError> {
        self.tickets.check_tell(trial)?;
        self.tickets.tell(trial);
        Ok(())
    }

    fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError> {
        self.tickets.check_ask(trial)?;
        crate::searcher::check_enqueued(&self.problem.bounds, &x)?;
        self.tickets.ask(trial, ());
        Ok(())
    }

    fn pending(&self) -> Vec<u64> {
        self.tickets.pending()
    }
}
