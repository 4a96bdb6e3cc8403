//! The ask/tell interface every searcher implements, and the box it searches.

use serde::{Deserialize, Serialize};

use crate::SearchError;

/// The search box `[lo, hi]^d`: every searcher proposes points inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Lower bound per coordinate.
    pub lo: Vec<f64>,
    /// Upper bound per coordinate (`hi[i] > lo[i]`).
    pub hi: Vec<f64>,
}

impl Bounds {
    /// A box; fails unless both sides have the same length ≥ 1 and every `lo < hi` (finite).
    pub fn new(lo: Vec<f64>, hi: Vec<f64>) -> Result<Self, SearchError> {
        if lo.is_empty() || lo.len() != hi.len() {
            return Err(SearchError::Bounds(format!(
                "expected two non-empty vectors of equal length, got {} and {}",
                lo.len(),
                hi.len()
            )));
        }
        for (i, (l, h)) in lo.iter().zip(&hi).enumerate() {
            if !(l.is_finite() && h.is_finite() && l < h) {
                return Err(SearchError::Bounds(format!(
                    "coordinate {i}: [{l}, {h}] is not a finite interval with lo < hi"
                )));
            }
        }
        Ok(Self { lo, hi })
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.lo.len()
    }

    /// `hi[i] - lo[i]`.
    pub fn width(&self, i: usize) -> f64 {
        self.hi[i] - self.lo[i]
    }

    /// Whether `x` lies in the box (bounds included).
    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(self.lo.iter().zip(&self.hi))
                .all(|(v, (l, h))| *l <= *v && *v <= *h)
    }

    /// Clips `x` into the box.
    pub fn clip(&self, x: &mut [f64]) {
        for (v, (l, h)) in x.iter_mut().zip(self.lo.iter().zip(&self.hi)) {
            *v = v.clamp(*l, *h);
        }
    }
}

/// What became of a proposed point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Objective values, all **minimized** (the caller negates maximized metrics).
    /// Single-objective searchers use the first value.
    Values(Vec<f64>),
    /// The candidate could not be scored (crash, NaN, timeout): searchers rank it below
    /// every scored point rather than dropping it.
    Failed,
}

/// An ask/tell optimizer over a [`Bounds`] box.
///
/// Protocol: `ask` hands out points; `tell` reports outcomes **in the order the points were
/// asked** (possibly a few at a time). A searcher may hand out more points than one
/// generation needs; it updates its model whenever enough outcomes have arrived.
pub trait Searcher {
    /// Dimension of the box.
    fn dim(&self) -> usize;

    /// Proposes `n` new points inside the box.
    fn ask(&mut self, n: usize) -> Vec<Vec<f64>>;

    /// Reports outcomes of earlier asked points, oldest first.
    fn tell(&mut self, results: &[(Vec<f64>, Outcome)]);
}
