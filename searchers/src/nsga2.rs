//! NSGA-II (Deb et al. 2002) over a box, as an ask/tell [`Searcher`] for several objectives.
//!
//! - **Objectives.** The vector view of the [`Problem`] ([`Problem::penalized_vector`]): the
//!   minimized objectives, each plus [`crate::PENALTY`] times the total constraint violation.
//!   The number of objectives `m` is the problem's; an outcome of another length, or with a
//!   non-finite value, counts as a failure. Failed points rank behind every scored point
//!   (rank `usize::MAX`, crowding 0): they survive only while the population has room.
//! - **Population.** `N = popsize` (even, ≥ 4, at most [`max_popsize`]: the non-dominated
//!   sort of `2N` points keeps up to `2N²` dominance links, and 16·N² bytes must fit in
//!   [`crate::cmaes::MAX_STATE_BYTES`]; default [`default_popsize`]). The first
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
//! - **Protocol** (trial tickets, see [`crate::searcher`]). Offspring are handed out one
//!   trial at a time, each remembering its trial id. When every point of the open generations
//!   has been handed out, the next generation is bred from the current (not yet updated)
//!   parents — or sampled uniformly while no generation has been merged — and handed out too.
//!   A tell fills its trial's slot wherever that generation is in the queue; generations are
//!   merged into the parents once fully told, oldest first (a complete later generation waits
//!   for an earlier incomplete one), so the result does not depend on the order of the tells.
//!
//! The whole state (RNG, pending generations and their trial ids) is serde-serializable: snapshot → restore →
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

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cmaes::MAX_STATE_BYTES;
use crate::generations::Generations;
use crate::pareto::{crowding_distance, non_dominated_sort};
use crate::{Outcome, Problem, SearchError, Searcher};

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

/// Largest population (any dimension): the non-dominated sort of parents ∪ offspring (`2N`
/// points) may keep `2N²` dominance links of 8 bytes, which must fit in
/// [`MAX_STATE_BYTES`]; and a generation's points (`N·d` floats, twice: parents and
/// offspring) must fit too.
pub fn max_popsize(d: usize) -> usize {
    let sort = ((MAX_STATE_BYTES / 16) as f64).sqrt() as usize;
    let points = MAX_STATE_BYTES / (16 * d.max(1));
    // Even, like every population.
    sort.min(points) / 2 * 2
}

/// A member of the population: the point and its objectives (`None` = failed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    x: Vec<f64>,
    f: Option<Vec<f64>>,
}

/// Generations of offspring, told penalized objective vectors (`None` = failed).
type Queue = Generations<Vec<f64>, Option<Vec<f64>>, ()>;

/// NSGA-II over a box; see the module docs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nsga2 {
    problem: Problem,
    popsize: usize,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    /// Start point, put into the first generation bred (then `None`).
    x0: Option<Vec<f64>>,
    parents: Vec<Member>,
    queue: Queue,
    generation: u64,
    evaluations: u64,
}

