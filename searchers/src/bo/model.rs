//! The modelling step shared by the Bayesian searchers: fit GPs with warm starts, condition
//! them on pending trials, build candidate sets, and the single-target acquisition
//! (log EI or UCB, times the probability of feasibility).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::archive::Archive;
use crate::acquisition::{self, optimize::Acquisition, Region};
use crate::gp::{self, FitOptions, Gp, GpParams, Prediction};
use crate::qmc;

/// How trials asked but not yet told shape the next proposal (Ginsbourger, Le Riche,
/// Carraro 2010, "Kriging is well-suited to parallelize optimization").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pending {
    /// Kriging believer: a pending point is observed at the model's own mean there.
    #[default]
    Believer,
    /// Constant liar with the best observed target (optimistic; spreads points least).
    LiarMin,
    /// Constant liar with the mean observed target.
    LiarMean,
    /// Constant liar with the worst observed target (pessimistic; spreads points most).
    LiarMax,
}

/// The last fit of one GP: its hyperparameters (the next fit's warm start) and a fingerprint
/// of the data they were fitted to. Trials asked together (`--parallel`, out-of-order tells)
/// see the same data, and the fit is what a proposal costs most: asked again before anything
/// new is told, a searcher reuses the hyperparameters instead of re-optimizing them. Part of
/// the searcher's state, so a resumed searcher reuses exactly when an uninterrupted one does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Warm {
    /// Hyperparameters of the last fit.
    pub params: Option<GpParams>,
    /// [`fingerprint`] of the inputs and targets of the last fit.
    pub data: u64,
}

