//! The study file: what to merge, what to search, how to score, and the budget.
//!
//! ```yaml
//! name: demo                       # results go to results/demo/ (or --out)
//! merge:
//!   method: ties
//!   base_model: results/zoo/base   # paths relative to the current directory, as in mergekit
//!   models: [results/zoo/ft-add, results/zoo/ft-sort]
//!   parameters: {normalize: true}  # fixed parameters
//! search:
//!   layer_granularity: 2
//!   filters: [self_attn, mlp]
//!   parameters:
//!     weight: {bounds: [0, 1.5], init: 0.5}
//!     density: {bounds: [0.1, 1], init: 0.7}
//! evals: configs/evals/zoo.yaml
//! objectives:
//!   - {metric: add/accuracy}       # direction defaults to the metric's own
//!   - {metric: sort/accuracy, direction: maximize, weight: 1}
//! constraints:
//!   - {metric: add/accuracy, min: 0.2}
//! searcher: {type: cmaes}
//! pruner: {type: successive_halving, min_fraction: 0.25, reduction_factor: 3}
//! budget: {trials: 40, seconds: 1800}
//! seed: 0
//! ```

use std::path::{Path, PathBuf};

use mergesearch_evals::Direction;
use mergesearch_searchers::{Granularity, SearcherConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::space::{MergeSpec, SearchSpace, SpaceSpec};

/// One objective: a suite metric, its direction and its weight in the scalar view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSpec {
    /// Full metric name, `HARNESS/METRIC`.
    pub metric: String,
    /// `maximize` or `minimize` (default: the metric's own direction).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Weight in the scalar view used by single-objective searchers (default 1).
    #[serde(default = "unit")]
    pub weight: f64,
}

fn unit() -> f64 {
    1.0
}

/// A constraint: the metric must stay within `[min, max]`; outside, the trial is infeasible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintSpec {
    /// Full metric name.
    pub metric: String,
    /// Lowest acceptable value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Highest acceptable value.
    #[serde(default)]
    pub max: Option<f64>,
}

/// When a study stops.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Finished trials (complete, pruned or failed), counting those of earlier runs.
    #[serde(default)]
    pub trials: Option<usize>,
    /// Wall-clock seconds of this run.
    #[serde(default)]
    pub seconds: Option<f64>,
}

/// A study file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// Study name: the directory under `results/`.
    pub name: String,
    /// The merge being searched.
    pub merge: MergeSpec,
    /// The searched parameters.
    pub search: SpaceSpec,
    /// Eval-suite YAML (relative to the current directory).
    pub evals: PathBuf,
    /// What is optimized.
    pub objectives: Vec<ObjectiveSpec>,
    /// Feasibility conditions.
    #[serde(default)]
    pub constraints: Vec<ConstraintSpec>,
    /// The optimizer (default CMA-ES).
    #[serde(default = "default_searcher")]
    pub searcher: SearcherConfig,
    /// Stopping rule (an adamerging study stops after its `steps`; `seconds` may cut it short).
    #[serde(default)]
    pub budget: Budget,
    /// Seed of the searcher and of random merge masks.
    #[serde(default)]
    pub seed: u64,
    /// Hypervolume reference point in objective units (default: derived from the trials).
    #[serde(default)]
    pub reference_point: Option<Vec<f64>>,
    /// Hand-written recipes scored beside the search ([`super::baselines`]); `None`: task
    /// arithmetic λ = 0.3 when the merge has a base model; `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselines: Option<Vec<super::baselines::BaselineSpec>>,
    /// Gene assignments evaluated first and told to the searcher ([`super::enqueue`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enqueue: Vec<super::enqueue::EnqueueSpec>,
    /// Memory for the task-vector ranking cache shared by candidates, in MB (default 1024).
    #[serde(default)]
    pub rank_cache_mb: Option<usize>,
    /// Stops unpromising candidates after a fraction of the examples ([`super::halving`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruner: Option<super::halving::PrunerSpec>,
}

fn default_searcher() -> SearcherConfig {
    SearcherConfig::Cmaes {
        sigma0: None,
        popsize: None,
        max_restarts: None,
        active: None,
    }
}

