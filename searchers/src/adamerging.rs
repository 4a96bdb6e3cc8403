//! The `searcher: {type: adamerging, ...}` section of a study file.
//!
//! AdaMerging learns the merge coefficients `λ` by gradient descent on an unsupervised loss
//! (the mean predictive entropy on unlabeled inputs) or, with labels, on cross-entropy. It is a
//! gradient searcher, not an ask/tell one: [`crate::build`] refuses it, and the main crate's
//! gradient loop reads [`AdaMergingConfig::granularity`], [`AdaMergingConfig::objective`],
//! [`AdaMergingConfig::tasks`], [`AdaMergingConfig::batch_size`] and
//! [`AdaMergingConfig::log_every`], and drives an [`crate::Adam`] built from
//! [`AdaMergingConfig::adam`] for [`AdaMergingConfig::steps`] steps.
//!
//! The paper's settings are the defaults here: Adam with lr 1e-3 (β₁ 0.9, β₂ 0.999), batch
//! size 16, `λ` initialized to 0.3 and clamped to `[0, 1]` after each step. The start point and
//! the box are not part of this section: they come from the study's `search.parameters.weight`
//! (its `init` and bounds).
//!
//! ## References
//! - E. Yang, Z. Wang, L. Shen, S. Liu, G. Guo, X. Wang, D. Tao, "AdaMerging: Adaptive Model
//!   Merging for Multi-Task Learning", ICLR 2024, <https://arxiv.org/abs/2310.02575>
//!   (task-wise and layer-wise AdaMerging, entropy minimization, lr 1e-3, λ init 0.3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gradient::AdamOptions;
use crate::SearchError;

/// Which coefficients AdaMerging learns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// One coefficient per task model (task-wise AdaMerging).
    Task,
    /// One coefficient per task model and layer (layer-wise AdaMerging, the paper's best).
    #[default]
    Layer,
    /// One coefficient per task model and parameter tensor.
    Tensor,
}

/// The loss AdaMerging minimizes, summed over the tasks with their weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientObjective {
    /// Mean predictive (Shannon) entropy of the merged model at the answer positions,
    /// unlabeled (the paper's surrogate objective).
    #[default]
    Entropy,
    /// Token negative log-likelihood of the answers, supervised (FusionBench's LLM variant,
    /// Tang et al., <https://arxiv.org/abs/2406.03280>).
    CrossEntropy,
}

/// Raw AdaMerging options, as written in a study file (`type: adamerging`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaMergingConfig {
    /// `task`, `layer` (default) or `tensor`.
    #[serde(default)]
    pub granularity: Granularity,
    /// `entropy` (default) or `cross_entropy`.
    #[serde(default)]
    pub objective: GradientObjective,
    /// Adam steps (default 100, ≥ 1).
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Adam's step size (default 1e-3, the paper's).
    #[serde(default)]
    pub lr: Option<f64>,
    /// Adam's `β₁` (default 0.9).
    #[serde(default)]
    pub beta1: Option<f64>,
    /// Adam's `β₂` (default 0.999).
    #[serde(default)]
    pub beta2: Option<f64>,
    /// Adam's `ε` (default 1e-8).
    #[serde(default)]
    pub eps: Option<f64>,
    /// Samples per task per step (default 16, the paper's; ≥ 1).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Every `log_every` steps (and at the final step) a trial is stored and scored (default
    /// 10, ≥ 1).
    #[serde(default = "default_log_every")]
    pub log_every: usize,
    /// Eval-suite harness name → weight in the summed loss (default: every `entropy` harness
    /// of the suite, weight 1).
    #[serde(default)]
    pub tasks: Option<BTreeMap<String, f64>>,
}

fn default_steps() -> usize {
    100
}

fn default_batch_size() -> usize {
    16
}

fn default_log_every() -> usize {
    10
}

impl Default for AdaMergingConfig {
    fn default() -> Self {
        Self {
            granularity: Granularity::default(),
            objective: GradientObjective::default(),
            steps: default_steps(),
            lr: None,
            beta1: None,
            beta2: None,
            eps: None,
            batch_size: default_batch_size(),
            log_every: default_log_every(),
            tasks: None,
        }
    }
}

impl AdaMergingConfig {
    /// Adam's options: the keys given, [`AdamOptions::default`] for the rest, checked (errors
    /// name the key, e.g. `lr: ...`).
    pub fn adam(&self) -> Result<AdamOptions, SearchError> {
        let d = AdamOptions::default();
        let o = AdamOptions {
            lr: self.lr.unwrap_or(d.lr),
            beta1: self.beta1.unwrap_or(d.beta1),
            beta2: self.beta2.unwrap_or(d.beta2),
            eps: self.eps.unwrap_or(d.eps),
        };
        o.check()?;
        Ok(o)
    }

