//! Config → validated plan. Everything that can be checked from the YAML and the safetensors
//! headers is checked here, before a single tensor byte is read: method, parameter names,
//! kinds and domains (each parameter's [`registry::ParamDef::domain`]), model directories, layer ranges, tensor presence, shapes and dtypes.
//!
//! Parameter resolution follows mergekit's `ConfigReader.parameter`: a per-model parameter is
//! looked up in the source's own `parameters`, then the slice's, then the global ones; a global
//! parameter in the slice's, then the global ones. The first level whose setting yields a value
//! for the tensor wins; gradients are evaluated at `t = layer / (n_layers − 1)` within a slice
//! (`t = 1` for a one-layer slice) and at `t = 0` for every tensor outside the layers
//! (embeddings, final norm, lm_head), exactly as mergekit 0.1.5's planner does.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::config::{InputSlice, MergeConfig, OutputSlice, Parameters};
use super::job::{Params, SourceRef, TensorJob};
use super::registry::{self, Arity, BaseRule, Kind, MethodDef, ParamDefault as PDefault, Scope};
use super::setting::Scalar;
use crate::checkpoint::names::{is_embed, is_pre_layer, layer_index};
use crate::checkpoint::{DType, ModelDir, PlannedTensor};
use crate::error::{Error, Result};

/// A validated merge, ready to execute.
#[derive(Debug)]
pub struct Plan {
    /// The method.
    pub method: &'static MethodDef,
    /// The config as given (written to `mergekit_config.yml`).
    pub config: MergeConfig,
    /// Opened input models, indexed by [`SourceRef::model`].
    pub models: Vec<ModelDir>,
    /// One job per output tensor, in output order.
    pub jobs: Vec<TensorJob>,
    /// Layers in the output model.
    pub out_layers: usize,
    /// The model whose config.json is copied (the base, else the first model).
    pub config_model: usize,
    /// The model whose tokenizer files are copied.
    pub tokenizer_model: usize,
    /// Dtype named by `out_dtype`/`dtype`, if any (recorded as `torch_dtype`).
    pub named_dtype: Option<DType>,
    /// Things the user should know that do not stop the merge (e.g. vocabulary truncation).
    pub warnings: Vec<String>,
}

