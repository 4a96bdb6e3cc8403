//! IPOP-CMA-ES over a box, as an ask/tell [`Searcher`].
//!
//! - **Update.** Active CMA-ES by default ([`CmaEsOptions::active`]): the worst `λ − μ`
//!   offspring of a generation get negative weights in the covariance update (Jastrebski &
//!   Arnold 2006; tutorial eq. 46–53), with pycma's learning rates; the parameters are in
//!   `params.rs`, the update in `run.rs`. `active: false` is the positive-weights-only
//!   strategy of the tutorial's Table 1, which is also what a snapshot from before active
//!   CMA resumes with.
//! - **Objective.** The scalar view of the [`Problem`] (weighted sum of the minimized
//!   objectives plus [`crate::PENALTY`] times the total constraint violation).
//! - **Coordinates.** The search runs in normalized coordinates `u ∈ [0,1]^d`
//!   (`x = lo + u·width`), so one step size fits every coordinate; `sigma0` is a fraction of
//!   the box width (default 1/6, the Sakana / mergekit-evolve convention) and [`CmaEs::sigma`]
//!   is in the same unit.
//! - **Box.** A sample `u` is repaired by clipping into `[0,1]^d`; the clipped point is handed
//!   out (always inside the box) and evaluated. For ranking, its fitness gets the penalty
//!   `γ‖u − clip(u)‖²` with `γ = 2·Δf / (σ² · mean(diag C) · d)`, `Δf` the range of the
//!   generation's scored values (pycma's `BoundPenalty` initial weight); the update uses the
//!   unrepaired `u`. [`CmaEs::best`] reports the raw, unpenalized value of an in-box point.
//! - **Protocol** (trial tickets, see [`crate::searcher`]). A generation of `λ` points is
//!   sampled at once and handed out one trial at a time, each sample remembering its trial id.
//!   When every sample of the open generations has been handed out, the next generation is
//!   sampled from the current (not yet updated) distribution and handed out too; when it is
//!   used, its steps are re-expressed against the then-current mean and clipped in
//!   Mahalanobis length (injected solutions, Hansen 2011). A tell fills its trial's slot
//!   wherever that generation is in the queue; a generation is used for the update once all
//!   its samples are told, oldest generation first (a complete later generation waits for an
//!   earlier incomplete one), so the update never depends on the order of the tells.
//!   Outcomes are ranked by [`Problem::penalized_scalar`]; failed outcomes (and NaN values)
//!   rank below every scored point and get no recombination weight, positive or negative
//!   (the negative weights go to the worst *scored* points). The negative steps of an
//!   injected generation are measured from the mean and σ it was sampled with.
//! - **Restarts (IPOP).** When a run meets a stopping criterion of the tutorial's B.3 (tolfun,
//!   tolx, no-effect axis/coordinate, cond(C) > 1e14, stagnation), a new run starts from a
//!   uniformly random mean with `σ = sigma0` and `λ` doubled, for the first `max_restarts`
//!   restarts; later restarts keep the last `λ` (a searcher must always answer `ask`). `λ` never
//!   doubles past [`max_popsize`] (the memory limit below).
//! - **Limits.** `popsize` is at most [`MAX_POPSIZE`] and small enough that a generation's
//!   samples (`2·λ·d` floats) fit in [`MAX_STATE_BYTES`]; the dimension is small enough that
//!   the `d × d` matrices (C, B and the eigensolver's copies, four in all) fit in it too;
//!   `max_restarts` is at most [`MAX_RESTARTS`]. Beyond these a study would abort on an
//!   allocation or be killed for memory instead of failing with a message.
//!   Points of an old run still being evaluated are counted for [`CmaEs::best`] only.
//!
//! The whole state (RNG, pending generations and their trial ids) is serde-serializable: snapshot → restore →
//! continue gives the same asks as continuing.
//!
//! ## References
//!
//! - N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (eq. 38–58,
//!   Appendix B and C).
//! - G. A. Jastrebski, D. V. Arnold, "Improving Evolution Strategies through Active
//!   Covariance Matrix Adaptation", IEEE CEC 2006 (active CMA).
//! - A. Auger, N. Hansen, "A Restart CMA Evolution Strategy With Increasing Population
//!   Size", CEC 2005 (IPOP).
//! - N. Hansen, "Injecting External Solutions Into CMA-ES", arXiv:1110.4181, 2011.
//! - N. Hansen et al., pycma (`cma` on PyPI): default stopping thresholds, `BoundPenalty`,
//!   the learning rates and negative weights of its default `CMA_active=True`.