    /// Checks `steps`, `batch_size` and `log_every` ≥ 1, task weights finite, ≥ 0 and not all
    /// zero, and the Adam options; errors name the key.
    pub fn check(&self) -> Result<(), SearchError> {
        for (key, v) in [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("log_every", self.log_every),
        ] {
            if v < 1 {
                return Err(SearchError::Config(format!("{key}: must be >= 1, got {v}")));
            }
        }
        if let Some(tasks) = &self.tasks {
            if tasks.is_empty() {
                return Err(SearchError::Config(
                    "tasks: name at least one harness (or leave the key out)".into(),
                ));
            }
            for (name, w) in tasks {
                if !(w.is_finite() && *w >= 0.0) {
                    return Err(SearchError::Config(format!(
                        "tasks.{name}: weight {w} must be a finite number >= 0"
                    )));
                }
            }
            if tasks.values().all(|w| *w == 0.0) {
                return Err(SearchError::Config(
                    "tasks: at least one weight must be > 0".into(),
                ));
            }
        }
        self.adam().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SearcherConfig;

    #[test]
    fn parses_with_defaults_and_refuses_unknown_keys() {
        let c: SearcherConfig =
            serde_json::from_str(r#"{"type":"adamerging","granularity":"tensor","steps":5}"#)
                .unwrap();
        let SearcherConfig::Adamerging(a) = c else {
            panic!("expected adamerging, got {c:?}");
        };
        assert_eq!(
            a,
            AdaMergingConfig {
                granularity: Granularity::Tensor,
                steps: 5,
                ..AdaMergingConfig::default()
            }
        );
        assert_eq!(a.objective, GradientObjective::Entropy);
        assert_eq!((a.batch_size, a.log_every, a.tasks.clone()), (16, 10, None));
        assert_eq!(a.adam().unwrap(), AdamOptions::default());
        a.check().unwrap();

        let c: SearcherConfig = serde_json::from_str(r#"{"type":"adamerging"}"#).unwrap();
        assert_eq!(c, SearcherConfig::Adamerging(AdaMergingConfig::default()));
        assert_eq!(AdaMergingConfig::default().steps, 100);
        assert_eq!(AdaMergingConfig::default().granularity, Granularity::Layer);

        for bad in [
            r#"{"type":"adamerging","learning_rate":0.1}"#,
            r#"{"type":"adamerging","granularity":"block"}"#,
            r#"{"type":"adamerging","objective":"accuracy"}"#,
        ] {
            assert!(
                serde_json::from_str::<SearcherConfig>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn check_names_the_key() {
        let msg = |c: AdaMergingConfig| match c.check() {
            Err(SearchError::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        };
        let base = AdaMergingConfig::default;
        assert!(msg(AdaMergingConfig { steps: 0, ..base() }).starts_with("steps:"));
        assert!(msg(AdaMergingConfig {
            batch_size: 0,
            ..base()
        })
        .starts_with("batch_size:"));
        assert!(msg(AdaMergingConfig {
            log_every: 0,
            ..base()
        })
        .starts_with("log_every:"));
        assert_eq!(
            msg(AdaMergingConfig {
                lr: Some(-1.0),
                ..base()
            }),
            "lr: -1 must be a positive number"
        );
        assert!(msg(AdaMergingConfig {
            beta2: Some(1.0),
            ..base()
        })
        .starts_with("beta2:"));
        assert!(msg(AdaMergingConfig {
            eps: Some(0.0),
            ..base()
        })
        .starts_with("eps:"));
        let tasks = |w: &[(&str, f64)]| {
            Some(
                w.iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        assert!(msg(AdaMergingConfig {
            tasks: tasks(&[("a", 1.0), ("b", f64::NAN)]),
            ..base()
        })
        .starts_with("tasks.b:"));
        assert!(msg(AdaMergingConfig {
            tasks: tasks(&[("a", -1.0)]),
            ..base()
        })
        .starts_with("tasks.a:"));
        assert!(msg(AdaMergingConfig {
            tasks: tasks(&[("a", 0.0), ("b", 0.0)]),
            ..base()
        })
        .starts_with("tasks:"));
        assert!(msg(AdaMergingConfig {
            tasks: tasks(&[]),
            ..base()
        })
        .starts_with("tasks:"));
        AdaMergingConfig {
            tasks: tasks(&[("a", 0.0), ("b", 2.5)]),
            lr: Some(0.05),
            ..base()
        }
        .check()
        .unwrap();
    }
}
