//! Successive halving over eval examples: `pruner: {type: successive_halving, min_fraction,
//! reduction_factor}`.
//!
//! A candidate is scored rung by rung on growing, seeded fractions of each search split:
//! `min_fraction · η^k` for rung k (η = `reduction_factor`), the last rung all of it. Each
//! harness's examples are put in one seeded order shared by every trial, and rung k scores
//! the next stretch of that order, so every trial at rung k is scored on the same examples
//! and no example is scored twice ([`Schedule`]). After each rung but the last, the trial
//! goes on only if its scalar is among the best `max(⌊n/η⌋, 1)` of the `n` values reported
//! at that rung so far, its own included ([`Ladder`]); otherwise it is stored as `pruned`
//! with the metrics of the examples scored.
//!
//! This is the asynchronous form (ASHA): a trial is judged when it reaches a rung, against
//! the trials that reached it before, so no trial waits for others. Constraints come first:
//! a feasible value beats any infeasible one, infeasible values compare by total violation.
//!
//! ## References
//!
//! - Jamieson & Talwalkar, *Non-stochastic Best Arm Identification and Hyperparameter
//!   Optimization*, AISTATS 2016 (successive halving).
//! - Li et al., *A System for Massively Parallel Hyperparameter Tuning*, MLSys 2020 (ASHA,
//!   Algorithm 2: promote when in the top 1/η of the rung).
//! - Optuna's `SuccessiveHalvingPruner` (`optuna/pruners/_successive_halving.py`): the same
//!   rule, `promotable_idx = len(competing) // η − 1`, at least the best one promoted.

pub mod trial;

use std::path::Path;

use mergesearch_evals::ResolvedHarness;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `pruner:` in the study file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PrunerSpec {
    /// Successive halving over each harness's examples.
    SuccessiveHalving {
        /// Fraction of each search split scored at the first rung, in (0, 1] (default 0.25).
        #[serde(default = "default_min_fraction")]
        min_fraction: f64,
        /// η: a rung keeps the best 1/η of its trials and scores η times the examples of
        /// the rung before (an integer ≥ 2, default 3).
        #[serde(default = "default_reduction_factor")]
        reduction_factor: usize,
    },
}

fn default_min_fraction() -> f64 {
    0.25
}

fn default_reduction_factor() -> usize {
    3
}

impl PrunerSpec {
    /// What is wrong with the values, naming the key.
    pub fn problem(&self) -> Option<String> {
        let PrunerSpec::SuccessiveHalving {
            min_fraction,
            reduction_factor,
        } = self;
        if !(min_fraction.is_finite() && *min_fraction > 0.0 && *min_fraction <= 1.0) {
            return Some(format!(
                "pruner.min_fraction: {min_fraction} must be in (0, 1] (the fraction of each search split the first rung scores)"
            ));
        }
        if *reduction_factor < 2 {
            return Some(format!(
                "pruner.reduction_factor: {reduction_factor} must be an integer ≥ 2"
            ));
        }
        None
    }

    /// The fraction of the examples each rung has scored by its end: `min_fraction · η^k`
    /// while below 1, then 1.
    pub fn fractions(&self) -> Vec<f64> {
        let PrunerSpec::SuccessiveHalving {
            min_fraction,
            reduction_factor,
        } = self;
        let mut out = Vec::new();
        let mut f = *min_fraction;
        // 1e-9: 1/9 · 9 must count as 1, not as a rung just below it.
        while f < 1.0 - 1e-9 {
            out.push(f);
            f *= *reduction_factor as f64;
        }
        out.push(1.0);
        out
    }

    /// η.
    pub fn reduction_factor(&self) -> usize {
        let PrunerSpec::SuccessiveHalving {
            reduction_factor, ..
        } = self;
        *reduction_factor
    }
}

/// Which examples each rung scores, per harness.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Per harness: its example indices in the seeded order.
    order: Vec<Vec<usize>>,
    /// Per rung, per harness: examples scored by the end of the rung (a prefix of `order`).
    cuts: Vec<Vec<usize>>,
    /// η: each rung keeps the best 1/η of the trials that reach it.
    eta: usize,
}

