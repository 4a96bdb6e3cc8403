//! Warm starts: gene assignments evaluated before anything the searcher proposes and told to
//! it like any trial (optuna's `enqueue_trial`).
//!
//! ```yaml
//! enqueue:
//!   - {weight: 0.3}                                     # every weight gene
//!   - {weight: {ft-add: 0.5, ft-sort: 0.2}, density: 0.7}   # per model (its directory name)
//! ```
//!
//! Genes an entry does not set keep their `init`. What each searcher learns from them is
//! documented at [`mergesearch_searchers::Searcher::enqueue`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::space::SearchSpace;

/// A value in an `enqueue:` entry: one for every gene of the parameter, or one per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnqueuedValue {
    /// Every gene of the parameter.
    All(f64),
    /// Per model, by its label (the model directory's name).
    PerModel(BTreeMap<String, f64>),
}

/// One `enqueue:` entry: parameter name → value.
pub type EnqueueSpec = BTreeMap<String, EnqueuedValue>;

/// The genotypes of `specs` in `space`, checked: every parameter searched, every model label
/// known, every value inside its bounds. `file` names the study file in errors.
pub fn genotypes(specs: &[EnqueueSpec], space: &SearchSpace, file: &Path) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let err = |m: String| Error::config(file, format!("enqueue[{i}].{m}"));
        let mut x = space.init.clone();
        for (param, value) in spec {
            if !space.genes.iter().any(|g| &g.param == param) {
                return Err(err(format!(
                    "{param}: not a searched parameter (search.parameters: {})",
                    searched(space)
                )));
            }
            if let EnqueuedValue::PerModel(m) = value {
                for label in m.keys() {
                    if !space.model_labels.contains(label) {
                        return Err(err(format!(
                            "{param}.{label}: not a model of the merge (models: {})",
                            space.model_labels.join(", ")
                        )));
                    }
                }
            }
            for (k, g) in space.genes.iter().enumerate() {
                if &g.param != param {
                    continue;
                }
                let v = match value {
                    EnqueuedValue::All(v) => Some(*v),
                    EnqueuedValue::PerModel(m) => g
                        .model
                        .and_then(|mi| m.get(&space.model_labels[mi]).copied()),
                };
                let Some(v) = v else { continue };
                let (lo, hi) = (space.bounds.lo[k], space.bounds.hi[k]);
                if !(lo..=hi).contains(&v) {
                    return Err(err(format!(
                        "{param}: {v} lies outside the bounds [{lo}, {hi}]"
                    )));
                }
                x[k] = v;
            }
        }
        out.push(x);
    }
    Ok(out)
}

fn searched(space: &SearchSpace) -> String {
    let mut names: Vec<&str> = space.genes.iter().map(|g| g.param.as_str()).collect();
    names.dedup();
    names.join(", ")
}
