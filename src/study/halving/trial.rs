//! Scoring one trial rung by rung: the candidate is built once, each rung scores only the
//! examples the rungs before it did not, and a judge (the driver: [`super::Ladder`] and the
//! storage) decides after each rung whether the trial goes on.

use mergesearch_evals::{score_tally, CausalLm, ResolvedHarness, Tally, TextTokenizer};

use super::Schedule;
use crate::error::{Error, Result};
use crate::eval::LoadedTarget;
use crate::study::trial::{MetricMap, Rung};

/// A rung an evaluation thread scored, before the driver judges it.
#[derive(Debug, Clone, PartialEq)]
pub struct RungScored {
    /// 0-based rung.
    pub rung: usize,
    /// Examples scored by the end of this rung, over all harnesses.
    pub examples: usize,
    /// The suite's metrics on those examples.
    pub metrics: MetricMap,
    /// The per-example scores this rung added: one [`Tally`] per harness, as JSON.
    pub scores: String,
}

/// What a trial interrupted while it ran already has: its stored rungs and their
/// per-example scores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resumed {
    /// Its rungs, in order.
    pub rungs: Vec<Rung>,
    /// Per rung: the per-example scores stored with it.
    pub scores: Vec<(usize, String)>,
}

/// How a trial's rungs ended: the metrics of the examples scored, and whether it was pruned
/// (stopped before the last rung).
#[derive(Debug, Clone, PartialEq)]
pub struct RungsDone {
    /// Metrics of every example scored.
    pub metrics: MetricMap,
    /// Whether it stopped before the last rung.
    pub pruned: bool,
}

/// What rungs are scored on: a built candidate's model and tokenizer.
pub trait RungModel {
    /// The model and its tokenizer (`None`: the candidate was built without a model).
    fn parts(&self) -> Option<(&dyn CausalLm, &dyn TextTokenizer)>;
}

impl RungModel for LoadedTarget {
    fn parts(&self) -> Option<(&dyn CausalLm, &dyn TextTokenizer)> {
        self.model()
    }
}

/// Scores trial `label` rung by rung on `harnesses` (model harnesses only), from where
/// `resumed` left it: `load` builds the candidate (only if a rung is left to score), `judge`
/// stores each scored rung and says whether the trial goes on (its answer after the last
/// rung is ignored).
pub fn score_in_rungs<M: RungModel>(
    label: &str,
    load: impl FnOnce() -> Result<M>,
    harnesses: &[ResolvedHarness],
    schedule: &Schedule,
    resumed: Resumed,
    judge: &mut dyn FnMut(RungScored) -> Result<bool>,
) -> Result<RungsDone> {
    let bad = |m: String| Error::model(label, m);
    let models: Vec<&dyn mergesearch_evals::Harness> = harnesses
        .iter()
        .map(|h| match h {
            ResolvedHarness::Model(m) => Ok(m.as_ref()),
            ResolvedHarness::Command(c) => Err(bad(format!(
                "harness `{}` runs a command on the whole split: it cannot be scored rung by rung",
                c.name()
            ))),
        })
        .collect::<Result<_>>()?;
    let mut tallies = vec![Tally::new(); models.len()];
    for (k, r) in resumed.rungs.iter().enumerate() {
        if r.rung != k {
            return Err(bad(format!("stored rungs skip rung {k}")));
        }
        if r.rung + 1 < resumed.rungs.len() && !r.promoted {
            return Err(bad(format!(
                "rung {k} was not promoted, yet rungs follow it"
            )));
        }
    }
    if let Some(last) = resumed.rungs.last() {
        if !last.promoted {
            // It was judged before the interruption: the outcome stands.
            return Ok(RungsDone {
                metrics: last.metrics.clone(),
                pruned: !schedule.is_last(last.rung),
            });
        }
    }
    let stored: Vec<usize> = resumed.scores.iter().map(|(r, _)| *r).collect();
    if stored != (0..resumed.rungs.len()).collect::<Vec<_>>() {
        return Err(bad(format!(
            "the per-example scores of its rungs are missing (stored for rungs {stored:?}, {} rungs reported)",
            resumed.rungs.len()
        )));
    }
    for (rung, text) in &resumed.scores {
        let parts: Vec<Tally> = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "rung {rung}'s per-example scores do not parse: {e}"
            ))
        })?;
        if parts.len() != models.len() {
            return Err(bad(format!(
                "rung {rung} holds scores of {} harnesses, the suite has {}",
                parts.len(),
                models.len()
            )));
        }
        for ((t, p), h) in tallies.iter_mut().zip(parts).zip(&models) {
            t.extend(h.name(), p)?;
        }
    }
    let target = load()?;
    let (lm, tok) = target
        .parts()
        .ok_or_else(|| bad("the candidate has no model to score".into()))?;
    for rung in resumed.rungs.len()..schedule.rungs() {
        let mut added = Vec::with_capacity(models.len());
        for (h, harness) in models.iter().enumerate() {
            let t = score_tally(*harness, lm, tok, schedule.added(rung, h))?;
            tallies[h].extend(harness.name(), t.clone())?;
            added.push(t);
        }
        let mut metrics = MetricMap::new();
        for (harness, t) in models.iter().zip(&tallies) {
            for m in harness.metrics(t)?.iter() {
                if !m.value.is_finite() {
                    return Err(bad(format!(
                        "metric `{}/{}` is {} at rung {rung}",
                        harness.name(),
                        m.name,
                        m.value
                    )));
                }
                metrics.insert(format!("{}/{}", harness.name(), m.name), m.value.into());
            }
        }
        let scores = serde_json::to_string(&added).map_err(|e| bad(format!("rung {rung}: {e}")))?;
        let go_on = judge(RungScored {
            rung,
            examples: schedule.examples(rung),
            metrics: metrics.clone(),
            scores,
        })?;
        if schedule.is_last(rung) || !go_on {
            return Ok(RungsDone {
                metrics,
                pruned: !schedule.is_last(rung),
            });
        }
    }
    Err(bad(format!(
        "its {} stored rungs are all promoted, but there is no rung after them",
        resumed.rungs.len()
    )))
}