impl Schedule {
    /// The rungs of `spec` over harnesses of `sizes` examples. Harness `h`'s order is a
    /// shuffle by ChaCha8 seeded with `seed`, stream `h`; rung k covers its first
    /// `⌈fraction_k · n⌉` examples (at least one). Rungs that would add no example to any
    /// harness (tiny data) are merged into the next.
    pub fn new(spec: &PrunerSpec, sizes: &[usize], seed: u64) -> Self {
        let order = sizes
            .iter()
            .enumerate()
            .map(|(h, &n)| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(h as u64);
                let mut o: Vec<usize> = (0..n).collect();
                o.shuffle(&mut rng);
                o
            })
            .collect();
        let mut cuts: Vec<Vec<usize>> = Vec::new();
        for f in spec.fractions() {
            let cut: Vec<usize> = sizes
                .iter()
                .map(|&n| (((f * n as f64) - 1e-9).ceil() as usize).clamp(n.min(1), n))
                .collect();
            if cuts.last() != Some(&cut) {
                cuts.push(cut);
            }
        }
        Self {
            order,
            cuts,
            eta: spec.reduction_factor(),
        }
    }

    /// Number of rungs.
    pub fn rungs(&self) -> usize {
        self.cuts.len()
    }

    /// Whether `rung` is the last (all examples, no promotion decision).
    pub fn is_last(&self, rung: usize) -> bool {
        rung + 1 >= self.cuts.len()
    }

    /// The examples of harness `h` that rung `rung` adds to those of the rungs before.
    pub fn added(&self, rung: usize, h: usize) -> &[usize] {
        let from = if rung == 0 { 0 } else { self.cuts[rung - 1][h] };
        &self.order[h][from..self.cuts[rung][h]]
    }

    /// Examples scored by the end of `rung`, over all harnesses.
    pub fn examples(&self, rung: usize) -> usize {
        self.cuts[rung].iter().sum()
    }
}

/// The schedule of `spec` over the study's search-split `harnesses`: each must score
/// examples in-process (a command harness scores a whole split at once and is refused,
/// naming it; `file` is the study file).
pub fn schedule(
    spec: &PrunerSpec,
    harnesses: &[ResolvedHarness],
    seed: u64,
    file: &Path,
) -> Result<Schedule> {
    let mut sizes = Vec::with_capacity(harnesses.len());
    for h in harnesses {
        match h {
            ResolvedHarness::Model(m) => sizes.push(m.examples()),
            ResolvedHarness::Command(c) => {
                return Err(Error::config(
                    file,
                    format!(
                        "pruner: harness `{}` runs a command on the whole split, so it cannot be scored a fraction at a time; remove `pruner` or score it with a built-in harness",
                        c.name()
                    ),
                ))
            }
        }
    }
    Ok(Schedule::new(spec, &sizes, seed))
}

/// Search-split examples the finished `trials` were scored on: a trial's last rung, or
/// `full` (the examples of a whole evaluation) for a complete trial without rungs. Failed
/// trials count the rungs they finished.
pub fn examples_scored(trials: &[crate::study::Trial], full: usize) -> usize {
    use crate::study::TrialState;
    trials
        .iter()
        .map(|t| match (t.state, t.rungs.last()) {
            (_, Some(r)) => r.examples,
            (TrialState::Complete, None) => full,
            _ => 0,
        })
        .sum()
}

/// One line describing the rungs: `successive halving: rungs at 25% / 75% / 100% of the
/// search split (200 / 600 / 800 examples), η = 3`.
pub fn describe(spec: &PrunerSpec, schedule: &Schedule) -> String {
    let pct: Vec<String> = spec
        .fractions()
        .iter()
        .map(|f| format!("{:.0}%", 100.0 * f))
        .collect();
    let ex: Vec<String> = (0..schedule.rungs())
        .map(|r| schedule.examples(r).to_string())
        .collect();
    format!(
        "successive halving: rungs at {} of the search split ({} examples), each keeps the best 1/{} of the trials that reach it",
        pct.join(" / "),
        ex.join(" / "),
        spec.reduction_factor()
    )
}

