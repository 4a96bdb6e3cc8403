//! The search space: which merge parameters a study searches, and the map from a genotype
//! `x ∈ [lo, hi]^d` to a [`Recipe`] (a mergekit config).
//!
//! mergekit-evolve style: each searched parameter gets one gene per (model, tensor group,
//! layer group). Layer groups come from `layer_granularity` (one gene per N consecutive
//! layers); tensor groups from `filters` (substrings such as `self_attn` and `mlp`, plus a
//! `rest` group for every other tensor). A decoded parameter is a mergekit filter list whose
//! values are per-layer gradients with exactly one point per layer, so mergekit (and
//! `mergesearch merge`) evaluate every layer at exactly its gene's value. Tensors outside the
//! layers (embeddings, final norm, LM head) sit at gradient position 0, as mergekit places
//! them: they take the first layer group's value of the group they match (usually `rest`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::ModelDir;
use crate::error::{Error, Result};
use crate::merge::config::{InputModel, Parameters};
use crate::merge::registry::{self, Kind, MethodDef, ParamDefault, Scope};
use crate::merge::setting::{Conditional, ListItem, Scalar, Setting};
use crate::merge::MergeConfig;
use crate::merge::Params;
use mergesearch_searchers::Bounds;

/// How a searched parameter is declared in a study file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchedParam {
    /// `[lo, hi]` of every gene of this parameter.
    pub bounds: [f64; 2],
    /// Initial value of every gene (the searcher's starting mean; default: the middle).
    #[serde(default)]
    pub init: Option<f64>,
}

/// The merge being searched, as declared in a study file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeSpec {
    /// mergekit `merge_method`.
    pub method: String,
    /// Base model directory (relative to the current directory, as in mergekit).
    #[serde(default)]
    pub base_model: Option<String>,
    /// The models merged (their task vectors, for task-vector methods).
    pub models: Vec<String>,
    /// mergekit `dtype` (default `float32`: the zoo's checkpoints are f32).
    #[serde(default)]
    pub dtype: Option<String>,
    /// Fixed global parameters (scalars or any mergekit setting).
    #[serde(default)]
    pub parameters: Parameters,
}

/// The searched part of a study file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceSpec {
    /// One gene per this many consecutive layers (default 1: per layer).
    #[serde(default = "one")]
    pub layer_granularity: usize,
    /// Tensor groups: one gene set per substring, plus `rest` for everything else.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Searched parameters by name (`weight`, `density`, `t`, `lambda`, `epsilon`, `gamma`...).
    pub parameters: BTreeMap<String, SearchedParam>,
}

fn one() -> usize {
    1
}

/// One gene: which value of the recipe it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Gene {
    /// Parameter name.
    pub param: String,
    /// Index into [`SearchSpace::models`] for per-model parameters, `None` for global ones.
    pub model: Option<usize>,
    /// Tensor group: a filter, or `None` for the rest.
    pub filter: Option<String>,
    /// Layer group index.
    pub group: usize,
}

impl Gene {
    /// A readable column name: `weight[ft-add].mlp.L0-1`.
    pub fn label(&self, space: &SearchSpace) -> String {
        let model = self
            .model
            .map(|m| format!("[{}]", space.model_labels[m]))
            .unwrap_or_default();
        let filter = self.filter.as_deref().unwrap_or("rest");
        if space.per_tensor {
            return format!("{}{model}.{filter}", self.param);
        }
        let g = space.granularity;
        let (a, b) = (self.group * g, ((self.group + 1) * g).min(space.layers) - 1);
        let layers = if a == b {
            format!("L{a}")
        } else {
            format!("L{a}-{b}")
        };
        format!("{}{model}.{filter}.{layers}", self.param)
    }
}

/// A merge recipe: one mergekit config, ready for `mergesearch merge` or mergekit itself.
pub type Recipe = MergeConfig;

/// A validated search space.
#[derive(Debug, Clone)]
pub struct SearchSpace {
    /// The merge declaration.
    pub merge: MergeSpec,
    /// Short names of the merged models (directory names), for labels.
    pub model_labels: Vec<String>,
    /// Decoder layers of the base (or first) model.
    pub layers: usize,
    /// Layers per gene.
    pub granularity: usize,
    /// Tensor groups (`None` = rest), in filter-list order.
    pub groups: Vec<Option<String>>,
    /// The genes, in genotype order.
    pub genes: Vec<Gene>,
    /// The box the searchers see.
    pub bounds: Bounds,
    /// The starting genotype.
    pub init: Vec<f64>,
    /// One gene set per parameter tensor ([`SearchSpace::per_tensor`]): the groups are the
    /// tensor names, without a `rest` group.
    pub per_tensor: bool,
}

