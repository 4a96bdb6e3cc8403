//! `type: bo` and `type: parego` — Bayesian optimization of one scalar target per proposal
//! (see the [module docs](super)).
//!
//! `bo` models the problem's scalar view `Σ wᵢ · minimizedᵢ`. `parego` (Knowles 2006) draws a
//! fresh weight vector `λ` uniformly from the simplex at every proposal, normalizes each
//! minimized objective to `[0, 1]` by the observed minimum and maximum, and models the
//! augmented Chebyshev scalarization `max_j λ_j f_j + ρ Σ_j λ_j f_j` (`ρ = 0.05`, the paper's
//! value); over many proposals the maximizers of EI for the different `λ` spread along the
//! Pareto front. (Knowles draws `λ` from a fixed lattice of the simplex; a uniform draw is
//! the continuous version BoTorch's `sample_simplex` uses.)
//!
//! ## References
//!
//! - J. Knowles, "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for
//!   Expensive Multiobjective Optimization Problems", IEEE TEVC 10(1):50–66, 2006, eq. 2.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::archive::Archive;
use super::model::{self, Kind, ScalarAcquisition, STARTS};
use super::turbo::TrustRegion;
use super::BoOptions;
use crate::acquisition::{maximize, Region};
use crate::{Outcome, Problem, SearchError, Searcher};

/// Anchors (best observations) whose perturbations join the candidates.
const ANCHORS: usize = 3;

/// What one proposal models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scalarization {
    /// The problem's weighted sum (`bo`).
    WeightedSum,
    /// A random augmented Chebyshev scalarization per proposal (`parego`).
    Chebyshev,
}

/// ParEGO's augmentation weight `ρ` (Knowles 2006, eq. 2).
const RHO: f64 = 0.05;

/// GP-based Bayesian optimization of a scalar target (module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bo {
    problem: Problem,
    scalarization: Scalarization,
    options: BoOptions,
    kind: Kind,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    archive: Archive,
    /// The start point, handed out first (then the Sobol design).
    x0: Option<Vec<f64>>,
    /// The last fit of the target GP (warm start and reuse).
    warm: model::Warm,
    /// The same per constraint.
    warm_constraints: Vec<model::Warm>,
    /// TuRBO state, when the search runs in a trust region.
    turbo: Option<TrustRegion>,
}

/// `x` in the unit cube of `problem`'s box.
pub(crate) fn to_unit(problem: &Problem, x: &[f64]) -> Vec<f64> {
    let b = &problem.bounds;
    x.iter()
        .enumerate()
        .map(|(i, v)| ((v - b.lo[i]) / b.width(i)).clamp(0.0, 1.0))
        .collect()
}

/// The unit-cube point `u` in `problem`'s box.
pub(crate) fn to_box(problem: &Problem, u: &[f64]) -> Vec<f64> {
    let b = &problem.bounds;
    let mut x: Vec<f64> = u
        .iter()
        .enumerate()
        .map(|(i, v)| b.lo[i] + v * b.width(i))
        .collect();
    b.clip(&mut x);
    x
}

impl Bo {
    /// A BO searcher for `problem`'s scalar view; `x0`, if given, is the first point asked.
    pub fn new(
        problem: Problem,
        x0: Option<Vec<f64>>,
        options: BoOptions,
        kind: Kind,
        seed: u64,
    ) -> Result<Self, SearchError> {
        Self::with_scalarization(problem, x0, options, kind, Scalarization::WeightedSum, seed)
    }

    /// ParEGO over `problem`'s objectives (log EI; no trust region: TuRBO is defined for
    /// one objective, so `trust_region: on` is an error and `auto` means off).
    pub fn parego(
        problem: Problem,
        x0: Option<Vec<f64>>,
        options: BoOptions,
        seed: u64,
    ) -> Result<Self, SearchError> {
        if options.trust_region == super::TrustRegionMode::On {
            return Err(SearchError::Config(
                "trust_region: TuRBO is single-objective; parego runs one global model".into(),
            ));
        }
        let options = BoOptions {
            trust_region: super::TrustRegionMode::Off,
            ..options
        };
        Self::with_scalarization(
            problem,
            x0,
            options,
            Kind::LogEi,
            Scalarization::Chebyshev,
            seed,
        )
    }

    fn with_scalarization(
        problem: Problem,
        x0: Option<Vec<f64>>,
        options: BoOptions,
        kind: Kind,
        scalarization: Scalarization,
        seed: u64,
    ) -> Result<Self, SearchError> {
        options.validate()?;
        if let Kind::Ucb { beta } = kind {
            if !(beta.is_finite() && beta >= 0.0) {
                return Err(SearchError::Config(format!(
                    "beta: must be finite and >= 0, got {beta}"
                )));
            }
        }
        let d = problem.bounds.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let archive = Archive::new(d, rng.random(), options.n_init);
        let x0 = x0.map(|x| to_unit(&problem, &x));
        Ok(Self {
            warm_constraints: vec![model::Warm::default(); problem.constraints],
            turbo: options.trust_region.active(d).then(|| TrustRegion::new(d)),
            problem,
            scalarization,
            options,
            kind,
            rng,
            archive,
            x0,
            warm: model::Warm::default(),
        })
    }

