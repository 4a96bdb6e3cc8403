//! Baselines: the recipes a user would otherwise type by hand (task arithmetic with λ = 0.3,
//! TIES with defaults, each fine-tune alone), scored on the search and held-out splits when a
//! study starts, stored in the study's metadata (so a resumed study never scores them again),
//! and shown beside the front: in the progress output, `report` (table rows, scatter
//! markers) and `pareto.csv` (which baselines each front trial dominates). They are never
//! told to the searcher.
//!
//! ```yaml
//! baselines:
//!   - {name: ta-0.3, method: task_arithmetic, parameters: {weight: 0.3}}   # over the study's models
//!   - {name: ties, method: ties, parameters: {weight: 1.0, density: 0.2}}
//!   - {name: ft-add, model: results/zoo/ft-add}                             # a checkpoint as it is
//!   - name: custom                                                          # any mergekit config
//!     merge: {merge_method: linear, models: [...], ...}
//! ```
//!
//! Without `baselines:`, a study whose merge has a `base_model` gets task arithmetic λ = 0.3
//! over its models (the recipe AdaMerging and most merge papers compare against);
//! `baselines: []` turns that off.

use std::path::{Path, PathBuf};

use mergesearch_evals::ResolvedHarness;
use serde::{Deserialize, Serialize};

use super::trial::MetricMap;
use crate::error::{Error, Result};
use crate::eval::EvalTarget;
use crate::merge::config::{InputModel, Parameters};
use crate::merge::{MergeConfig, MergeOptions, Plan};
use crate::space::MergeSpec;

/// One baseline as written in the study file: exactly one of `model`, `merge` or `method`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// Shown in tables, plots and `pareto.csv` (letters, digits, `-_.()`).
    pub name: String,
    /// A checkpoint directory, scored as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Any mergekit config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeConfig>,
    /// Shorthand: this mergekit method over the study's `base_model` and `models`, with
    /// `parameters` as its global parameters (per-model ones such as `weight` apply to every
    /// model, as in mergekit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Global parameters of the shorthand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

/// What a baseline scores.
#[derive(Debug, Clone)]
pub enum BaselineTarget {
    /// A checkpoint directory.
    Dir(PathBuf),
    /// A merge, merged lazily.
    Merge(MergeConfig),
}

/// A validated baseline.
#[derive(Debug, Clone)]
pub struct BaselinePlan {
    /// Its name.
    pub name: String,
    /// What it scores.
    pub target: BaselineTarget,
}

/// A scored baseline, as stored (metadata `baseline:NAME`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Its name.
    pub name: String,
    /// Every suite metric on the search split (`None` if scoring failed).
    pub search: Option<MetricMap>,
    /// Every suite metric on the held-out split.
    pub heldout: Option<MetricMap>,
    /// Why scoring failed.
    pub error: Option<String>,
}

/// The name of the default baseline.
pub const DEFAULT_NAME: &str = "task_arithmetic(0.3)";