impl SearchSpace {
    /// Validates `merge` and `space` against the method registry and the base model's
    /// `config.json`. `file` names the study file in errors.
    pub fn new(merge: MergeSpec, space: SpaceSpec, file: &Path) -> Result<Self> {
        Self::build(merge, space, file, false)
    }

    /// A space with one gene set per parameter tensor of the base model (AdaMerging's
    /// layer-wise coefficients, one per parameter tensor): each tensor's full name is its
    /// own filter (a substring that matches only itself), so the decoded recipe is a plain
    /// mergekit filter list. `space.filters` must be empty and `layer_granularity` 1.
    pub fn per_tensor(merge: MergeSpec, space: SpaceSpec, file: &Path) -> Result<Self> {
        if !space.filters.is_empty() || space.layer_granularity != 1 {
            return Err(Error::config(
                file,
                "search.filters / search.layer_granularity: one gene per tensor leaves no room for tensor or layer groups; remove them",
            ));
        }
        Self::build(merge, space, file, true)
    }

    fn build(
        merge: MergeSpec,
        mut space: SpaceSpec,
        file: &Path,
        per_tensor: bool,
    ) -> Result<Self> {
        let err = |msg: String| Error::config(file, msg);
        let method = registry::method(&merge.method).ok_or_else(|| {
            err(format!(
                "merge.method: unknown merge method `{}`; known: {}",
                merge.method,
                registry::method_names().join(", ")
            ))
        })?;
        if merge.models.is_empty() {
            return Err(err("merge.models: list at least one model".into()));
        }
        if space.layer_granularity == 0 {
            return Err(err("search.layer_granularity: must be at least 1".into()));
        }
        if space.parameters.is_empty() {
            return Err(err(
                "search.parameters: name at least one parameter to search".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &space.filters {
            if f.is_empty() || !seen.insert(f) {
                return Err(err(format!(
                    "search.filters: `{f}` is empty or listed twice"
                )));
            }
        }
        let known = |name: &str| method.params.iter().find(|p| p.name == name);
        for (name, setting) in &merge.parameters {
            let Some(def) = known(name) else {
                return Err(err(format!(
                    "merge.parameters: `{name}` is not a parameter of {} (it takes: {})",
                    method.name,
                    param_list(method)
                )));
            };
            // Every number a setting holds (scalars, gradient points, filter values) must
            // lie in the domain; gradients interpolate between them, so then all values do.
            if def.kind != Kind::Bool {
                let mut values = Vec::new();
                numbers(setting, &mut values);
                if let Some(v) = values.iter().find(|v| !def.admits(**v)) {
                    return Err(err(format!(
                        "merge.parameters.{name}: {v} is outside the domain of `{name}`, {}",
                        def.domain
                    )));
                }
            }
        }
        for (name, p) in &space.parameters {
            let def = known(name).ok_or_else(|| {
                err(format!(
                    "search.parameters: `{name}` is not a parameter of {} (it takes: {})",
                    method.name,
                    param_list(method)
                ))
            })?;
            if def.kind != Kind::Float {
                return Err(err(format!(
                    "search.parameters.{name}: only real-valued parameters can be searched"
                )));
            }
            let [lo, hi] = p.bounds;
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(err(format!(
                    "search.parameters.{name}.bounds: [{lo}, {hi}] is empty; expected lo < hi"
                )));
            }
            if !def.domain.contains_interval(lo, hi) {
                return Err(err(format!(
                    "search.parameters.{name}.bounds: [{lo}, {hi}] is not inside the domain of `{name}` for {}, {}",
                    method.name, def.domain
                )));
            }
            if let Some(i) = p.init {
                if !(lo..=hi).contains(&i) {
                    return Err(err(format!(
                        "search.parameters.{name}.init: {i} lies outside the bounds [{lo}, {hi}]"
                    )));
                }
            }
            if merge.parameters.contains_key(name) {
                return Err(err(format!(
                    "`{name}` is both fixed (merge.parameters) and searched (search.parameters)"
                )));
            }
        }
        check_joint_rule(method, &merge, &space).map_err(err)?;
        let config_dir = merge.base_model.as_ref().unwrap_or(&merge.models[0]);
        // The planner's own rule (config.json, else tensor names), so genes and layers agree.
        let base = ModelDir::open(Path::new(config_dir))?;
        let layers = base.num_layers();
        if layers == 0 {
            return Err(err(format!(
                "{config_dir}: the model has no decoder layers to search"
            )));
        }
        if space.layer_granularity > layers {
            return Err(err(format!(
                "search.layer_granularity: {} is larger than the {layers} layers of {config_dir}; use at most {layers} (one gene for all layers)",
                space.layer_granularity
            )));
        }
        if per_tensor {
            space.filters = base.tensors.keys().cloned().collect();
            space.filters.sort();
            space.layer_granularity = layers;
            // First matching filter wins: each name must be matched first by itself.
            for name in &space.filters {
                let first = space.filters.iter().find(|f| name.contains(f.as_str()));
                if first != Some(name) {
                    return Err(err(format!(
                        "{config_dir}: tensor `{name}` contains the name of tensor `{}`, so one gene per tensor cannot be written as a mergekit filter list",
                        first.map_or("?", |f| f.as_str())
                    )));
                }
            }
        } else {
            check_filters(&space.filters, &base, config_dir).map_err(err)?;
        }
        let granularity = space.layer_granularity;
        let n_groups = layers.div_ceil(granularity).max(1);
        let mut groups: Vec<Option<String>> = space.filters.iter().cloned().map(Some).collect();
        if !per_tensor {
            groups.push(None);
        }
        let mut genes = Vec::new();
        let (mut lo, mut hi, mut init) = (Vec::new(), Vec::new(), Vec::new());
        for (name, p) in &space.parameters {
            let def = known(name).expect("checked above");
            let owners: Vec<Option<usize>> = match def.scope {
                Scope::PerModel => (0..merge.models.len()).map(Some).collect(),
                Scope::Global => vec![None],
            };
            for model in owners {
                for filter in &groups {
                    for group in 0..n_groups {
                        genes.push(Gene {
                            param: name.clone(),
                            model,
                            filter: filter.clone(),
                            group,
                        });
                        lo.push(p.bounds[0]);
                        hi.push(p.bounds[1]);
                        init.push(p.init.unwrap_or(0.5 * (p.bounds[0] + p.bounds[1])));
                    }
                }
            }
        }
        let bounds = Bounds::new(lo, hi).map_err(|e| err(e.to_string()))?;
        let model_labels = merge
            .models
            .iter()
            .map(|m| {
                Path::new(m)
                    .file_name()
                    .map_or_else(|| m.clone(), |f| f.to_string_lossy().into_owned())
            })
            .collect();
        Ok(Self {
            merge,
            model_labels,
            layers,
            granularity,
            groups,
            genes,
            bounds,
            init,
            per_tensor,
        })
    }

    /// Number of genes.
    pub fn dim(&self) -> usize {
        self.genes.len()
    }

    /// Column names of the genes.
    pub fn labels(&self) -> Vec<String> {
        self.genes.iter().map(|g| g.label(self)).collect()
    }

    /// The recipe a genotype stands for. `x` must have [`SearchSpace::dim`] values.
    pub fn decode(&self, x: &[f64]) -> Recipe {
        assert_eq!(x.len(), self.dim(), "genotype length");
        // (param, model) → per group: per-layer gradient values.
        let mut settings: BTreeMap<(String, Option<usize>), Vec<GroupValues>> = BTreeMap::new();
        let n_groups = self.layers.div_ceil(self.granularity).max(1);
        for chunk in x.chunks(n_groups).zip(self.genes.chunks(n_groups)) {
            let (values, genes) = chunk;
            let g0 = &genes[0];
            let per_layer: Vec<f64> = (0..self.layers.max(1))
                .map(|l| values[(l / self.granularity).min(n_groups - 1)])
                .collect();
            settings
                .entry((g0.param.clone(), g0.model))
                .or_default()
                .push((g0.filter.clone(), per_layer));
        }
        let mut global = self.merge.parameters.clone();
        let mut per_model: Vec<Parameters> = vec![Parameters::new(); self.merge.models.len()];
        for ((param, model), groups) in settings {
            let setting = to_setting(groups);
            match model {
                Some(m) => {
                    per_model[m].insert(param, setting);
                }
                None => {
                    global.insert(param, setting);
                }
            }
        }
        MergeConfig {
            merge_method: self.merge.method.clone(),
            base_model: self.merge.base_model.clone(),
            models: Some(
                self.merge
                    .models
                    .iter()
                    .zip(per_model)
                    .map(|(m, p)| InputModel {
                        model: m.clone(),
                        parameters: (!p.is_empty()).then_some(p),
                    })
                    .collect(),
            ),
            slices: None,
            parameters: (!global.is_empty()).then_some(global),
            dtype: Some(
                self.merge
                    .dtype
                    .clone()
                    .unwrap_or_else(|| "float32".to_string()),
            ),
            out_dtype: None,
            tokenizer_source: None,
        }
    }
}

/// A tensor group (filter, or `None` for the rest) with its per-layer values.
type GroupValues = (Option<String>, Vec<f64>);

/// A per-layer value list as the smallest mergekit setting: a scalar when constant.
fn gradient(values: &[f64]) -> Setting {
    if values.windows(2).all(|w| w[0] == w[1]) {
        Setting::Scalar(Scalar::Number(values[0]))
    } else {
        Setting::List(
            values
                .iter()
                .map(|v| ListItem::Scalar(Scalar::Number(*v)))
                .collect(),
        )
    }
}

/// The groups of one (parameter, model) as a filter list, or a bare gradient when only the
/// `rest` group exists.
fn to_setting(groups: Vec<GroupValues>) -> Setting {
    if groups.len() == 1 && groups[0].0.is_none() {
        return gradient(&groups[0].1);
    }
    Setting::List(
        groups
            .into_iter()
            .map(|(filter, values)| {
                ListItem::Conditional(Box::new(Conditional {
                    filter,
                    value: gradient(&values),
                }))
            })
            .collect(),
    )
}

fn param_list(method: &registry::MethodDef) -> String {
    method
        .params
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every number in a setting: scalars, gradient points and filter-entry values.
fn numbers(setting: &Setting, out: &mut Vec<f64>) {
    match setting {
        Setting::Scalar(Scalar::Number(v)) => out.push(*v),
        Setting::Scalar(_) => {}
        Setting::Conditional(c) => numbers(&c.value, out),
        Setting::List(items) => {
            for item in items {
                match item {
                    ListItem::Scalar(Scalar::Number(v)) => out.push(*v),
                    ListItem::Scalar(_) => {}
                    ListItem::Conditional(c) => numbers(&c.value, out),
                }
            }
        }
    }
}

/// Each filter must own at least one tensor of `base` (the first matching filter wins, as
/// the planner evaluates them), and the `rest` group too: otherwise its genes would change
/// nothing. Filters match by substring; `*` matches every tensor.
fn check_filters(
    filters: &[String],
    base: &ModelDir,
    base_dir: &str,
) -> std::result::Result<(), String> {
    let mut owned = vec![0usize; filters.len() + 1];
    for name in base.tensors.keys() {
        let group = filters
            .iter()
            .position(|f| f == "*" || name.contains(f.as_str()))
            .unwrap_or(filters.len());
        owned[group] += 1;
    }
    for (f, n) in filters.iter().zip(&owned) {
        if *n == 0 {
            let also = filters
                .iter()
                .take_while(|g| *g != f)
                .any(|g| g == "*" || base.tensors.keys().any(|t| t.contains(g.as_str())));
            return Err(format!(
                "search.filters: `{f}` matches no tensor of {base_dir}{}, so its genes would have no effect",
                if also { " that an earlier filter does not already take" } else { "" }
            ));
        }
    }
    if owned[filters.len()] == 0 {
        return Err(format!(
            "search.filters: [{}] take every tensor of {base_dir}, so the `rest` genes would have no effect",
            filters.join(", ")
        ));
    }
    Ok(())
}

/// Checks the method's [`registry::JointRule`] (della's `density ± epsilon` inside (0, 1))
/// over the searched bounds: on a grid of each searched parameter the rule reads (its ends,
/// points just inside them, and 15 interior points), the others at their fixed scalar or
/// registry default. A violation anywhere would fail those trials at run time.
fn check_joint_rule(
    method: &MethodDef,
    merge: &MergeSpec,
    space: &SpaceSpec,
) -> std::result::Result<(), String> {
    let Some(rule) = method.joint else {
        return Ok(());
    };
    let mut axes: Vec<(&'static str, Vec<f64>)> = Vec::new();
    let mut fixed = Params::default();
    for &name in rule.reads {
        let Some(def) = method.param(name) else {
            continue;
        };
        if let Some(p) = space.parameters.get(name) {
            let [lo, hi] = p.bounds;
            let eps = (hi - lo) * 1e-9;
            let mut grid = vec![lo, lo + eps, hi - eps, hi];
            grid.extend((1..16).map(|i| lo + (hi - lo) * i as f64 / 16.0));
            axes.push((def.name, grid));
        } else if let Some(Setting::Scalar(Scalar::Number(v))) = merge.parameters.get(name) {
            fixed.0.insert(def.name, *v);
        } else if let ParamDefault::Value(v) = def.default {
            if !merge.parameters.contains_key(name) {
                fixed.0.insert(def.name, v);
            }
        }
    }
    if axes.is_empty() {
        return Ok(());
    }
    let total: usize = axes.iter().map(|a| a.1.len()).product();
    for mut i in 0..total {
        let mut at = fixed.clone();
        for (name, grid) in &axes {
            at.0.insert(name, grid[i % grid.len()]);
            i /= grid.len();
        }
        if let Err(e) = method.check_joint(&at) {
            let keys: Vec<String> = axes
                .iter()
                .map(|(n, _)| format!("search.parameters.{n}.bounds"))
                .collect();
            return Err(format!(
                "{}: {e}, a point inside the bounds; those trials would fail, so narrow the bounds ({})",
                keys.join(" / "),
                rule.describe
            ));
        }
    }
    Ok(())
}
