//! `type: ehvi` — multi-objective BO by expected hypervolume improvement.
//!
//! One GP per minimized objective (independent, as in Emmerich et al. 2006 and Optuna's
//! `GPSampler` for several objectives); the next point maximizes `ln EHVI` of their
//! predictions over the current front, exactly for any number of objectives through the box
//! decomposition of the non-dominated region ([`crate::ehvi`]), plus `Σ ln P(feasible)` for
//! constraints. The log form keeps ranking points whose EHVI underflows (Optuna 5 optimizes
//! log EHVI for the same reason).
//!
//! - **Front**: the feasible observations of the study, and, with the kriging believer, the
//!   predicted means of the pending trials (a parallel worker then looks for hypervolume the
//!   others are not already about to claim). With a constant liar the pending points condition
//!   the GPs only.
//! - **Reference point**: the problem's (minimized), else the observed nadir pushed out by 10%
//!   of the observed range ([`crate::pareto::reference_point`]).
//! - **Gradient**: `ln EHVI` is differentiated in the `2m` prediction parameters `(μ, σ)` by
//!   central differences (a closed form exists but is long; `2m` extra EHVI evaluations cost
//!   less than one GP prediction) and chained with the GPs' analytic gradients.
//!
//! ## References
//!
//! - M. T. M. Emmerich, K. C. Giannakoglou, B. Naujoks, "Single- and multiobjective
//!   evolutionary optimization assisted by Gaussian random field metamodels", IEEE TEVC
//!   10(4):421–439, 2006.
//! - K. Yang, M. Emmerich, A. Deutz, T. Bäck, "Efficient computation of expected hypervolume
//!   improvement using box decomposition algorithms", J. Global Optim. 75:3–34, 2019.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::archive::Archive;
use super::model::{self, Pending, STARTS};
use super::single::to_unit;
use super::BoOptions;
use crate::acquisition::{self, maximize, optimize::Acquisition, Region};
use crate::ehvi::{log_ehvi, nondominated_boxes, AxisBox};
use crate::gp::Gp;
use crate::{pareto, Outcome, Problem, SearchError, Searcher, Sense};

/// Margin of the derived reference point, as a fraction of the observed range.
const REFERENCE_MARGIN: f64 = 0.1;
/// Front points whose perturbations join the candidates.
const ANCHORS: usize = 4;

/// Expected-hypervolume-improvement BO (module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ehvi {
    problem: Problem,
    options: BoOptions,
    #[serde(with = "crate::rng")]
    rng: ChaCha8Rng,
    archive: Archive,
    x0: Option<Vec<f64>>,
    /// Last fitted hyperparameters per objective.
    warm: Vec<model::Warm>,
    /// The same per constraint.
    warm_constraints: Vec<model::Warm>,
}

impl Ehvi {
    /// An EHVI searcher for `problem`; `x0`, if given, is the first point asked. TuRBO is
    /// single-objective: `trust_region: on` is an error, `auto` means off.
    pub fn new(
        problem: Problem,
        x0: Option<Vec<f64>>,
        options: BoOptions,
        seed: u64,
    ) -> Result<Self, SearchError> {
        options.validate()?;
        if options.trust_region == super::TrustRegionMode::On {
            return Err(SearchError::Config(
                "trust_region: TuRBO is single-objective; ehvi runs one global model".into(),
            ));
        }
        let d = problem.bounds.dim();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let archive = Archive::new(d, rng.random(), options.n_init);
        Ok(Self {
            x0: x0.map(|x| to_unit(&problem, &x)),
            warm: vec![model::Warm::default(); problem.objectives()],
            warm_constraints: vec![model::Warm::default(); problem.constraints],
            problem,
            options,
            rng,
            archive,
        })
    }

    /// The reference point in minimized units.
    fn reference(&self) -> Vec<f64> {
        match &self.problem.reference {
            Some(r) => r
                .iter()
                .zip(&self.problem.senses)
                .map(|(v, s)| match s {
                    Sense::Minimize => *v,
                    Sense::Maximize => -*v,
                })
                .collect(),
            None => {
                let pts: Vec<Vec<f64>> = self
                    .archive
                    .current()
                    .iter()
                    .filter_map(|o| o.objectives.clone())
                    .collect();
                pareto::reference_point(&pts, REFERENCE_MARGIN)
            }
        }
    }