/// Judges a rung trial scored: its scalar and violation under `objectives`, and whether it
/// goes on (the ladder's rule; never after the last rung). The result is what the driver
/// stores.
pub fn judge(
    objectives: &crate::study::Objectives,
    schedule: &Schedule,
    ladder: &mut Ladder,
    scored: &trial::RungScored,
) -> Result<crate::study::Rung> {
    let e = objectives.evaluate(&scored.metrics)?;
    let promoted =
        !schedule.is_last(scored.rung) && ladder.promote(scored.rung, (e.violation, e.scalar));
    Ok(crate::study::Rung {
        rung: scored.rung,
        examples: scored.examples,
        metrics: scored.metrics.clone(),
        scalar: e.scalar,
        violation: e.violation,
        promoted,
    })
}

/// What a rung compares: (total constraint violation, scalar), lexicographically; smaller
/// is better.
pub type RungKey = (f64, f64);

/// The values reported at each rung so far, and the promotion rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    eta: usize,
    /// Per rung: every key reported there (its trials' own included).
    reported: Vec<Vec<RungKey>>,
}

impl Ladder {
    /// An empty ladder with reduction factor `eta` (≥ 2).
    pub fn new(eta: usize) -> Self {
        Self {
            eta: eta.max(2),
            reported: Vec::new(),
        }
    }

    /// The ladder of every rung the `stored` trials reported (all but the last rung are
    /// competitions), as a resumed study rebuilds it; the decisions stored with them stand.
    pub fn from_trials(schedule: &Schedule, stored: &[crate::study::Trial]) -> Self {
        let mut ladder = Self::new(schedule.eta);
        for r in stored.iter().flat_map(|t| &t.rungs) {
            if !schedule.is_last(r.rung) {
                ladder.record(r.rung, (r.violation, r.scalar));
            }
        }
        ladder
    }

    /// Adds a key reported at `rung` earlier (a resumed study rebuilds its ladder from the
    /// stored rungs; the decisions stored with them stand).
    pub fn record(&mut self, rung: usize, key: RungKey) {
        if self.reported.len() <= rung {
            self.reported.resize(rung + 1, Vec::new());
        }
        self.reported[rung].push(key);
    }

    /// Reports `key` at `rung` and says whether the trial goes on: whether `key` is at most
    /// the k-th smallest of the `n` keys reported there (this one included), with
    /// `k = max(⌊n/η⌋, 1)`.
    pub fn promote(&mut self, rung: usize, key: RungKey) -> bool {
        self.record(rung, key);
        let mut keys = self.reported[rung].clone();
        keys.sort_by(cmp_key);
        let k = (keys.len() / self.eta).max(1);
        cmp_key(&key, &keys[k - 1]).is_le()
    }
}