/// The baselines of a study: `specs` as written (`None`: the default), validated — names
/// unique and well-formed, exactly one target each, every merge planned — so a bad baseline
/// fails before anything is scored. `file` names the study file in errors.
pub fn resolve(
    specs: Option<&[BaselineSpec]>,
    merge: &MergeSpec,
    file: &Path,
) -> Result<Vec<BaselinePlan>> {
    let err = |m: String| Error::config(file, m);
    let default;
    let specs = match specs {
        Some(s) => s,
        None if merge.base_model.is_some() => {
            default = [BaselineSpec {
                name: DEFAULT_NAME.into(),
                model: None,
                merge: None,
                method: Some("task_arithmetic".into()),
                parameters: Some(
                    [(
                        "weight".to_string(),
                        crate::merge::setting::Setting::Scalar(
                            crate::merge::setting::Scalar::Number(0.3),
                        ),
                    )]
                    .into_iter()
                    .collect(),
                ),
            }];
            &default[..]
        }
        None => return Ok(Vec::new()),
    };
    let mut out: Vec<BaselinePlan> = Vec::with_capacity(specs.len());
    for (i, s) in specs.iter().enumerate() {
        let key = format!("baselines[{i}]");
        if s.name.is_empty()
            || s.name
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-_.()".contains(c)))
        {
            return Err(err(format!(
                "{key}.name: `{}` must be non-empty letters, digits, - _ . ( )",
                s.name
            )));
        }
        if out.iter().any(|b| b.name == s.name) {
            return Err(err(format!("{key}.name: `{}` is listed twice", s.name)));
        }
        let target = match (&s.model, &s.merge, &s.method) {
            (Some(m), None, None) if s.parameters.is_none() => {
                let dir = PathBuf::from(m);
                crate::checkpoint::ModelDir::open(&dir)?;
                BaselineTarget::Dir(dir)
            }
            (None, Some(m), None) if s.parameters.is_none() => BaselineTarget::Merge(m.clone()),
            (None, None, Some(method)) => BaselineTarget::Merge(MergeConfig {
                merge_method: method.clone(),
                base_model: merge.base_model.clone(),
                models: Some(
                    merge
                        .models
                        .iter()
                        .map(|m| InputModel {
                            model: m.clone(),
                            parameters: None,
                        })
                        .collect(),
                ),
                slices: None,
                parameters: s.parameters.clone(),
                dtype: Some(merge.dtype.clone().unwrap_or_else(|| "float32".into())),
                out_dtype: None,
                tokenizer_source: None,
            }),
            _ => {
                return Err(err(format!(
                    "{key} (`{}`): give exactly one of `model`, `merge` or `method` (with `parameters` only beside `method`)",
                    s.name
                )))
            }
        };
        if let BaselineTarget::Merge(m) = &target {
            Plan::build(m.clone(), &file.join(&key))?;
        }
        out.push(BaselinePlan {
            name: s.name.clone(),
            target,
        });
    }
    Ok(out)
}

impl BaselinePlan {
    /// Scores the baseline on `harnesses`; a metric that is not finite is an error.
    pub fn score(&self, seed: u64, harnesses: &[ResolvedHarness]) -> Result<MetricMap> {
        let label = Path::new("<baseline>").join(&self.name);
        let target = match &self.target {
            BaselineTarget::Dir(d) => EvalTarget::Dir(d.clone()),
            BaselineTarget::Merge(m) => EvalTarget::Merge {
                path: label.clone(),
                plan: Box::new(Plan::build(m.clone(), &label)?),
                opts: MergeOptions { seed, ranks: None },
            },
        };
        super::driver::score_target(&label, target, harnesses)
    }
}

/// Whether `a` Pareto-dominates `b`, both minimized: no worse anywhere, better somewhere.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| x <= y)
        && a.iter().zip(b).any(|(x, y)| x < y)
}

impl super::Study {
    /// Scores every baseline the storage does not hold yet, on the search and the held-out
    /// split, and stores each as soon as it is scored (a killed study never scores one twice);
    /// calls `each(baseline, stored)` for every baseline in order, `stored` when it came from
    /// the storage. A baseline that cannot be scored is stored with its error; the study goes
    /// on. Returns them all, and sets the `dominates` columns of `pareto.csv` from them.
    pub fn score_baselines(
        &mut self,
        mut each: impl FnMut(&Baseline, bool),
    ) -> Result<Vec<Baseline>> {
        let mut out = Vec::with_capacity(self.baselines.len());
        let mut heldout = None;
        for plan in &self.baselines {
            let key = format!("baseline:{}", plan.name);
            if let Some(text) = self.storage.meta(&key)? {
                let b: Baseline = serde_json::from_str(&text).map_err(|e| Error::Storage {
                    location: self.storage.location(),
                    study: self.storage.study().to_string(),
                    trial: None,
                    msg: format!("meta `{key}` does not parse: {e}"),
                })?;
                each(&b, true);
                out.push(b);
                continue;
            }
            if heldout.is_none() {
                heldout = Some(self.suite.resolve(mergesearch_evals::Split::Heldout)?);
            }
            let seed = self.config.seed;
            let scored = plan.score(seed, &self.harnesses).and_then(|search| {
                let held = plan.score(seed, heldout.as_deref().unwrap_or_default())?;
                Ok((search, held))
            });
            let b = match scored {
                Ok((search, held)) => Baseline {
                    name: plan.name.clone(),
                    search: Some(search),
                    heldout: Some(held),
                    error: None,
                },
                Err(e) => Baseline {
                    name: plan.name.clone(),
                    search: None,
                    heldout: None,
                    error: Some(e.to_string()),
                },
            };
            let text = serde_json::to_string(&b).map_err(|e| Error::model("baseline", e))?;
            self.storage.set_meta(&key, &text)?;
            each(&b, false);
            out.push(b);
        }
        self.columns.baselines = out
            .iter()
            .map(|b| self.objectives.baseline_point(b))
            .collect();
        Ok(out)
    }
}