    /// The next point from the model, or `None` if no model could be fitted.
    fn propose(&mut self) -> Option<Vec<f64>> {
        let mut rng = model::proposal_rng(&mut self.rng);
        let scalar = self.scalarization(&mut rng);
        let (xs, ys) = self.archive.targets(|v| scalar(v));
        if xs.len() < 2 {
            return None;
        }
        let pending = self.archive.pending_points();
        let gp = model::fit_gp(xs.clone(), &ys, &mut self.warm, &mut rng)?;
        let ls = gp.params().length_scales();
        let gp = model::condition(gp, &pending, self.options.pending, &ys);
        let constraints = model::fit_constraints(
            &self.archive,
            &mut self.warm_constraints,
            &pending,
            &mut rng,
        );
        // The incumbent: the best feasible target of the epoch (failed trials are imputed
        // as the worst, never the best).
        let feasible: Vec<usize> = self
            .archive
            .current()
            .iter()
            .enumerate()
            .filter(|(_, o)| o.feasible())
            .map(|(i, _)| i)
            .collect();
        let best_i = feasible
            .iter()
            .copied()
            .min_by(|&a, &b| ys[a].total_cmp(&ys[b]).then(a.cmp(&b)));
        let d = self.problem.bounds.dim();
        let (region, mask) = match (&self.turbo, best_i) {
            (Some(t), Some(i)) => (
                t.region(&xs[i], &ls),
                Some((xs[i].clone(), (20.0 / d as f64).min(1.0))),
            ),
            _ => (Region::unit(d), None),
        };
        let anchors: Vec<Vec<f64>> = {
            let fx: Vec<Vec<f64>> = feasible.iter().map(|&i| xs[i].clone()).collect();
            let fy: Vec<f64> = feasible.iter().map(|&i| ys[i]).collect();
            model::best_points(&fx, &fy, ANCHORS)
                .into_iter()
                .map(|a| clamp_into(&a, &region))
                .collect()
        };
        let cands = model::candidates(
            &region,
            self.options.candidates,
            &anchors,
            mask.as_ref().map(|(c, p)| (c.as_slice(), *p)),
            &mut rng,
        );
        let acq = ScalarAcquisition {
            objective: gp,
            constraints,
            best: best_i.map(|i| ys[i]),
            kind: self.kind,
        };
        maximize(&acq, &region, &cands, STARTS).map(|(u, _)| u)
    }
}

/// A proposal's target as a function of the minimized objectives.
type Target = Box<dyn Fn(&[f64]) -> f64>;

impl Bo {
    /// The target of this proposal as a function of the minimized objectives.
    fn scalarization(&self, rng: &mut ChaCha8Rng) -> Target {
        match self.scalarization {
            Scalarization::WeightedSum => {
                let w = self.problem.weights.clone();
                Box::new(move |v| v.iter().zip(&w).map(|(a, b)| a * b).sum())
            }
            Scalarization::Chebyshev => {
                let m = self.problem.objectives();
                let (lo, hi) = observed_range(&self.archive, m);
                let lambda = simplex(m, rng);
                Box::new(move |v| {
                    let f: Vec<f64> = (0..m)
                        .map(|j| {
                            let w = hi[j] - lo[j];
                            if w > 0.0 {
                                (v[j] - lo[j]) / w
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    let max = f
                        .iter()
                        .zip(&lambda)
                        .map(|(a, l)| a * l)
                        .fold(f64::NEG_INFINITY, f64::max);
                    max + RHO * f.iter().zip(&lambda).map(|(a, l)| a * l).sum::<f64>()
                })
            }
        }
    }
}

/// Per-objective minimum and maximum of the scored observations (minimized units).
fn observed_range(archive: &Archive, m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lo = vec![f64::INFINITY; m];
    let mut hi = vec![f64::NEG_INFINITY; m];
    for v in archive
        .current()
        .iter()
        .filter_map(|o| o.objectives.as_ref())
    {
        for j in 0..m {
            lo[j] = lo[j].min(v[j]);
            hi[j] = hi[j].max(v[j]);
        }
    }
    (lo, hi)
}

/// A uniform draw from the `m`-simplex (normalized standard exponentials; Rubinstein &
/// Kroese, "Simulation and the Monte Carlo Method", 2nd ed., §2.5.4).
fn simplex(m: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let e: Vec<f64> = (0..m).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// `a` (a unit-cube point) clamped into `region`.
fn clamp_into(a: &[f64], region: &Region) -> Vec<f64> {
    a.iter()
        .zip(region.lo.iter().zip(&region.hi))
        .map(|(v, (l, h))| v.clamp(*l, *h))
        .collect()
}

impl Searcher for Bo {
    fn problem(&self) -> &Problem {
        &self.problem
    }

    fn multi_objective(&self) -> bool {
        self.scalarization == Scalarization::Chebyshev
    }

    fn ask(&mut self, trial: u64) -> Result<Vec<f64>, SearchError> {
        self.archive.tickets.check_ask(trial)?;
        let u = match self.archive.scheduled(&mut self.x0) {
            Some(u) => u,
            None => self.propose().unwrap_or_else(|| self.archive.next_design()),
        };
        Ok(self.archive.hand_out(&self.problem, trial, u))
    }

    fn tell(&mut self, trial: u64, outcome: &Outcome) -> Result<(), SearchError> {
        let obs = self.archive.tell(&self.problem, trial, outcome)?;
        let target = obs
            .feasible()
            .then(|| self.problem.penalized_scalar(outcome))
            .flatten();
        if let Some(t) = &mut self.turbo {
            if t.record(target) {
                self.archive.restart(self.options.n_init);
            }
        }
        Ok(())
    }

    fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError> {
        self.archive.enqueue(&self.problem, trial, &x)
    }

    fn pending(&self) -> Vec<u64> {
        self.archive.tickets.pending()
    }
}
