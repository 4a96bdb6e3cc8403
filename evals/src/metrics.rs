//! Named metric values and whether larger or smaller is better.

use serde::{Deserialize, Serialize};

/// Whether a metric is better when larger or when smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better (accuracy).
    Maximize,
    /// Smaller is better (loss, perplexity, entropy).
    Minimize,
}

/// One named metric value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Metric name, e.g. `perplexity`.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Whether larger or smaller is better.
    pub direction: Direction,
}

/// The metrics one harness (or one suite) produced, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metrics(pub Vec<Metric>);

impl Metrics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a metric.
    pub fn push(&mut self, name: impl Into<String>, value: f64, direction: Direction) {
        self.0.push(Metric {
            name: name.into(),
            value,
            direction,
        });
    }

    /// The metric called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.0.iter().find(|m| m.name == name)
    }

    /// The value of the metric called `name`, if any.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.get(name).map(|m| m.value)
    }

    /// Iterates over the metrics in insertion order.
    pub fn iter(&self) -> std::slice::Iter<'_, Metric> {
        self.0.iter()
    }

    /// Number of metrics.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no metrics.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends all of `other`, each name prefixed with `prefix/` (to merge a suite's harnesses).
    pub fn extend_prefixed(&mut self, prefix: &str, other: Metrics) {
        for m in other.0 {
            self.0.push(Metric {
                name: format!("{prefix}/{}", m.name),
                ..m
            });
        }
    }
}

impl<'a> IntoIterator for &'a Metrics {
    type Item = &'a Metric;
    type IntoIter = std::slice::Iter<'a, Metric>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