/// Lexicographic order of keys. `+ 0.0` turns −0 into +0: a sum over nothing is −0 in
/// Rust, the storage gives it back as +0, and the two must tie.
fn cmp_key(a: &RungKey, b: &RungKey) -> std::cmp::Ordering {
    let z = |x: f64| x + 0.0;
    z(a.0).total_cmp(&z(b.0)).then(z(a.1).total_cmp(&z(b.1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(min_fraction: f64, reduction_factor: usize) -> PrunerSpec {
        PrunerSpec::SuccessiveHalving {
            min_fraction,
            reduction_factor,
        }
    }

    #[test]
    fn rung_fractions_grow_by_eta_up_to_the_whole_split() {
        assert_eq!(sh(0.25, 3).fractions(), vec![0.25, 0.75, 1.0]);
        assert_eq!(sh(1.0 / 9.0, 3).fractions().len(), 3);
        assert_eq!(sh(0.5, 2).fractions(), vec![0.5, 1.0]);
        assert_eq!(sh(1.0, 3).fractions(), vec![1.0]);
        assert!(sh(0.0, 3)
            .problem()
            .unwrap()
            .contains("pruner.min_fraction"));
        assert!(sh(1.5, 3).problem().is_some());
        assert!(sh(0.25, 1)
            .problem()
            .unwrap()
            .contains("pruner.reduction_factor"));
        assert_eq!(sh(0.25, 3).problem(), None);
    }

    #[test]
    fn rungs_extend_each_other_and_cover_every_example_once() {
        // 200 and 7 examples at 0.25 / 0.75 / 1: ⌈50⌉, ⌈150⌉, 200 and ⌈1.75⌉ = 2,
        // ⌈5.25⌉ = 6, 7.
        let s = Schedule::new(&sh(0.25, 3), &[200, 7], 5);
        assert_eq!(s.rungs(), 3);
        assert_eq!(
            (s.examples(0), s.examples(1), s.examples(2)),
            (52, 156, 207)
        );
        for (h, n) in [(0, 200), (1, 7)] {
            let mut all: Vec<usize> = (0..3).flat_map(|r| s.added(r, h).to_vec()).collect();
            assert_ne!(
                all,
                (0..n).collect::<Vec<_>>(),
                "seeded order, not file order"
            );
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
        }
        // Same seed, same order; another seed, another order.
        assert_eq!(s, Schedule::new(&sh(0.25, 3), &[200, 7], 5));
        assert_ne!(s, Schedule::new(&sh(0.25, 3), &[200, 7], 6));
        // Two examples: ⌈0.5⌉ = 1, ⌈1.5⌉ = 2 = all, so the second and last rung merge.
        let tiny = Schedule::new(&sh(0.25, 3), &[2], 0);
        assert_eq!(tiny.rungs(), 2);
        assert!(tiny.is_last(1) && !tiny.is_last(0));
    }

    #[test]
    fn the_ladder_promotes_the_top_third_of_each_rung_as_reported() {
        // η = 3, scalars reported at rung 0 in this order (hand-checked against
        // k = max(⌊n/3⌋, 1), promote iff value ≤ k-th smallest):
        //  n=1 [5]            k=1 → 5 ≤ 5 promote
        //  n=2 [5,3]          k=1 → 3 ≤ 3 promote
        //  n=3 [5,3,4]        k=1 → 4 > 3 prune
        //  n=4 [.., 6]        k=1 → 6 > 3 prune
        //  n=5 [.., 2]        k=1 → 2 ≤ 2 promote
        //  n=6 [.., 3.5]      k=2 → sorted 2,3,3.5.. 3.5 > 3 prune
        //  n=7 [.., 2.5]      k=2 → sorted 2,2.5,3.. 2.5 ≤ 2.5 promote
        //  n=8 [.., 9]        k=2 → prune
        //  n=9 [.., 3]        k=3 → sorted 2,2.5,3,3.. 3 ≤ 3 promote (ties go on)
        let mut l = Ladder::new(3);
        let got: Vec<bool> = [5.0, 3.0, 4.0, 6.0, 2.0, 3.5, 2.5, 9.0, 3.0]
            .iter()
            .map(|&v| l.promote(0, (0.0, v)))
            .collect();
        assert_eq!(
            got,
            [true, true, false, false, true, false, true, false, true]
        );
        // −0 and +0 tie (a live sum over no constraint is −0; stored, it reads back +0).
        let mut z = Ladder::new(3);
        z.record(0, (0.0, 0.0));
        assert!(z.promote(0, (-0.0, -0.0)));
        let mut z = Ladder::new(3);
        z.record(0, (-0.0, -0.0));
        assert!(z.promote(0, (0.0, 0.0)));
        // Rung 1 is its own competition; an infeasible key loses to any feasible one.
        assert!(l.promote(1, (0.0, 100.0)));
        assert!(!l.promote(1, (0.5, -100.0)));
        assert!(l.promote(1, (0.0, 50.0)));
    }
}
