//! NSGA-II (Deb et al. 2002) over a box, as an ask/tell [`Searcher`] for several objectives.
//!
//! - **Objectives.** Every value of [`Outcome::Values`] is used, all minimized. The number of
//!   objectives `m` is fixed by the first non-empty vector told; a vector of another length, or
//!   with a non-finite value, counts as a failure. Failed points rank behind every scored
//!   point (rank `usize::MAX`, crowding 0): they survive only while the population has room.
//! - **Population.** `N = popsize` (even, ≥ 4; default [`default_popsize`]). The first
//!   generation is `x0` (if given) plus uniform points of the box (seeded ChaCha8).
//! - **Generation.** `N` offspring are bred from the parents `P`: binary tournament by the
//!   crowded comparison (lower rank, then larger crowding distance, Sec. III-C), simulated
//!   binary crossover with probability `p_c = 0.9` and `η_c = 15`, polynomial mutation with
//!   `p_m = 1/d` per coordinate and `η_m = 20` (both bounded to the box, see `variation`).
//!   A child that copies a parent or an earlier child of the same generation is bred again
//!   (at most 1000 times per generation), so no point is evaluated twice for nothing.
//!   Rank and crowding for the tournament are computed within `P`'s own fronts. Once all `N`
//!   offspring `Q` are told, `P ∪ Q` is cut back to `N` by front rank, the last front that
//!   does not fit by crowding distance (Sec. III-C, using [`crate::pareto`]).
//! - **Protocol.** Offspring are handed out in order. When `ask` wants more points than the
//!   open generation has left, the next generation is bred from the current (not yet
//!   updated) parents — or sampled uniformly while no generation has been told — and handed
//!   out too; each is merged into whatever the parents are when it is fully told. `tell`
//!   consumes outcomes in ask order.
//!
//! The whole state (RNG, pending generations) is serde-serializable: snapshot → restore →
//! continue gives the same asks as continuing.
//!
//! ## References
//!
//! - K. Deb, A. Pratap, S. Agarwal, T. Meyarivan, "A fast and elitist multiobjective genetic
//!   algorithm: NSGA-II", IEEE Trans. Evol. Comput. 6(2):182–197, 2002.
//! - K. Deb, R. B. Agrawal, "Simulated binary crossover for continuous search space", Complex
//!   Systems 9:115–148, 1995 (SBX).
//! - K. Deb, M. Goyal, "A combined genetic adaptive search (GeneAS) for engineering design",
//!   Computer Science and Informatics 26(4):30–45, 1996 (polynomial mutation).
//! - K. Deb, NSGA-II reference code `nsga2-v1.1` (Kanpur Genetic Algorithms Laboratory): the
//!   bounded SBX and mutation formulas.
//! - J. Blank, K. Deb, "pymoo: Multi-Objective Optimization in Python", IEEE Access 8, 2020:
//!   the defaults `η_c = 15`, `η_m = 20` (Deb et al. 2002 use `η_c = η_m = 20`) and the
//!   re-breeding of duplicate children.

mod variation;

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::pareto::{crowding_distance, non_dominated_sort};
use crate::{Bounds, Outcome, SearchError, Searcher};

/// SBX distribution index `η_c`.
pub const ETA_C: f64 = 15.0;
/// Polynomial mutation distribution index `η_m`.
pub const ETA_M: f64 = 20.0;
/// Crossover probability per pair of parents.
pub const P_C: f64 = 0.9;
/// Children bred again per generation, at most, because they copied a parent or a sibling.
const MAX_DUPLICATE_RETRIES: usize = 1000;

/// Default population `max(8, 2·(4 + ⌊3 ln d⌋))`: twice CMA-ES's default `λ` (so the
/// population grows slowly with the dimension, as evaluations are expensive here), always
/// even and at least 8 (20 at `d = 10`).
pub fn default_popsize(d: usize) -> usize {
    (2 * crate::cmaes::default_popsize(d)).max(8)
}

/// A member of the population: the point and its objectives (`None` = failed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    x: Vec<f64>,
    f: Option<Vec<f64>>,
}

/// A generation being handed out and told.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    xs: Vec<Vec<f64>>,
    handed: usize,
    told: Vec<Option<Vec<f64>>>,
}

/// NSGA-II over a box; see the module docs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nsga2 {
    bounds: Bounds,
    popsize: usize,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    /// Start point, put into the first generation bred (then `None`).
    x0: Option<Vec<f64>>,
    /// Number of objectives, once known.
    n_obj: Option<usize>,
    parents: Vec<Member>,
    queue: VecDeque<Pending>,
    generation: u64,
    evaluations: u64,
}