impl Plan {
    /// Output tensor name → index into [`Plan::jobs`].
    pub fn job_index(&self) -> std::collections::HashMap<String, usize> {
        self.jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.clone(), i))
            .collect()
    }

    /// Loads `path` and plans it.
    pub fn from_file(path: &Path) -> Result<Plan> {
        let cfg = MergeConfig::load(path)?;
        Plan::build(cfg, path)
    }

    /// Validates `config` and resolves every output tensor. `path` labels errors.
    pub fn build(config: MergeConfig, path: &Path) -> Result<Plan> {
        let err = |msg: String| Error::config(path, msg);
        let method = registry::method(&config.merge_method).ok_or_else(|| {
            err(format!(
                "unknown merge_method `{}`; known methods: {}",
                config.merge_method,
                registry::method_names().join(", ")
            ))
        })?;
        let load_dtype = parse_dtype(config.dtype.as_deref(), "dtype", path)?;
        let out_dtype = parse_dtype(config.out_dtype.as_deref(), "out_dtype", path)?;
        check_parameter_names(&config, method, path)?;

        // Open every referenced model once (headers only).
        let mut set = ModelSet::default();
        let base = match &config.base_model {
            Some(b) => Some(set.open(b, "base_model", path)?),
            None => None,
        };
        let slices: Vec<OutputSlice> = match (&config.models, &config.slices) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(err(
                    "exactly one of `models` or `slices` must be given".into()
                ))
            }
            (Some(models), None) => {
                if models.is_empty() {
                    return Err(err("`models` is empty".into()));
                }
                let mut sources = Vec::new();
                let mut has_base = false;
                for (i, m) in models.iter().enumerate() {
                    let idx = set.open(&m.model, &format!("models[{i}].model"), path)?;
                    has_base |= Some(idx) == base;
                    sources.push(InputSlice {
                        model: m.model.clone(),
                        layer_range: [0, set.models[idx].num_layers()],
                        parameters: m.parameters.clone(),
                    });
                }
                if let (Some(b), false) = (base, has_base) {
                    // mergekit adds the base to the inputs when it is not listed.
                    sources.push(InputSlice {
                        model: config.base_model.clone().unwrap_or_default(),
                        layer_range: [0, set.models[b].num_layers()],
                        parameters: None,
                    });
                }
                vec![OutputSlice {
                    sources,
                    base_model: None,
                    parameters: None,
                }]
            }
            (None, Some(slices)) => {
                if slices.is_empty() {
                    return Err(err("`slices` is empty".into()));
                }
                slices.clone()
            }
        };

        // Resolve slice sources to model indices and check layer ranges.
        let mut resolved: Vec<ResolvedSlice> = Vec::new();
        for (si, s) in slices.iter().enumerate() {
            if s.sources.is_empty() {
                return Err(err(format!("slices[{si}].sources is empty")));
            }
            let mut models = Vec::new();
            for (j, src) in s.sources.iter().enumerate() {
                let at = format!("slices[{si}].sources[{j}]");
                let idx = set.open(&src.model, &format!("{at}.model"), path)?;
                let [a, b] = src.layer_range;
                let n = set.models[idx].num_layers();
                if a >= b {
                    return Err(err(format!(
                        "{at}.layer_range [{a}, {b}] is empty: the start must be below the end"
                    )));
                }
                if b > n {
                    return Err(err(format!(
                        "{at}.layer_range [{a}, {b}] is outside the model's {n} layers ({})",
                        src.model
                    )));
                }
                models.push(idx);
            }
            let len = s.sources[0].layer_range[1] - s.sources[0].layer_range[0];
            if s.sources
                .iter()
                .any(|x| x.layer_range[1] - x.layer_range[0] != len)
            {
                let spans: Vec<String> = s
                    .sources
                    .iter()
                    .map(|x| format!("{} ({})", x.model, x.layer_range[1] - x.layer_range[0]))
                    .collect();
                let at = if config.models.is_some() {
                    "models: every model must have the same number of layers".to_string()
                } else {
                    format!("slices[{si}]: all sources must span the same number of layers")
                };
                return Err(err(format!("{at}; found {}", spans.join(", "))));
            }
            let slice_base = match &s.base_model {
                Some(b) => Some(set.open(b, &format!("slices[{si}].base_model"), path)?),
                None => base,
            };
            let base_pos = slice_base.and_then(|b| models.iter().position(|&m| m == b));
            if slice_base.is_some() && base_pos.is_none() && !method.base_is_input {
                return Err(err(format!(
                    "slices[{si}]: the base model is not one of the slice's sources; add it with the same layer_range"
                )));
            }
            if method.base == BaseRule::Required && base_pos.is_none() {
                return Err(err(format!(
                    "merge_method {} needs a base_model (set `base_model:`)",
                    method.name
                )));
            }
            let n_inputs = if method.base_is_input {
                models.len()
            } else {
                models.len() - base_pos.is_some() as usize
            };
            let ok = match method.arity {
                Arity::AtLeast(k) => n_inputs >= k,
                Arity::Exactly(k) => n_inputs == k,
            };
            if !ok {
                let want = match method.arity {
                    Arity::AtLeast(k) => format!("at least {k}"),
                    Arity::Exactly(k) => format!("exactly {k}"),
                };
                let where_ = if config.models.is_some() {
                    "`models` lists".to_string()
                } else {
                    format!("slices[{si}] has")
                };
                let what = if method.base_is_input {
                    "input"
                } else {
                    "non-base"
                };
                return Err(err(format!(
                    "merge_method {} takes {want} {what} model(s); {where_} {n_inputs}",
                    method.name
                )));
            }
            resolved.push(ResolvedSlice {
                def: s.clone(),
                models,
                base_pos,
                len,
            });
        }

        let config_model = base.unwrap_or(resolved[0].models[0]);
        let tokenizer_model = match config.tokenizer_source.as_deref() {
            None | Some("base") => config_model,
            Some("union") => {
                return Err(err(
                    "tokenizer_source: union is not supported; use `base` or a model directory"
                        .into(),
                ))
            }
            Some(m) => set.open(m, "tokenizer_source", path)?,
        };

        let ctx = Resolver {
            method,
            config: &config,
            path,
            set: &set,
            load_dtype,
            out_dtype,
            warnings: Default::default(),
        };
        let mut jobs = Vec::new();
        // Tensors before the layers, layers slice by slice, tensors after the layers.
        let first = &resolved[0];
        let last = &resolved[resolved.len() - 1];
        // Output tensors are the union over every input, so a tensor one model lacks is
        // reported as missing rather than silently left out.
        let (pre, _) = non_layer_names(first.models.iter().map(|&m| &set.models[m]));
        for name in pre {
            jobs.push(ctx.job(first, &name, std::slice::from_ref(&name), 0.0)?);
        }
        let mut out_layer = 0usize;
        for s in &resolved {
            for off in 0..s.len {
                let suffixes = layer_suffixes(
                    s.models
                        .iter()
                        .zip(&s.def.sources)
                        .map(|(&m, src)| (&set.models[m], src.layer_range[0] + off)),
                );
                let t = if s.len > 1 {
                    off as f64 / (s.len - 1) as f64
                } else {
                    1.0
                };
                for (prefix, suffix) in &suffixes {
                    let out_name = format!("{prefix}{out_layer}{suffix}");
                    let inputs: Vec<String> = s
                        .def
                        .sources
                        .iter()
                        .map(|src| format!("{prefix}{}{suffix}", src.layer_range[0] + off))
                        .collect();
                    jobs.push(ctx.job(s, &out_name, &inputs, t)?);
                }
                out_layer += 1;
            }
        }
        let (_, post) = non_layer_names(last.models.iter().map(|&m| &set.models[m]));
        for name in post {
            jobs.push(ctx.job(last, &name, std::slice::from_ref(&name), 0.0)?);
        }
        let jobs: Vec<TensorJob> = jobs.into_iter().flatten().collect();
        let mut warnings = ctx.warnings.take();
        for m in &set.models {
            for (name, dtype) in &m.skipped {
                warnings.push(format!(
                    "{}: tensor {name} has dtype {dtype}; only float tensors are merged, so it is not written",
                    m.path.display()
                ));
            }
        }

        Ok(Plan {
            method,
            models: set.models,
            jobs,
            out_layers: out_layer,
            config_model,
            tokenizer_model,
            named_dtype: out_dtype.or(load_dtype),
            warnings,
            config,
        })
    }

    /// The merged model's `config.json`: the config model's, with `num_hidden_layers` set to
    /// the output's layer count and `torch_dtype` to the named dtype, if any.
    pub fn output_config(&self) -> serde_json::Value {
        let mut config = self.models[self.config_model].config.clone();
        if let Some(obj) = config.as_object_mut() {
            obj.insert("num_hidden_layers".into(), self.out_layers.into());
            if let Some(d) = self.named_dtype {
                obj.insert("torch_dtype".into(), d.torch_name().into());
            }
        }
        config
    }

    /// The tensors the writer will receive.
    pub fn planned_tensors(&self) -> Vec<PlannedTensor> {
        self.jobs
            .iter()
            .map(|j| PlannedTensor {
                name: j.name.clone(),
                dtype: j.out_dtype,
                shape: j.shape.clone(),
            })
            .collect()
    }
}