impl super::Objectives {
    /// A baseline's objective vectors in minimized coordinates (`None` on a split where it has
    /// no score or lacks an objective metric).
    pub fn baseline_point(&self, b: &Baseline) -> super::views::BaselinePoint {
        let point = |m: &Option<MetricMap>| {
            m.as_ref()
                .and_then(|m| self.evaluate(m).ok())
                .map(|e| self.to_minimized(&e.values))
        };
        super::views::BaselinePoint {
            name: b.name.clone(),
            search: point(&b.search),
            heldout: point(&b.heldout),
        }
    }

    /// A baseline's objective values (objective units) on the search and held-out splits.
    pub fn baseline_values(&self, b: &Baseline) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
        let values = |m: &Option<MetricMap>| {
            m.as_ref()
                .and_then(|m| self.evaluate(m).ok())
                .map(|e| e.values)
        };
        (values(&b.search), values(&b.heldout))
    }
}

/// The baselines stored in a study's metadata (`baseline:NAME`), in the study file's order
/// (`names`); a name not stored yet is skipped.
pub fn stored(storage: &dyn super::Storage, names: &[String]) -> Result<Vec<Baseline>> {
    let mut out = Vec::new();
    for n in names {
        if let Some(text) = storage.meta(&format!("baseline:{n}"))? {
            out.push(serde_json::from_str(&text).map_err(|e| Error::Storage {
                location: storage.location(),
                study: storage.study().to_string(),
                trial: None,
                msg: format!("meta `baseline:{n}` does not parse: {e}"),
            })?);
        }
    }
    Ok(out)
}

/// The baseline names of a study file without validating them (for reading a stored study
/// whose models may be gone): those listed, else the default one when the merge has a base.
pub fn names(config: &super::StudyConfig) -> Vec<String> {
    match &config.baselines {
        Some(specs) => specs.iter().map(|s| s.name.clone()).collect(),
        None if config.merge.base_model.is_some() => vec![DEFAULT_NAME.to_string()],
        None => Vec::new(),
    }
}

/// Table rows for `baselines` in the layout of the Pareto table (`| name | search | held-out
/// | ...`, objective by objective), with their objective values from `objectives`.
pub fn table_rows(objectives: &super::Objectives, baselines: &[Baseline]) -> String {
    let mut s = String::new();
    for b in baselines {
        let (search, held) = objectives.baseline_values(b);
        s += &format!("| baseline {} |", b.name);
        for i in 0..objectives.objectives.len() {
            let cell = |v: &Option<Vec<f64>>| {
                v.as_ref()
                    .map_or_else(|| "–".to_string(), |v| format!("{:.4}", v[i]))
            };
            s += &format!(" {} | {} |", cell(&search), cell(&held));
        }
        s += "\n";
    }
    s
}

/// One line per baseline: the front trials that dominate it on the held-out split (`front`:
/// id and held-out objective values), or why none can be compared.
pub fn dominance_summary(
    objectives: &super::Objectives,
    baselines: &[Baseline],
    front: &[(u64, Vec<f64>)],
) -> String {
    let mut s = String::new();
    for b in baselines {
        let (_, held) = objectives.baseline_values(b);
        let Some(held) = held else {
            s += &format!(
                "baseline {}: not scored ({})\n",
                b.name,
                b.error.as_deref().unwrap_or("no held-out score")
            );
            continue;
        };
        let q = objectives.to_minimized(&held);
        let ids: Vec<String> = front
            .iter()
            .filter(|(_, v)| v.iter().all(|x| x.is_finite()))
            .filter(|(_, v)| dominates(&objectives.to_minimized(v), &q))
            .map(|(id, _)| id.to_string())
            .collect();
        s += &if ids.is_empty() {
            format!(
                "baseline {}: no front trial dominates it on the held-out split\n",
                b.name
            )
        } else {
            format!(
                "baseline {}: dominated on the held-out split by trial(s) {}\n",
                b.name,
                ids.join(", ")
            )
        };
    }
    s
}