impl Nsga2 {
    /// An NSGA-II over `bounds` with population `popsize` (`None` = [`default_popsize`]),
    /// seeding the first generation with `x0`. Errors name the field.
    pub fn new(
        bounds: Bounds,
        x0: Option<Vec<f64>>,
        popsize: Option<usize>,
        seed: u64,
    ) -> Result<Self, SearchError> {
        let d = bounds.dim();
        if let Some(p) = popsize {
            if p < 4 || p % 2 != 0 {
                return Err(SearchError::Config(format!(
                    "popsize must be an even number >= 4, got {p}"
                )));
            }
        }
        if let Some(x) = &x0 {
            if !bounds.contains(x) {
                return Err(SearchError::Config(format!(
                    "x0 must be a point of the {d}-dimensional search box, got {x:?}"
                )));
            }
        }
        Ok(Self {
            popsize: popsize.unwrap_or_else(|| default_popsize(d)),
            bounds,
            rng: ChaCha8Rng::seed_from_u64(seed),
            x0,
            n_obj: None,
            parents: Vec::new(),
            queue: VecDeque::new(),
            generation: 0,
            evaluations: 0,
        })
    }

    /// Population size `N`.
    pub fn popsize(&self) -> usize {
        self.popsize
    }

    /// Generations merged into the population so far (the first one included).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Outcomes told so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Number of objectives, once a scored outcome has fixed it.
    pub fn n_objectives(&self) -> Option<usize> {
        self.n_obj
    }

    /// The current population (parents): each point with its objectives, `None` if failed.
    /// Empty until the first generation is fully told.
    pub fn population(&self) -> Vec<(Vec<f64>, Option<Vec<f64>>)> {
        self.parents
            .iter()
            .map(|m| (m.x.clone(), m.f.clone()))
            .collect()
    }

    /// The non-dominated scored members of the population, as `(point, objectives)`.
    pub fn front(&self) -> Vec<(Vec<f64>, Vec<f64>)> {
        let (rank, _) = rank_and_crowding(&self.parents, self.m());
        self.parents
            .iter()
            .zip(rank)
            .filter(|(_, r)| *r == 0)
            .filter_map(|(p, _)| p.f.clone().map(|f| (p.x.clone(), f)))
            .collect()
    }

    /// Objective count for sorting; 1 while unknown (then every member failed anyway).
    fn m(&self) -> usize {
        self.n_obj.unwrap_or(1)
    }

    fn uniform(&mut self) -> Vec<f64> {
        let mut x: Vec<f64> = (0..self.dim())
            .map(|i| self.bounds.lo[i] + self.rng.random::<f64>() * self.bounds.width(i))
            .collect();
        self.bounds.clip(&mut x);
        x
    }

    /// The next `N` points: offspring of the parents, or (before any parents) `x0` and
    /// uniform samples.
    fn breed(&mut self) -> Pending {
        let n = self.popsize;
        let mut xs = Vec::with_capacity(n);
        if self.parents.len() < 2 {
            xs.extend(self.x0.take());
            while xs.len() < n {
                xs.push(self.uniform());
            }
        } else {
            let (rank, crowd) = rank_and_crowding(&self.parents, self.m());
            let p_m = 1.0 / self.dim() as f64;
            let mut retries = 0;
            while xs.len() < n {
                let a = self.tournament(&rank, &crowd);
                let b = self.tournament(&rank, &crowd);
                let (p1, p2) = (&self.parents[a].x, &self.parents[b].x);
                let (c1, c2) = if self.rng.random::<f64>() <= P_C {
                    variation::sbx(p1, p2, &self.bounds, ETA_C, &mut self.rng)
                } else {
                    (p1.clone(), p2.clone())
                };
                for mut c in [c1, c2] {
                    variation::polynomial_mutation(&mut c, &self.bounds, ETA_M, p_m, &mut self.rng);
                    // A copy of a parent or of an earlier child would be evaluated again for
                    // nothing (and crowds the population): bred anew, as pymoo does
                    // (`eliminate_duplicates`), up to a cap so `ask` always answers.
                    let copy = self.parents.iter().any(|p| p.x == c) || xs.contains(&c);
                    if copy && retries < MAX_DUPLICATE_RETRIES {
                        retries += 1;
                    } else if xs.len() < n {
                        xs.push(c);
                    }
                }
            }
        }
        Pending {
            xs,
            handed: 0,
            told: Vec::new(),
        }
    }

