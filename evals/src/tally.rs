//! Per-example scores, so that a harness can be scored a few examples at a time.
//!
//! Every built-in metric is a ratio of sums over examples (accuracy = correct / examples,
//! nll = Σ token NLL / Σ tokens, ...). A harness therefore scores an example into a short
//! vector of additive sums ([`Harness::score_examples`](crate::Harness::score_examples)), a
//! [`Tally`] collects them by example index, and the harness turns the totals into metrics
//! ([`Harness::metrics`](crate::Harness::metrics)). Successive halving scores a candidate on
//! growing prefixes of a seeded example order: rung k+1 scores only the examples rung k did
//! not, and the totals are always summed in example-index order, so the metrics of all
//! examples equal [`Harness::evaluate`](crate::Harness::evaluate)'s whatever order the
//! examples were scored in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// The additive sums of the examples scored so far, by example index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tally(BTreeMap<usize, Vec<f64>>);

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds example `index`'s sums; an example already in the tally is an error (it would
    /// count twice).
    pub fn add(&mut self, harness: &str, index: usize, sums: Vec<f64>) -> Result<(), EvalError> {
        if self.0.insert(index, sums).is_some() {
            return Err(EvalError::Invalid {
                harness: harness.to_string(),
                message: format!("example {index} was scored twice"),
            });
        }
        Ok(())
    }

    /// Adds every example of `other` (an error if one is already here).
    pub fn extend(&mut self, harness: &str, other: Tally) -> Result<(), EvalError> {
        for (i, s) in other.0 {
            self.add(harness, i, s)?;
        }
        Ok(())
    }

    /// Number of examples scored.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no example is scored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether example `index` is scored.
    pub fn contains(&self, index: usize) -> bool {
        self.0.contains_key(&index)
    }

    /// The element-wise sums over all examples, added in example-index order (so the
    /// result does not depend on the order the examples were scored in).
    pub fn totals(&self) -> Vec<f64> {
        let width = self.0.values().map(Vec::len).max().unwrap_or(0);
        let mut out = vec![0.0; width];
        for sums in self.0.values() {
            for (o, s) in out.iter_mut().zip(sums) {
                *o += s;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_do_not_depend_on_the_order_examples_were_added() {
        // Values chosen so that float addition order matters: (1e16 + 1) - 1e16 = 0 but
        // 1 + (1e16 - 1e16) = 1 (IEEE 754 double).
        let sums = [(0, 1e16), (1, 1.0), (2, -1e16)];
        let mut a = Tally::new();
        let mut b = Tally::new();
        for &(i, v) in &sums {
            a.add("h", i, vec![v, 1.0]).unwrap();
        }
        for &(i, v) in sums.iter().rev() {
            b.add("h", i, vec![v, 1.0]).unwrap();
        }
        assert_eq!(a.totals(), b.totals());
        // Index order: (1e16 + 1) + -1e16 = 0 in f64.
        assert_eq!(a.totals(), vec![0.0, 3.0]);
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn an_example_scored_twice_is_an_error() {
        let mut a = Tally::new();
        a.add("add", 4, vec![1.0]).unwrap();
        let e = a.add("add", 4, vec![0.0]).unwrap_err().to_string();
        assert!(e.contains("add") && e.contains("example 4"), "{e}");
        let mut b = Tally::new();
        b.add("add", 4, vec![1.0]).unwrap();
        assert!(a.extend("add", b).is_err());
    }
}
