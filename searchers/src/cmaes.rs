//! IPOP-CMA-ES over a box, as an ask/tell [`Searcher`].
//!
//! - **Coordinates.** The search runs in normalized coordinates `u ∈ [0,1]^d`
//!   (`x = lo + u·width`), so one step size fits every coordinate; `sigma0` is a fraction of
//!   the box width (default 1/6, the Sakana / mergekit-evolve convention) and [`CmaEs::sigma`]
//!   is in the same unit.
//! - **Box.** A sample `u` is repaired by clipping into `[0,1]^d`; the clipped point is handed
//!   out (always inside the box) and evaluated. For ranking, its fitness gets the penalty
//!   `γ‖u − clip(u)‖²` with `γ = 2·Δf / (σ² · mean(diag C) · d)`, `Δf` the range of the
//!   generation's scored values (pycma's `BoundPenalty` initial weight); the update uses the
//!   unrepaired `u`. [`CmaEs::best`] reports the raw, unpenalized value of an in-box point.
//! - **Protocol.** A generation of `λ` points is sampled at once and handed out in order.
//!   When `ask` wants more than the current generation has left, the next generation is
//!   sampled from the current (not yet updated) distribution and handed out too; when it is
//!   told, its steps are re-expressed against the then-current mean and clipped in
//!   Mahalanobis length (injected solutions, Hansen 2011). `tell` consumes outcomes in ask
//!   order and updates once all `λ` of a generation are in. Failed outcomes (and NaN values)
//!   rank below every scored point and get no recombination weight.
//! - **Restarts (IPOP).** When a run meets a stopping criterion of the tutorial's B.3 (tolfun,
//!   tolx, no-effect axis/coordinate, cond(C) > 1e14, stagnation), a new run starts from a
//!   uniformly random mean with `σ = sigma0` and `λ` doubled, for the first `max_restarts`
//!   restarts; later restarts keep the last `λ` (a searcher must always answer `ask`).
//!   Points of an old run still being evaluated are counted for [`CmaEs::best`] only.
//!
//! The whole state (RNG, pending generations) is serde-serializable: snapshot → restore →
//! continue gives the same asks as continuing.
//!
//! ## References
//!
//! - N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772.
//! - A. Auger, N. Hansen, "A Restart CMA Evolution Strategy With Increasing Population
//!   Size", CEC 2005 (IPOP).
//! - N. Hansen, "Injecting External Solutions Into CMA-ES", arXiv:1110.4181, 2011.
//! - N. Hansen et al., pycma (`cma` on PyPI): default stopping thresholds, `BoundPenalty`.

mod run;

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use run::Run;
pub use run::Stop;

use crate::{Bounds, Outcome, SearchError, Searcher};

/// Default initial step size, as a fraction of the box width.
pub const DEFAULT_SIGMA0: f64 = 1.0 / 6.0;
/// Default number of IPOP restarts that double the population.
pub const DEFAULT_MAX_RESTARTS: usize = 9;

/// Default population `λ = 4 + ⌊3 ln d⌋` (tutorial Table 1).
pub fn default_popsize(d: usize) -> usize {
    4 + (3.0 * (d as f64).ln()).floor() as usize
}

/// Settings of [`CmaEs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmaEsOptions {
    /// Initial step size as a fraction of the box width, in `(0, 1]`.
    pub sigma0: f64,
    /// Initial population `λ ≥ 2`; `None` = [`default_popsize`].
    pub popsize: Option<usize>,
    /// Restarts that double `λ`.
    pub max_restarts: usize,
}

impl Default for CmaEsOptions {
    fn default() -> Self {
        Self {
            sigma0: DEFAULT_SIGMA0,
            popsize: None,
            max_restarts: DEFAULT_MAX_RESTARTS,
        }
    }
}

/// One sampled point: unrepaired normalized `u`, the in-box point handed out, and the
/// squared repair distance (normalized units).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sample {
    u: Vec<f64>,
    x: Vec<f64>,
    repair2: f64,
}

/// A generation being handed out and told.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    /// Run it was sampled in.
    run_id: u64,
    /// Distribution version (updates so far) it was sampled from.
    version: u64,
    samples: Vec<Sample>,
    handed: usize,
    /// Raw values told so far (`None` = failed).
    told: Vec<Option<f64>>,
}

/// IPOP-CMA-ES over a box; see the module docs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CmaEs {
    bounds: Bounds,
    opts: CmaEsOptions,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    run: Run,
    run_id: u64,
    version: u64,
    restarts: usize,
    generation: u64,
    evaluations: u64,
    queue: VecDeque<Pending>,
    best: Option<(Vec<f64>, f64)>,
    last_stop: Option<Stop>,
}

impl CmaEs {
    /// A CMA-ES over `bounds` starting at `x0` (default: the box center).
    pub fn new(
        bounds: Bounds,
        x0: Option<Vec<f64>>,
        opts: CmaEsOptions,
        seed: u64,
    ) -> Result<Self, SearchError> {
        let d = bounds.dim();
        if !(opts.sigma0 > 0.0 && opts.sigma0 <= 1.0) {
            return Err(SearchError::Config(format!(
                "sigma0 must be in (0, 1] (a fraction of the box width), got {}",
                opts.sigma0
            )));
        }
        if let Some(p) = opts.popsize {
            if p < 2 {
                return Err(SearchError::Config(format!(
                    "popsize must be >= 2, got {p}"
                )));
            }
        }
        let u0 = match x0 {
            None => vec![0.5; d],
            Some(x) => {
                if !bounds.contains(&x) {
                    return Err(SearchError::Config(format!(
                        "x0 must be a point of the {d}-dimensional search box, got {x:?}"
                    )));
                }
                (0..d)
                    .map(|i| (x[i] - bounds.lo[i]) / bounds.width(i))
                    .collect()
            }
        };
        let lambda = opts.popsize.unwrap_or_else(|| default_popsize(d));
        Ok(Self {
            run: Run::new(u0, opts.sigma0, lambda),
            bounds,
            opts,
            rng: ChaCha8Rng::seed_from_u64(seed),
            run_id: 0,
            version: 0,
            restarts: 0,
            generation: 0,
            evaluations: 0,
            queue: VecDeque::new(),
            best: None,
            last_stop: None,
        })
    }