mod params;
mod run;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use run::Run;
pub use run::Stop;

use crate::generations::Generations;
use crate::{Outcome, Problem, SearchError, Searcher};

/// Default initial step size, as a fraction of the box width.
pub const DEFAULT_SIGMA0: f64 = 1.0 / 6.0;
/// Default number of IPOP restarts that double the population.
pub const DEFAULT_MAX_RESTARTS: usize = 9;
/// Largest population accepted (any dimension).
pub const MAX_POPSIZE: usize = 100_000;
/// Largest `max_restarts` accepted: λ stops doubling at [`max_popsize`] long before.
pub const MAX_RESTARTS: usize = 100;
/// Memory a searcher's population or `d × d` state may take, in bytes (1 GiB).
pub const MAX_STATE_BYTES: usize = 1 << 30;

/// Largest population for dimension `d`: [`MAX_POPSIZE`], or less where one generation's
/// samples (unrepaired and repaired, `2·λ·d` floats) would exceed [`MAX_STATE_BYTES`].
pub fn max_popsize(d: usize) -> usize {
    MAX_POPSIZE.min(MAX_STATE_BYTES / (16 * d.max(1)))
}

/// Largest dimension whose four `d × d` matrices fit in [`MAX_STATE_BYTES`].
pub fn max_dim() -> usize {
    ((MAX_STATE_BYTES / 32) as f64).sqrt() as usize
}

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
    /// Active covariance update: negative recombination weights for the worst offspring
    /// (Jastrebski & Arnold 2006; tutorial eq. 46–53) with pycma's learning rates; `false`
    /// is the positive-weights-only strategy of the tutorial's Table 1. Default `true`; a
    /// snapshot without the field (written before active CMA) reads as `false`, so it
    /// resumes exactly as before.
    #[serde(default)]
    pub active: bool,
}

impl Default for CmaEsOptions {
    fn default() -> Self {
        Self {
            sigma0: DEFAULT_SIGMA0,
            popsize: None,
            max_restarts: DEFAULT_MAX_RESTARTS,
            active: true,
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

/// What a generation was sampled from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Origin {
    /// Run it was sampled in.
    run_id: u64,
    /// Distribution version (updates so far) it was sampled from.
    version: u64,
    /// Mean and step size it was sampled with (normalized units), for the negative steps
    /// of an injected generation; `None` in snapshots written before active CMA.
    #[serde(default)]
    from: Option<(Vec<f64>, f64)>,
}

/// Generations of samples, told penalized scalars (`None` = failed).
type Queue = Generations<Sample, Option<f64>, Origin>;

/// IPOP-CMA-ES over a box; see the module docs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CmaEs {
    problem: Problem,
    opts: CmaEsOptions,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    run: Run,
    run_id: u64,
    version: u64,
    restarts: usize,
    generation: u64,
    evaluations: u64,
    queue: Queue,
    best: Option<(Vec<f64>, f64)>,
    last_stop: Option<Stop>,
}

impl CmaEs {
    /// A CMA-ES for `problem` (its scalar view) starting at `x0` (default: the box center).
    /// Errors name the offending field.
    pub fn new(
        problem: Problem,
        x0: Option<Vec<f64>>,
        opts: CmaEsOptions,
        seed: u64,
    ) -> Result<Self, SearchError> {
        let bounds = &problem.bounds;
        let d = bounds.dim();
        if d > max_dim() {
            return Err(SearchError::Config(format!(
                "CMA-ES keeps d × d matrices: a {d}-dimensional search box needs {:.1} GiB \
                 (limit {} dimensions, {} GiB)",
                (32 * d * d) as f64 / (1u64 << 30) as f64,
                max_dim(),
                MAX_STATE_BYTES >> 30
            )));
        }
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
            if p > max_popsize(d) {
                return Err(SearchError::Config(format!(
                    "searcher.popsize must be <= {} in {d} dimensions (at most {MAX_POPSIZE}, \
                     and one generation's samples within {} GiB), got {p}",
                    max_popsize(d),
                    MAX_STATE_BYTES >> 30
                )));
            }
        }
        if opts.max_restarts > MAX_RESTARTS {
            return Err(SearchError::Config(format!(
                "searcher.max_restarts must be <= {MAX_RESTARTS} (the population stops doubling \
                 at {} in {d} dimensions long before), got {}",
                max_popsize(d),
                opts.max_restarts
            )));
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
        let lambda = opts
            .popsize
            .unwrap_or_else(|| default_popsize(d).min(max_popsize(d)).max(2));
        Ok(Self {
            run: Run::new(u0, opts.sigma0, lambda, opts.active),
            problem,
            opts,
            rng: ChaCha8Rng::seed_from_u64(seed),
            run_id: 0,
            version: 0,
            restarts: 0,
            generation: 0,
            evaluations: 0,
            queue: Queue::default(),
            best: None,
            last_stop: None,
        })
    }