struct ResolvedSlice {
    def: OutputSlice,
    models: Vec<usize>,
    base_pos: Option<usize>,
    len: usize,
}

/// Models opened once each, keyed by canonical path.
#[derive(Default)]
struct ModelSet {
    models: Vec<ModelDir>,
    by_path: HashMap<PathBuf, usize>,
}

impl ModelSet {
    fn open(&mut self, spec: &str, field: &str, cfg: &Path) -> Result<usize> {
        if spec.contains('+') && !Path::new(spec).exists() {
            return Err(Error::config(
                cfg,
                format!("{field}: `{spec}` looks like a model+LoRA reference, which is not supported; merge the adapter first"),
            ));
        }
        let p = Path::new(spec);
        if !p.is_dir() {
            return Err(Error::config(
                cfg,
                format!("{field}: model directory `{spec}` does not exist (paths are local directories, relative to the current directory; nothing is downloaded)"),
            ));
        }
        let key = p.canonicalize().map_err(|e| Error::io(p, e))?;
        if let Some(&i) = self.by_path.get(&key) {
            return Ok(i);
        }
        let m = ModelDir::open(p)?;
        self.models.push(m);
        self.by_path.insert(key, self.models.len() - 1);
        Ok(self.models.len() - 1)
    }
}

/// (pre-layer, post-layer) tensor names over `models`, each sorted.
fn non_layer_names<'a>(models: impl Iterator<Item = &'a ModelDir>) -> (Vec<String>, Vec<String>) {
    let mut pre = BTreeSet::new();
    let mut post = BTreeSet::new();
    for m in models {
        for name in m.tensors.keys() {
            if layer_index(name).is_some() {
                continue;
            }
            if is_pre_layer(name) {
                pre.insert(name.clone());
            } else {
                post.insert(name.clone());
            }
        }
    }
    (pre.into_iter().collect(), post.into_iter().collect())
}