    fn propose(&mut self) -> Option<Vec<f64>> {
        let mut rng = model::proposal_rng(&mut self.rng);
        let m = self.problem.objectives();
        let pending = self.archive.pending_points();
        let mut gps = Vec::with_capacity(m);
        let mut believed = vec![Vec::new(); pending.len()];
        for j in 0..m {
            let (xs, ys) = self.archive.targets(|v| v[j]);
            if xs.len() < 2 {
                return None;
            }
            let gp = model::fit_gp(xs, &ys, &mut self.warm[j], &mut rng)?;
            for (b, p) in believed.iter_mut().zip(&pending) {
                b.push(gp.predict(p).0);
            }
            gps.push(model::condition(gp, &pending, self.options.pending, &ys));
        }
        let constraints = model::fit_constraints(
            &self.archive,
            &mut self.warm_constraints,
            &pending,
            &mut rng,
        );
        let mut front: Vec<Vec<f64>> = self
            .archive
            .current()
            .iter()
            .filter(|o| o.feasible())
            .filter_map(|o| o.objectives.clone())
            .collect();
        let anchors: Vec<Vec<f64>> = {
            let feasible: Vec<&super::archive::Observation> = self
                .archive
                .current()
                .iter()
                .filter(|o| o.feasible())
                .collect();
            let vals: Vec<Vec<f64>> = feasible
                .iter()
                .filter_map(|o| o.objectives.clone())
                .collect();
            let mut nd = pareto::pareto_front(&vals);
            nd.sort_by(|&a, &b| vals[a][0].total_cmp(&vals[b][0]).then(a.cmp(&b)));
            let step = (nd.len() / ANCHORS).max(1);
            nd.iter()
                .step_by(step)
                .take(ANCHORS)
                .map(|&i| feasible[i].u.clone())
                .collect()
        };
        if self.options.pending == Pending::Believer {
            front.extend(believed);
        }
        let reference = self.reference();
        let boxes = nondominated_boxes(&front, &reference);
        let d = self.problem.bounds.dim();
        let region = Region::unit(d);
        let cands = model::candidates(&region, self.options.candidates, &anchors, None, &mut rng);
        let acq = EhviAcquisition {
            objectives: gps,
            constraints,
            boxes,
        };
        maximize(&acq, &region, &cands, STARTS).map(|(u, _)| u)
    }
}

/// `ln EHVI` of independent objective GPs plus `Σ ln P(feasible)`.
struct EhviAcquisition {
    objectives: Vec<Gp>,
    constraints: Vec<Gp>,
    boxes: Vec<AxisBox>,
}

impl Acquisition for EhviAcquisition {
    fn value(&self, u: &[f64]) -> f64 {
        let (mu, sigma): (Vec<f64>, Vec<f64>) = self
            .objectives
            .iter()
            .map(|g| {
                let (m, v) = g.predict(u);
                (m, v.sqrt())
            })
            .unzip();
        let mut v = log_ehvi(&mu, &sigma, &self.boxes);
        for c in &self.constraints {
            let (m, var) = c.predict(u);
            v += crate::normal::log_cdf(-m / var.sqrt());
        }
        v
    }

    fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
        let preds: Vec<_> = self.objectives.iter().map(|g| g.predict_grad(u)).collect();
        let mut mu: Vec<f64> = preds.iter().map(|p| p.mean).collect();
        let mut sigma: Vec<f64> = preds.iter().map(|p| p.var.sqrt()).collect();
        let mut value = log_ehvi(&mu, &sigma, &self.boxes);
        let mut grad = vec![0.0; u.len()];
        if value.is_finite() {
            for (j, p) in preds.iter().enumerate() {
                // Central differences in μ_j and σ_j.
                let hm = 1e-6 * mu[j].abs().max(sigma[j]).max(1e-12);
                let m0 = mu[j];
                mu[j] = m0 + hm;
                let up = log_ehvi(&mu, &sigma, &self.boxes);
                mu[j] = m0 - hm;
                let dn = log_ehvi(&mu, &sigma, &self.boxes);
                mu[j] = m0;
                let d_mu = (up - dn) / (2.0 * hm);
                let s0 = sigma[j];
                let hs = 1e-6 * s0;
                sigma[j] = s0 + hs;
                let up = log_ehvi(&mu, &sigma, &self.boxes);
                sigma[j] = s0 - hs;
                let dn = log_ehvi(&mu, &sigma, &self.boxes);
                sigma[j] = s0;
                let d_sigma = (up - dn) / (2.0 * hs);
                for (g, (dm, dv)) in grad.iter_mut().zip(p.dmean.iter().zip(&p.dvar)) {
                    let d = d_mu * dm + d_sigma * dv / (2.0 * s0);
                    if d.is_finite() {
                        *g += d;
                    }
                }
            }
        }
        for c in &self.constraints {
            let (v, g) = acquisition::log_pof(&c.predict_grad(u));
            value += v;
            grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        }
        (value, grad)
    }
}

impl Searcher for Ehvi {
    fn problem(&self) -> &Problem {
        &self.problem
    }

    fn multi_objective(&self) -> bool {
        true
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
        self.archive.tell(&self.problem, trial, outcome)?;
        Ok(())
    }

    fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError> {
        self.archive.enqueue(&self.problem, trial, &x)
    }

    fn pending(&self) -> Vec<u64> {
        self.archive.tickets.pending()
    }
}