impl Nsga2 {
    /// An NSGA-II for `problem` (its vector view) with population `popsize` (`None` =
    /// [`default_popsize`]), seeding the first generation with `x0`. Errors name the field.
    pub fn new(
        problem: Problem,
        x0: Option<Vec<f64>>,
        popsize: Option<usize>,
        seed: u64,
    ) -> Result<Self, SearchError> {
        let d = problem.bounds.dim();
        if let Some(p) = popsize {
            if p < 4 || p % 2 != 0 {
                return Err(SearchError::Config(format!(
                    "popsize must be an even number >= 4, got {p}"
                )));
            }
            if p > max_popsize(d) {
                return Err(SearchError::Config(format!(
                    "searcher.popsize must be <= {} in {d} dimensions (the non-dominated sort \
                     and the population within {} GiB), got {p}",
                    max_popsize(d),
                    MAX_STATE_BYTES >> 30
                )));
            }
        }
        if 4 > max_popsize(d) {
            return Err(SearchError::Config(format!(
                "a {d}-dimensional search box leaves NSGA-II no room for a population within {} \
                 GiB",
                MAX_STATE_BYTES >> 30
            )));
        }
        if let Some(x) = &x0 {
            if !problem.bounds.contains(x) {
                return Err(SearchError::Config(format!(
                    "x0 must be a point of the {d}-dimensional search box, got {x:?}"
                )));
            }
        }
        Ok(Self {
            popsize: popsize.unwrap_or_else(|| default_popsize(d).min(max_popsize(d))),
            problem,
            rng: ChaCha8Rng::seed_from_u64(seed),
            x0,
            parents: Vec::new(),
            queue: Queue::default(),
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

    /// Outcomes told so far (failed ones included).
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Number of objectives (the problem's).
    pub fn n_objectives(&self) -> usize {
        self.problem.objectives()
    }

    /// The current population (parents): each point with its penalized, minimized objectives,
    /// `None` if failed.
    /// Empty until the first generation is fully told.
    pub fn population(&self) -> Vec<(Vec<f64>, Option<Vec<f64>>)> {
        self.parents
            .iter()
            .map(|m| (m.x.clone(), m.f.clone()))
            .collect()
    }

    /// The non-dominated scored members of the population, as `(point, objectives)`; the
    /// objectives are the penalized vector view (minimized).
    pub fn front(&self) -> Vec<(Vec<f64>, Vec<f64>)> {
        let (rank, _) = rank_and_crowding(&self.parents, self.m());
        self.parents
            .iter()
            .zip(rank)
            .filter(|(_, r)| *r == 0)
            .filter_map(|(p, _)| p.f.clone().map(|f| (p.x.clone(), f)))
            .collect()
    }

    /// Objective count for sorting.
    fn m(&self) -> usize {
        self.problem.objectives()
    }

    fn uniform(&mut self) -> Vec<f64> {
        let b = &self.problem.bounds;
        let mut x: Vec<f64> = (0..b.dim())
            .map(|i| b.lo[i] + self.rng.random::<f64>() * b.width(i))
            .collect();
        b.clip(&mut x);
        x
    }

    /// The next `N` points: offspring of the parents, or (before any parents) `x0` and
    /// uniform samples.
    fn breed(&mut self) -> Vec<Vec<f64>> {
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
                    variation::sbx(p1, p2, &self.problem.bounds, ETA_C, &mut self.rng)
                } else {
                    (p1.clone(), p2.clone())
                };
                for mut c in [c1, c2] {
                    variation::polynomial_mutation(
                        &mut c,
                        &self.problem.bounds,
                        ETA_M,
                        p_m,
                        &mut self.rng,
                    );
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
        xs
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
    fn merge(&mut self, xs: Vec<Vec<f64>>, told: Vec<Option<Vec<f64>>>) {
        let mut pool = std::mem::take(&mut self.parents);
        pool.extend(xs.into_iter().zip(told).map(|(x, f)| Member { x, f }));
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
    fn problem(&self) -> &Problem {
        &self.problem
    }

    fn multi_objective(&self) -> bool {
        true
    }

    fn ask(&mut self, trial: u64) -> Result<Vec<f64>, SearchError> {
        self.queue.check_ask(trial)?;
        if self.queue.exhausted() {
            let xs = self.breed();
            self.queue.push(xs, ());
        }
        Ok(self.queue.hand_out(trial))
    }

    fn tell(&mut self, trial: u64, outcome: &Outcome) -> Result<(), SearchError> {
        self.queue.check_tell(trial)?;
        if self.queue.take_external(trial).is_some() {
            // An enqueued point: outside the generations, it does not breed.
            return Ok(());
        }
        self.queue
            .tell(trial, self.problem.penalized_vector(outcome))?;
        self.evaluations += 1;
        while let Some(g) = self.queue.pop_complete() {
            let (xs, told, ()) = g.into_told();
            self.merge(xs, told);
        }
        Ok(())
    }

    fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError> {
        crate::searcher::check_enqueued(&self.problem.bounds, &x)?;
        self.queue.enqueue(trial, x)
    }

    fn pending(&self) -> Vec<u64> {
        self.queue.pending()
    }
}