/// (prefix, suffix) pairs of the tensors of the given (model, layer) pairs, merged and
/// sorted by suffix.
fn layer_suffixes<'a>(
    layers: impl Iterator<Item = (&'a ModelDir, usize)>,
) -> Vec<(String, String)> {
    let mut v = BTreeSet::new();
    for (m, layer) in layers {
        for n in m.tensors.keys() {
            if let Some((p, i, s)) = layer_index(n) {
                if i == layer {
                    v.insert((s.to_string(), p.to_string()));
                }
            }
        }
    }
    v.into_iter().map(|(s, p)| (p, s)).collect()
}

fn parse_dtype(v: Option<&str>, field: &str, path: &Path) -> Result<Option<DType>> {
    match v {
        None => Ok(None),
        Some(s) => DType::parse(s).map(Some).ok_or_else(|| {
            Error::config(
                path,
                format!("{field}: unknown dtype `{s}`; expected float32, float16 or bfloat16"),
            )
        }),
    }
}

/// Every parameter name used anywhere must belong to the method, at a level where mergekit
/// would read it (a global parameter set under one model would be silently ignored there).
fn check_parameter_names(cfg: &MergeConfig, m: &MethodDef, path: &Path) -> Result<()> {
    let check = |params: &Option<Parameters>, at: &str, per_model_level: bool| -> Result<()> {
        for name in params.iter().flat_map(|p| p.keys()) {
            let Some(def) = m.param(name) else {
                let known: Vec<&str> = m.params.iter().map(|p| p.name).collect();
                return Err(Error::config(
                    path,
                    format!(
                        "{at}: unknown parameter `{name}` for merge_method {}; it takes: {}",
                        m.name,
                        if known.is_empty() {
                            "no parameters".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            if per_model_level && def.scope == Scope::Global {
                return Err(Error::config(
                    path,
                    format!("{at}: `{name}` is a global parameter of {}; set it under the top-level (or slice) `parameters`", m.name),
                ));
            }
        }
        Ok(())
    };
    check(&cfg.parameters, "parameters", false)?;
    for (i, x) in cfg.models.iter().flatten().enumerate() {
        check(&x.parameters, &format!("models[{i}].parameters"), true)?;
    }
    for (i, s) in cfg.slices.iter().flatten().enumerate() {
        check(&s.parameters, &format!("slices[{i}].parameters"), false)?;
        for (j, src) in s.sources.iter().enumerate() {
            check(
                &src.parameters,
                &format!("slices[{i}].sources[{j}].parameters"),
                true,
            )?;
        }
    }
    Ok(())
}

struct Resolver<'a> {
    method: &'static MethodDef,
    config: &'a MergeConfig,
    path: &'a Path,
    set: &'a ModelSet,
    load_dtype: Option<DType>,
    out_dtype: Option<DType>,
    warnings: std::cell::RefCell<Vec<String>>,
}

impl Resolver<'_> {
    /// Plans one output tensor; `inputs` holds one input name per source (or one shared name).
    /// `None` for an optional tensor (lm_head of tied models) that no input has.
    fn job(
        &self,
        s: &ResolvedSlice,
        out_name: &str,
        inputs: &[String],
        t: f64,
    ) -> Result<Option<TensorJob>> {
        let err = |msg: String| Error::config(self.path, msg);
        let mut sources = Vec::new();
        let mut shapes = Vec::new();
        let mut dtypes = Vec::new();
        let mut missing = Vec::new();
        for (j, &mi) in s.models.iter().enumerate() {
            let model = &self.set.models[mi];
            let name = &inputs[j.min(inputs.len() - 1)];
            let found = model.meta(name).map(|m| (name.clone(), m)).or_else(|| {
                // Tied embeddings: a model without lm_head uses its input embeddings.
                name.starts_with("lm_head")
                    .then(|| {
                        let alias = name.replace("lm_head", "model.embed_tokens");
                        model.meta(&alias).map(|m| (alias, m))
                    })
                    .flatten()
            });
            match found {
                Some((n, meta)) => {
                    shapes.push(meta.shape.clone());
                    dtypes.push(meta.dtype);
                    sources.push((mi, n));
                }
                None => missing.push((mi, name.clone())),
            }
        }
        if !missing.is_empty() {
            if sources.is_empty() && out_name.starts_with("lm_head") {
                return Ok(None);
            }
            let (mi, name) = &missing[0];
            return Err(Error::checkpoint(
                &self.set.models[*mi].path,
                format!("missing tensor {name}, which the merge needs for output {out_name}"),
            ));
        }
        // Shapes: identical, except embeddings of different vocab sizes (common sub-matrix).
        // The base (else the first input) is the reference a mismatch is reported against.
        let ref_pos = s.base_pos.unwrap_or(0);
        let shape = if shapes.iter().all(|x| *x == shapes[0]) {
            shapes[0].clone()
        } else if is_embed(out_name) && shapes.iter().all(|x| x.len() == 2) {
            let common = vec![
                shapes.iter().map(|x| x[0]).min().unwrap_or(0),
                shapes.iter().map(|x| x[1]).min().unwrap_or(0),
            ];
            // Older mergekit did this silently; 0.1.5 asks for --unsafe-truncate-embeddings.
            self.warnings.borrow_mut().push(format!(
                "{out_name}: input shapes differ ({shapes:?}); merging the common {}×{} sub-matrix (token ids past it are dropped)",
                common[0], common[1]
            ));
            common
        } else {
            let j = shapes
                .iter()
                .position(|x| *x != shapes[ref_pos])
                .unwrap_or(0);
            return Err(Error::checkpoint(
                &self.set.models[s.models[j]].path,
                format!(
                    "tensor {} has shape {:?}, expected {:?} (as in {})",
                    sources[j].1,
                    shapes[j],
                    shapes[ref_pos],
                    self.set.models[s.models[ref_pos]].path.display()
                ),
            ));
        };
        let out_dtype = self
            .out_dtype
            .or(self.load_dtype)
            .unwrap_or(dtypes[ref_pos]);

        // Parameters.
        let mut global = Params::default();
        for def in self
            .method
            .params
            .iter()
            .filter(|d| d.scope == Scope::Global)
        {
            let v = self.lookup(def.name, None, s, out_name, t);
            if let Some(v) = self.finish_value(def, v, "parameters", out_name)? {
                global.0.insert(def.name, v);
            }
        }
        let mut refs = Vec::new();
        for (j, (mi, in_name)) in sources.into_iter().enumerate() {
            let is_base = Some(j) == s.base_pos;
            // Filters match the requested name (`lm_head.weight` even when a tied model
            // supplies its embeddings), as mergekit matches `weight_in.name`.
            let requested = &inputs[j.min(inputs.len() - 1)];
            let mut params = Params::default();
            for def in self
                .method
                .params
                .iter()
                .filter(|d| d.scope == Scope::PerModel)
            {
                let v = self.lookup(def.name, Some(&s.def.sources[j]), s, requested, t);
                let at = format!("model {}", s.def.sources[j].model);
                let required_here = !is_base || self.method.base_is_input;
                let v = match (v, def.default) {
                    (None, PDefault::Required) if !required_here => None,
                    (v, _) => self.finish_value(def, v, &at, &in_name)?,
                };
                if let Some(v) = v {
                    params.0.insert(def.name, v);
                }
            }
            refs.push(SourceRef {
                model: mi,
                tensor: in_name,
                params,
            });
        }
        let job = TensorJob {
            name: out_name.to_string(),
            shape,
            out_dtype,
            load_dtype: self.load_dtype,
            t,
            sources: refs,
            base: s.base_pos,
            global,
        };
        self.check_domains(&job).map_err(err)?;
        Ok(Some(job))
    }

    /// mergekit's lookup order for `name` on `tensor`.
    fn lookup(
        &self,
        name: &str,
        source: Option<&InputSlice>,
        s: &ResolvedSlice,
        tensor: &str,
        t: f64,
    ) -> Option<Scalar> {
        let levels = [
            source.and_then(|x| x.parameters.as_ref()),
            s.def.parameters.as_ref(),
            self.config.parameters.as_ref(),
        ];
        levels
            .into_iter()
            .flatten()
            .filter_map(|p| p.get(name))
            .find_map(|setting| setting.evaluate(tensor, t))
    }

    /// Applies defaults and kind checks.
    fn finish_value(
        &self,
        def: &registry::ParamDef,
        v: Option<Scalar>,
        at: &str,
        tensor: &str,
    ) -> Result<Option<f64>> {
        let err = |msg: String| Error::config(self.path, msg);
        let v = match (v, def.default) {
            (Some(v), _) => v,
            (None, PDefault::Value(d)) => return Ok(Some(d)),
            (None, PDefault::Absent) => return Ok(None),
            (None, PDefault::Required) => {
                return Err(err(format!(
                    "{at}: missing required parameter `{}` for merge_method {} (tensor {tensor})",
                    def.name, self.method.name
                )))
            }
        };
        let x = match (def.kind, v) {
            (Kind::Bool, Scalar::Bool(b)) => b as u8 as f64,
            (Kind::Bool, Scalar::Number(x)) if x == 0.0 || x == 1.0 => x,
            (Kind::Bool, other) => {
                return Err(err(format!(
                    "{at}: parameter `{}` must be true or false, got {other:?}",
                    def.name
                )))
            }
            (Kind::Int, Scalar::Number(x)) if x.fract() == 0.0 && x >= 0.0 => x,
            (Kind::Float, Scalar::Number(x)) if x.is_finite() => x,
            // mergekit validates YAML strings such as "1e-5" into numbers.
            (Kind::Float, Scalar::Text(t))
                if t.trim().parse::<f64>().is_ok_and(|x| x.is_finite()) =>
            {
                t.trim().parse::<f64>().unwrap_or(0.0)
            }
            (_, other) => {
                return Err(err(format!(
                    "{at}: parameter `{}` must be a {}, got {other:?} (tensor {tensor})",
                    def.name,
                    if def.kind == Kind::Int {
                        "non-negative integer"
                    } else {
                        "finite number"
                    }
                )))
            }
        };
        Ok(Some(x))
    }

    /// Checks every resolved value against its [`registry::ParamDef`]'s domain, and each
    /// model's per-model values against the method's [`registry::JointRule`]. The base's
    /// per-model values are skipped where the method does not merge the base itself
    /// (mergekit never reads them there).
    fn check_domains(&self, job: &TensorJob) -> std::result::Result<(), String> {
        let check = |params: &Params, at: &str| -> std::result::Result<(), String> {
            for (name, v) in &params.0 {
                let Some(def) = self.method.param(name) else {
                    continue;
                };
                if !def.admits(*v) {
                    return Err(format!(
                        "{at}: `{name}` = {v} for tensor {} is outside {}",
                        job.name, def.domain
                    ));
                }
            }
            Ok(())
        };
        check(&job.global, "parameters")?;
        for (j, src) in job.sources.iter().enumerate() {
            if Some(j) == job.base && !self.method.base_is_input {
                continue;
            }
            let at = format!("model {}", self.set.models[src.model].path.display());
            check(&src.params, &at)?;
            self.method
                .check_joint(&src.params)
                .map_err(|e| format!("{at}: {e} for tensor {}", src.tensor))?;
        }
        Ok(())
    }
}