/// FNV-1a over the bits of `xs` and `ys` (stable across platforms and Rust versions, unlike
/// `std`'s hasher).
fn fingerprint(xs: &[Vec<f64>], ys: &[f64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let words = xs.iter().flatten().chain(ys).map(|v| v.to_bits());
    for w in std::iter::once(xs.len() as u64).chain(words) {
        for b in w.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Fits a GP to `(xs, ys)`, warm-started from (and updating) `warm`. A warm start runs alone
/// (as Optuna re-fits from its previous parameters), joined by the prior mode every 16th
/// observation so a fit cannot stay in a poor local optimum for long; a cold fit starts from
/// the prior mode and one random point. Data identical to the last fit's reuses its
/// hyperparameters ([`Warm`]); no random draw is made either way once a fit exists.
pub(crate) fn fit_gp(
    xs: Vec<Vec<f64>>,
    ys: &[f64],
    warm: &mut Warm,
    rng: &mut ChaCha8Rng,
) -> Option<Gp> {
    let data = fingerprint(&xs, ys);
    if let Some(params) = warm.params.as_ref().filter(|_| warm.data == data) {
        if let Some(g) = Gp::new(xs.clone(), ys, params.clone()) {
            return Some(g);
        }
    }
    let options = FitOptions {
        restarts: if warm.params.is_some() { 0 } else { 1 },
        mode_start: xs.len().is_multiple_of(16),
        ..FitOptions::default()
    };
    let g = gp::fit(xs, ys, warm.params.as_ref(), options, rng)?;
    *warm = Warm {
        params: Some(g.params().clone()),
        data,
    };
    Some(g)
}

/// `gp` conditioned on the pending points under `strategy`; `ys` are the targets it was
/// fitted to (for the liars' values).
pub(crate) fn condition(gp: Gp, pending: &[Vec<f64>], strategy: Pending, ys: &[f64]) -> Gp {
    if pending.is_empty() {
        return gp;
    }
    let lie = match strategy {
        Pending::Believer => None,
        Pending::LiarMin => ys.iter().copied().reduce(f64::min),
        Pending::LiarMax => ys.iter().copied().reduce(f64::max),
        Pending::LiarMean => Some(ys.iter().sum::<f64>() / ys.len().max(1) as f64),
    };
    let conditioned = match lie {
        None => gp.believe(pending),
        Some(v) => gp.with_observations(pending, &vec![v; pending.len()]),
    };
    conditioned.unwrap_or(gp)
}

/// One GP per constraint whose violations are not all 0 in the current epoch (a constraint
/// never violated has probability of feasibility 1 and needs no model), believer-conditioned
/// on the pending points. `warm` holds one slot per constraint.
pub(crate) fn fit_constraints(
    archive: &Archive,
    warm: &mut [Warm],
    pending: &[Vec<f64>],
    rng: &mut ChaCha8Rng,
) -> Vec<Gp> {
    let mut out = Vec::new();
    for (c, w) in warm.iter_mut().enumerate() {
        let (xs, vs) = archive.constraint(c);
        if vs.iter().all(|v| *v <= 0.0) {
            continue;
        }
        if let Some(g) = fit_gp(xs, &vs, w, rng) {
            out.push(condition(g, pending, Pending::Believer, &vs));
        }
    }
    out
}

/// The acquisition of a single (scalarized) target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// log expected improvement (the default).
    LogEi,
    /// Upper confidence bound of the negated target with exploration weight `beta`.
    Ucb {
        /// `β` in `μ − √β σ`.
        beta: f64,
    },
}

/// log EI (or UCB) of the objective GP plus `Σ ln P(feasible)` over the constraint GPs; with
/// no feasible observation yet (`best = None`) only the feasibility term (Gardner et al.
/// 2014: first find the feasible region).
pub(crate) struct ScalarAcquisition {
    pub objective: Gp,
    pub constraints: Vec<Gp>,
    pub best: Option<f64>,
    pub kind: Kind,
}

fn plain(gp: &Gp, u: &[f64]) -> Prediction {
    let (mean, var) = gp.predict(u);
    Prediction {
        mean,
        var,
        dmean: Vec::new(),
        dvar: Vec::new(),
    }
}

impl ScalarAcquisition {
    fn eval(&self, u: &[f64], predict: impl Fn(&Gp, &[f64]) -> Prediction) -> (f64, Vec<f64>) {
        let mut total = (0.0, vec![0.0; u.len()]);
        let mut add = |(v, g): (f64, Vec<f64>)| {
            total.0 += v;
            total.1.iter_mut().zip(g).for_each(|(a, b)| *a += b);
        };
        if let Some(best) = self.best {
            let p = predict(&self.objective, u);
            add(match self.kind {
                Kind::LogEi => acquisition::log_ei(&p, best),
                Kind::Ucb { beta } => acquisition::ucb(&p, beta),
            });
        }
        for c in &self.constraints {
            add(acquisition::log_pof(&predict(c, u)));
        }
        total
    }
}

impl Acquisition for ScalarAcquisition {
    fn value(&self, u: &[f64]) -> f64 {
        self.eval(u, plain).0
    }

    fn value_grad(&self, u: &[f64]) -> (f64, Vec<f64>) {
        self.eval(u, |g, u| g.predict_grad(u))
    }
}

/// Local searches per proposal.
pub(crate) const STARTS: usize = 5;
/// Perturbations per anchor point.
const PER_ANCHOR: usize = 16;

/// Candidate points in `region`: `n` scrambled Sobol points (seeded from `rng`) and
/// [`PER_ANCHOR`] Gaussian perturbations (σ = 5% of the region's width) of each anchor. With
/// `mask = Some((center, p))` each Sobol point keeps the center's coordinates except a
/// random subset (each with probability `p`, at least one): TuRBO's perturbation masks for
/// high dimension (Eriksson et al. 2019, §3 and their reference code).
pub(crate) fn candidates(
    region: &Region,
    n: usize,
    anchors: &[Vec<f64>],
    mask: Option<(&[f64], f64)>,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<f64>> {
    let d = region.lo.len();
    let seed: u32 = rng.random();
    let mut out: Vec<Vec<f64>> = (0..n as u64)
        .map(|i| region.from_unit(&qmc::sobol_point(i, d, seed)))
        .collect();
    if let Some((center, p)) = mask {
        for c in &mut out {
            let keep: Vec<bool> = (0..d).map(|_| rng.random::<f64>() >= p).collect();
            let forced = if keep.iter().all(|k| *k) {
                Some(rng.random_range(0..d))
            } else {
                None
            };
            for (j, v) in c.iter_mut().enumerate() {
                if keep[j] && forced != Some(j) {
                    *v = center[j];
                }
            }
        }
    }
    for a in anchors {
        for _ in 0..PER_ANCHOR {
            let p = (0..d)
                .map(|j| {
                    let w = region.hi[j] - region.lo[j];
                    let z: f64 = rng.sample(StandardNormal);
                    (a[j] + 0.05 * w * z).clamp(region.lo[j], region.hi[j])
                })
                .collect();
            out.push(p);
        }
    }
    out
}

/// The best `k` points of `xs` by `ys` (ascending), as anchors for candidate perturbations.
pub(crate) fn best_points(xs: &[Vec<f64>], ys: &[f64], k: usize) -> Vec<Vec<f64>> {
    let mut order: Vec<usize> = (0..ys.len()).collect();
    order.sort_by(|&a, &b| ys[a].total_cmp(&ys[b]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|i| xs[i].clone()).collect()
}

/// A fresh generator for one proposal, seeded from the searcher's: every random draw of a
/// proposal comes from it, so the searcher's own stream advances by one word per ask.
pub(crate) fn proposal_rng(rng: &mut ChaCha8Rng) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(rng.random())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fit_on_unchanged_data_is_reused_and_new_data_refits() {
        let xs: Vec<Vec<f64>> = (0..12)
            .map(|i| vec![i as f64 / 11.0, ((7 * i) % 12) as f64 / 11.0])
            .collect();
        let ys: Vec<f64> = xs
            .iter()
            .map(|x| (6.0 * x[0]).sin() + x[1] * x[1])
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut warm = Warm::default();
        let first = fit_gp(xs.clone(), &ys, &mut warm, &mut rng).unwrap();
        let after_first = (warm.clone(), rng.clone());
        // Same data: the same hyperparameters, no optimization (the warm start would move
        // them by L-BFGS's tolerance) and no random draw.
        let again = fit_gp(xs.clone(), &ys, &mut warm, &mut rng).unwrap();
        assert_eq!(again.params(), first.params());
        assert_eq!((warm.clone(), rng.clone()), after_first);
        // One more observation: a new fit, recorded with its data.
        let mut xs2 = xs.clone();
        xs2.push(vec![0.5, 0.5]);
        let mut ys2 = ys.clone();
        ys2.push(0.0);
        fit_gp(xs2.clone(), &ys2, &mut warm, &mut rng).unwrap();
        assert_ne!(warm.data, after_first.0.data);
        assert_eq!(warm.data, fingerprint(&xs2, &ys2));
    }
}