    /// Best told point and its value so far (over all runs), in the scalar view with the
    /// constraint penalty ([`Problem::penalized_scalar`]), without the box penalty.
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

    /// Outcomes told so far (failed ones included).
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
        let b = &self.problem.bounds;
        let mut x: Vec<f64> = (0..u.len())
            .map(|i| b.lo[i] + u[i].clamp(0.0, 1.0) * b.width(i))
            .collect();
        b.clip(&mut x);
        x
    }

    /// Samples λ points from the current distribution into the queue.
    fn sample_generation(&mut self) {
        let samples = (0..self.run.p.lambda)
            .map(|_| {
                let u = self.run.sample(&mut self.rng);
                let repair2 = u.iter().map(|v| (v - v.clamp(0.0, 1.0)).powi(2)).sum();
                let x = self.to_box(&u);
                Sample { u, x, repair2 }
            })
            .collect();
        let origin = Origin {
            run_id: self.run_id,
            version: self.version,
            from: Some((self.run.mean.clone(), self.run.sigma)),
        };
        self.queue.push(samples, origin);
    }

    /// Updates the run from a fully told generation, then restarts if it stopped.
    fn finish(&mut self, samples: Vec<Sample>, told: Vec<Option<f64>>, origin: Origin) {
        for (s, v) in samples.iter().zip(&told) {
            if let Some(v) = v {
                if self.best.as_ref().is_none_or(|(_, b)| v < b) {
                    self.best = Some((s.x.clone(), *v));
                }
            }
        }
        if origin.run_id != self.run_id {
            return;
        }
        // Ranking fitness: value + boundary penalty (module docs).
        let scored: Vec<f64> = told.iter().flatten().cloned().collect();
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
        let fit: Vec<Option<f64>> = samples
            .iter()
            .zip(&told)
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
        let u: Vec<Vec<f64>> = samples.into_iter().map(|s| s.u).collect();
        let from = origin.from.as_ref().map(|(m, s)| (m.as_slice(), *s));
        self.run
            .update(&u, &fit, origin.version != self.version, from);
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
            (self.run.p.lambda * 2).min(max_popsize(self.run.n).max(self.run.p.lambda))
        } else {
            self.run.p.lambda
        };
        let mean: Vec<f64> = (0..self.run.n).map(|_| self.rng.random::<f64>()).collect();
        self.run = Run::new(mean, self.opts.sigma0, lambda, self.opts.active);
        self.run_id += 1;
        self.version += 1;
        // Points of the old run not yet handed out are dropped.
        self.queue.drop_unhanded();
    }
}

impl Searcher for CmaEs {
    fn problem(&self) -> &Problem {
        &self.problem
    }

    fn multi_objective(&self) -> bool {
        false
    }

    fn ask(&mut self, trial: u64) -> Result<Vec<f64>, SearchError> {
        self.queue.check_ask(trial)?;
        if self.queue.exhausted() {
            if self.queue.never_pushed() {
                // Warm start: the first generation centers on the best enqueued point told
                // so far (before any generation, `best` holds only those).
                if let Some((x, _)) = &self.best {
                    let b = &self.problem.bounds;
                    self.run.mean = (0..x.len())
                        .map(|i| (x[i] - b.lo[i]) / b.width(i))
                        .collect();
                }
            }
            self.sample_generation();
        }
        Ok(self.queue.hand_out(trial).x)
    }

    fn tell(&mut self, trial: u64, outcome: &Outcome) -> Result<(), SearchError> {
        self.queue.check_tell(trial)?;
        if let Some(x) = self.queue.take_external(trial) {
            // An enqueued point: outside the generations; it counts as the best so far.
            if let Some(v) = self.problem.penalized_scalar(outcome) {
                if self.best.as_ref().is_none_or(|(_, b)| v < *b) {
                    self.best = Some((x, v));
                }
            }
            return Ok(());
        }
        self.queue
            .tell(trial, self.problem.penalized_scalar(outcome))?;
        self.evaluations += 1;
        while let Some(g) = self.queue.pop_complete() {
            let (samples, told, origin) = g.into_told();
            self.finish(samples, told, origin);
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