impl StudyConfig {
    /// The search space the study searches: `merge` and `search` as written, except for an
    /// adamerging study with `granularity: task` (one gene per model: every layer in one
    /// group, no filters) or `granularity: tensor` (one gene per model per parameter tensor).
    /// `path` names the study file in errors.
    pub fn space(&self, path: &Path) -> Result<SearchSpace> {
        let (merge, search) = (self.merge.clone(), self.search.clone());
        let SearcherConfig::Adamerging(ada) = &self.searcher else {
            return SearchSpace::new(merge, search, path);
        };
        crate::adamerging::merge::learnable_method(&merge.method, path)?;
        match ada.granularity {
            Granularity::Layer => SearchSpace::new(merge, search, path),
            Granularity::Tensor => SearchSpace::per_tensor(merge, search, path),
            Granularity::Task => {
                if !search.filters.is_empty() || search.layer_granularity != 1 {
                    return Err(Error::config(
                        path,
                        "search.filters / search.layer_granularity: granularity `task` learns one coefficient per model; remove them or use granularity `layer`",
                    ));
                }
                let layers = crate::checkpoint::ModelDir::open(Path::new(
                    merge.base_model.as_ref().unwrap_or(&merge.models[0]),
                ))?
                .num_layers()
                .max(1);
                SearchSpace::new(
                    merge,
                    SpaceSpec {
                        layer_granularity: layers,
                        ..search
                    },
                    path,
                )
            }
        }
    }

    /// The number of trials the study will hold when it ends, where the study file fixes it:
    /// `budget.trials`, or for adamerging its logged steps and final point.
    pub fn planned_trials(&self) -> Option<usize> {
        match &self.searcher {
            SearcherConfig::Adamerging(a) => Some(a.steps.div_ceil(a.log_every.max(1)) + 1),
            _ => self.budget.trials,
        }
    }

    /// Reads and checks the file's own fields (models and metrics are checked by
    /// [`super::Study::open`]).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses study `text`; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let cfg: StudyConfig =
            serde_saphyr::from_str(text).map_err(|e| Error::config(path, e.to_string()))?;
        let err = |m: String| Err(Error::config(path, m));
        if cfg.name.is_empty()
            || cfg
                .name
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return err(format!(
                "name: `{}` must be a non-empty directory name (letters, digits, - _ .)",
                cfg.name
            ));
        }
        if cfg.objectives.is_empty() {
            return err("objectives: list at least one metric".into());
        }
        for (i, o) in cfg.objectives.iter().enumerate() {
            if let Some(j) = cfg.objectives[..i]
                .iter()
                .position(|p| p.metric == o.metric)
            {
                return err(format!(
                    "objectives[{i}]: metric `{}` is already objectives[{j}] (each metric may be one objective; use `weight` to count it more)",
                    o.metric
                ));
            }
            if !o.weight.is_finite() || o.weight < 0.0 {
                return err(format!(
                    "objectives[{i}].weight: {} must be a finite number ≥ 0",
                    o.weight
                ));
            }
        }
        for (i, c) in cfg.constraints.iter().enumerate() {
            if c.min.is_none() && c.max.is_none() {
                return err(format!(
                    "constraints[{i}] ({}): give `min`, `max` or both",
                    c.metric
                ));
            }
            for (key, v) in [("min", c.min), ("max", c.max)] {
                if v.is_some_and(|x| !x.is_finite()) {
                    return err(format!(
                        "constraints[{i}].{key} ({}): {} is not a finite number",
                        c.metric,
                        v.unwrap_or_default()
                    ));
                }
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max) {
                if lo > hi {
                    return err(format!(
                        "constraints[{i}] ({}): min {lo} > max {hi}, so no candidate could be feasible",
                        c.metric
                    ));
                }
            }
        }
        let gradient = matches!(cfg.searcher, SearcherConfig::Adamerging(_));
        if gradient && !cfg.enqueue.is_empty() {
            return err("enqueue: an adamerging study follows its gradient from `search.parameters.weight.init`; it evaluates no enqueued points".into());
        }
        if let Some(p) = &cfg.pruner {
            if gradient {
                return err("pruner: an adamerging study follows one gradient path; there are no candidates to prune".into());
            }
            if let Some(m) = p.problem() {
                return err(m);
            }
        }
        if gradient && cfg.budget.trials.is_some() {
            return err("budget.trials: an adamerging study runs `searcher.steps` steps and stores every `log_every`-th as a trial; remove budget.trials (budget.seconds may cut it short)".into());
        }
        if !gradient && cfg.budget.trials.is_none() && cfg.budget.seconds.is_none() {
            return err("budget: give `trials`, `seconds` or both".into());
        }
        if cfg.budget.trials == Some(0) {
            return err("budget.trials: 0 trials would score nothing; give at least 1".into());
        }
        if let Some(s) = cfg.budget.seconds {
            if !(s.is_finite() && s > 0.0) {
                return err(format!(
                    "budget.seconds: {s} must be a positive number of seconds"
                ));
            }
        }
        if let Some(r) = &cfg.reference_point {
            if r.len() != cfg.objectives.len() {
                return err(format!(
                    "reference_point: {} values for {} objectives",
                    r.len(),
                    cfg.objectives.len()
                ));
            }
            if let Some((i, v)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return err(format!("reference_point[{i}]: {v} is not a finite number"));
            }
        }
        Ok(cfg)
    }
}