    /// Binary tournament by the crowded comparison (Deb et al. 2002, Sec. III-C) between two
    /// distinct random parents; ties go to the first drawn.
    fn tournament(&mut self, rank: &[usize], crowd: &[f64]) -> usize {
        let n = self.parents.len();
        let i = self.rng.random_range(0..n);
        let mut j = self.rng.random_range(0..n - 1);
        if j >= i {
            j += 1;
        }
        if rank[j] < rank[i] || (rank[j] == rank[i] && crowd[j] > crowd[i]) {
            j
        } else {
            i
        }
    }

    /// Environmental selection: the parents become the best `N` of parents ∪ `g`.
    fn merge(&mut self, g: Pending) {
        let mut pool = std::mem::take(&mut self.parents);
        pool.extend(g.xs.into_iter().zip(g.told).map(|(x, f)| Member { x, f }));
        let (rank, crowd) = rank_and_crowding(&pool, self.m());
        let mut order: Vec<usize> = (0..pool.len()).collect();
        // Crowded-comparison order: rank ascending, crowding descending; stable, so among
        // failed members (rank MAX, crowding 0) the older ones come first.
        order.sort_by(|&a, &b| rank[a].cmp(&rank[b]).then(crowd[b].total_cmp(&crowd[a])));
        order.truncate(self.popsize);
        order.sort_unstable();
        let mut pool: Vec<Option<Member>> = pool.into_iter().map(Some).collect();
        self.parents = order.into_iter().filter_map(|i| pool[i].take()).collect();
        self.generation += 1;
    }

    /// Objectives of one outcome, `None` where it counts as a failure (module docs).
    fn objectives(&mut self, outcome: &Outcome) -> Option<Vec<f64>> {
        let Outcome::Values(v) = outcome else {
            return None;
        };
        if v.is_empty() {
            return None;
        }
        let m = *self.n_obj.get_or_insert(v.len());
        (v.len() == m && v.iter().all(|x| x.is_finite())).then(|| v.clone())
    }
}

/// Front rank and crowding distance (within its front) of every member; failed members get
/// rank `usize::MAX` and crowding 0.
fn rank_and_crowding(members: &[Member], m: usize) -> (Vec<usize>, Vec<f64>) {
    let pts: Vec<Vec<f64>> = members
        .iter()
        .map(|p| p.f.clone().unwrap_or_else(|| vec![f64::NAN; m]))
        .collect();
    let rank = non_dominated_sort(&pts);
    let mut crowd = vec![0.0; pts.len()];
    let mut fronts: Vec<usize> = rank.iter().copied().filter(|&r| r != usize::MAX).collect();
    fronts.sort_unstable();
    fronts.dedup();
    for r in fronts {
        let front: Vec<usize> = (0..pts.len()).filter(|&i| rank[i] == r).collect();
        for (i, c) in front.iter().zip(crowding_distance(&pts, &front)) {
            crowd[*i] = c;
        }
    }
    (rank, crowd)
}

impl Searcher for Nsga2 {
    fn dim(&self) -> usize {
        self.bounds.dim()
    }

    fn ask(&mut self, n: usize) -> Vec<Vec<f64>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let open = self.queue.iter().position(|g| g.handed < g.xs.len());
            let i = match open {
                Some(i) => i,
                None => {
                    let g = self.breed();
                    self.queue.push_back(g);
                    self.queue.len() - 1
                }
            };
            let g = &mut self.queue[i];
            while out.len() < n && g.handed < g.xs.len() {
                out.push(g.xs[g.handed].clone());
                g.handed += 1;
            }
        }
        out
    }

    fn tell(&mut self, results: &[(Vec<f64>, Outcome)]) {
        for (_, outcome) in results {
            // Outcomes beyond what was asked have no point to belong to: ignored.
            if !self.queue.iter().any(|g| g.told.len() < g.handed) {
                return;
            }
            let f = self.objectives(outcome);
            if let Some(g) = self.queue.iter_mut().find(|g| g.told.len() < g.handed) {
                g.told.push(f);
            }
            self.evaluations += 1;
            while self
                .queue
                .front()
                .is_some_and(|g| g.told.len() == g.xs.len())
            {
                if let Some(g) = self.queue.pop_front() {
                    self.merge(g);
                }
            }
        }
    }
}