    /// Best told point and its value so far (over all runs).
    pub fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.clone()
    }

    /// Current step size, as a fraction of the box width.
    pub fn sigma(&self) -> f64 {
        self.run.sigma
    }

    /// Generations updated so far, over all runs.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Restarts so far.
    pub fn restarts(&self) -> usize {
        self.restarts
    }

    /// Population size `λ` of the current run.
    pub fn popsize(&self) -> usize {
        self.run.p.lambda
    }

    /// Outcomes told so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Why the last run stopped (`None` before the first restart).
    pub fn last_stop(&self) -> Option<Stop> {
        self.last_stop
    }

    /// Current mean, in box coordinates.
    pub fn mean(&self) -> Vec<f64> {
        self.to_box(&self.run.mean)
    }

    fn to_box(&self, u: &[f64]) -> Vec<f64> {
        let mut x: Vec<f64> = (0..u.len())
            .map(|i| self.bounds.lo[i] + u[i].clamp(0.0, 1.0) * self.bounds.width(i))
            .collect();
        self.bounds.clip(&mut x);
        x
    }

    fn sample_generation(&mut self) -> Pending {
        let samples = (0..self.run.p.lambda)
            .map(|_| {
                let u = self.run.sample(&mut self.rng);
                let repair2 = u.iter().map(|v| (v - v.clamp(0.0, 1.0)).powi(2)).sum();
                let x = self.to_box(&u);
                Sample { u, x, repair2 }
            })
            .collect();
        Pending {
            run_id: self.run_id,
            version: self.version,
            samples,
            handed: 0,
            told: Vec::new(),
        }
    }

    /// Updates the run from a fully told generation, then restarts if it stopped.
    fn finish(&mut self, g: Pending) {
        for (s, v) in g.samples.iter().zip(&g.told) {
            if let Some(v) = v {
                if self.best.as_ref().is_none_or(|(_, b)| v < b) {
                    self.best = Some((s.x.clone(), *v));
                }
            }
        }
        if g.run_id != self.run_id {
            return;
        }
        // Ranking fitness: value + boundary penalty (module docs).
        let scored: Vec<f64> = g.told.iter().flatten().cloned().collect();
        let (lo, hi) = scored
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        let spread = if scored.len() > 1 { hi - lo } else { 0.0 };
        let d = self.run.n as f64;
        let scale = self.run.sigma.powi(2) * self.run.mean_diag_c() * d;
        let mut gamma = 2.0 * spread.max(f64::MIN_POSITIVE) / scale;
        if !gamma.is_finite() {
            gamma = f64::MAX;
        }
        let fit: Vec<Option<f64>> = g
            .samples
            .iter()
            .zip(&g.told)
            .map(|(s, v)| {
                v.map(|v| {
                    if s.repair2 > 0.0 {
                        v + gamma * s.repair2
                    } else {
                        v
                    }
                })
            })
            .collect();
        let u: Vec<Vec<f64>> = g.samples.into_iter().map(|s| s.u).collect();
        self.run.update(&u, &fit, g.version != self.version);
        self.version += 1;
        self.generation += 1;
        if let Some(stop) = self.run.stop() {
            self.restart(stop);
        }
    }

    fn restart(&mut self, stop: Stop) {
        self.last_stop = Some(stop);
        self.restarts += 1;
        let lambda = if self.restarts <= self.opts.max_restarts {
            self.run.p.lambda * 2
        } else {
            self.run.p.lambda
        };
        let mean: Vec<f64> = (0..self.run.n).map(|_| self.rng.random::<f64>()).collect();
        self.run = Run::new(mean, self.opts.sigma0, lambda);
        self.run_id += 1;
        self.version += 1;
        // Points of the old run not yet handed out are dropped.
        for g in &mut self.queue {
            g.samples.truncate(g.handed);
        }
        self.queue.retain(|g| !g.samples.is_empty());
    }
}

impl Searcher for CmaEs {
    fn dim(&self) -> usize {
        self.bounds.dim()
    }

    fn ask(&mut self, n: usize) -> Vec<Vec<f64>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let open = self.queue.iter().position(|g| g.handed < g.samples.len());
            let i = match open {
                Some(i) => i,
                None => {
                    let g = self.sample_generation();
                    self.queue.push_back(g);
                    self.queue.len() - 1
                }
            };
            let g = &mut self.queue[i];
            while out.len() < n && g.handed < g.samples.len() {
                out.push(g.samples[g.handed].x.clone());
                g.handed += 1;
            }
        }
        out
    }

    fn tell(&mut self, results: &[(Vec<f64>, Outcome)]) {
        for (_, outcome) in results {
            // Outcomes beyond what was asked have no point to belong to: ignored.
            let Some(g) = self.queue.iter_mut().find(|g| g.told.len() < g.handed) else {
                return;
            };
            let v = match outcome {
                Outcome::Values(v) => v.first().cloned().filter(|x| x.is_finite()),
                Outcome::Failed => None,
            };
            g.told.push(v);
            self.evaluations += 1;
            while self
                .queue
                .front()
                .is_some_and(|g| g.told.len() == g.samples.len())
            {
                if let Some(g) = self.queue.pop_front() {
                    self.finish(g);
                }
            }
        }
    }
}
