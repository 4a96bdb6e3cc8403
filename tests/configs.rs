//! Every example merge config in `configs/merge/` runs as-is (project rule: every file in
//! `configs/` runs in some test).
//!
//! The configs point at the toy zoo (`results/zoo/...`, relative to the repository root).
//! Here each config is run against tiny llama-shaped stand-ins written at those relative
//! paths inside a temporary directory (see `common/mod.rs` for their values): the config's
//! `base_model` is a base model (variant 0), every other referenced model a distinct
//! fine-tune of it. Every config is run even when an earlier one fails; the failures are
//! reported together.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use common::*;
use mergesearch::checkpoint::{DType, ModelDir};
use mergesearch::merge::config::{InputModel, Parameters};
use mergesearch::merge::setting::Scalar;
use mergesearch::merge::{MergeConfig, METHODS};

/// Where the example merge configs live.
const CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/merge");

/// Layers of a stand-in model when no `layer_range` asks for more: enough for 3- and 4-point
/// gradients to take values between their anchors.
const DEFAULT_LAYERS: usize = 4;

/// Every `*.yaml` / `*.yml` file in [`CONFIG_DIR`], sorted.
fn config_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(CONFIG_DIR)
        .unwrap_or_else(|e| panic!("reading {CONFIG_DIR}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    files.sort();
    files
}

/// Every model directory `cfg` references, in first-appearance order: base_model,
/// models[].model, slices[].sources[].model, slices[].base_model, and tokenizer_source
/// unless it is one of mergekit's keywords (`base`, `union`).
fn referenced_models(cfg: &MergeConfig) -> Vec<String> {
    let mut all: Vec<&str> = Vec::new();
    all.extend(cfg.base_model.as_deref());
    all.extend(cfg.models.iter().flatten().map(|m| m.model.as_str()));
    for s in cfg.slices.iter().flatten() {
        all.extend(s.sources.iter().map(|x| x.model.as_str()));
        all.extend(s.base_model.as_deref());
    }
    all.extend(
        cfg.tokenizer_source
            .as_deref()
            .filter(|t| !matches!(*t, "base" | "union")),
    );
    let mut seen = BTreeSet::new();
    all.into_iter()
        .filter(|m| seen.insert(*m))
        .map(String::from)
        .collect()
}

/// Layers every stand-in gets: [`DEFAULT_LAYERS`], or the largest `layer_range` end.
fn stand_in_layers(cfg: &MergeConfig) -> usize {
    cfg.slices
        .iter()
        .flatten()
        .flat_map(|s| &s.sources)
        .map(|x| x.layer_range[1])
        .fold(DEFAULT_LAYERS, usize::max)
}

/// Layers of the merged model: the inputs' count for `models:`, the sum of the slice
/// lengths for `slices:` (all sources of a slice span the same number of layers).
fn expected_layers(cfg: &MergeConfig, input_layers: usize) -> usize {
    match &cfg.slices {
        Some(slices) => slices
            .iter()
            .map(|s| s.sources[0].layer_range[1] - s.sources[0].layer_range[0])
            .sum(),
        None => input_layers,
    }
}

/// Writes the stand-ins of every model `cfg` references under `cwd`, in the config's
/// `dtype` when that is bfloat16, else f32. The base is variant 0; the others are variants
/// 1, 2, ... in first-appearance order, so every model holds distinct values.
fn write_stand_ins(cwd: &Path, cfg: &MergeConfig) -> BTreeMap<String, Tensors> {
    let dtype = match cfg.dtype.as_deref() {
        Some("bfloat16") => DType::BF16,
        _ => DType::F32,
    };
    let layers = stand_in_layers(cfg);
    let mut next_variant = 1;
    referenced_models(cfg)
        .into_iter()
        .map(|m| {
            let variant = if cfg.base_model.as_deref() == Some(m.as_str()) {
                0
            } else {
                next_variant += 1;
                next_variant - 1
            };
            let spec = ModelSpec::new(variant).dtype(dtype).layers(layers);
            let tensors = write_model(&cwd.join(&m), &spec);
            (m, tensors)
        })
        .collect()
}

/// mergekit 0.1.5's gradient position of a tensor of a `layers`-layer model merged with
/// `models:`: `l/(layers − 1)` for layer `l`, 0 for every tensor outside the layers
/// (embed_tokens, model.norm, lm_head).
fn gradient_t(name: &str, layers: usize) -> f64 {
    if let Some(rest) = name.strip_prefix("model.layers.") {
        let l: usize = rest.split('.').next().unwrap().parse().unwrap();
        l as f64 / (layers - 1) as f64
    } else {
        0.0
    }
}

/// The value of parameter `name` on `tensor` at position `t` from the first of `levels`
/// (most specific first: source, slice, global) whose setting yields one, as mergekit looks
/// parameters up. Booleans read as 0/1.
fn lookup(levels: &[Option<&Parameters>], name: &str, tensor: &str, t: f64) -> Option<f64> {
    levels
        .iter()
        .flatten()
        .filter_map(|p| p.get(name))
        .find_map(|s| s.evaluate(tensor, t))
        .map(|v| match v {
            Scalar::Number(x) => x,
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Text(s) => panic!("{name} = {s:?} on {tensor} is not a number"),
        })
}

/// [`lookup`] for a `models:` config: the model's own setting, else the global one.
fn param(
    cfg: &MergeConfig,
    model: Option<&InputModel>,
    name: &str,
    tensor: &str,
    t: f64,
) -> Option<f64> {
    let levels = [
        model.and_then(|m| m.parameters.as_ref()),
        cfg.parameters.as_ref(),
    ];
    lookup(&levels, name, tensor, t)
}

/// The textbook value of every tensor for the methods whose formula fits in a line, from
/// the stand-ins' stored values; `None` for other methods.
///
/// - linear (Wortsman et al. 2022, model soups): `out = Σ w_k x_k / Σ w_k` (normalize,
///   default on) or `Σ w_k x_k`;
/// - task_arithmetic (Ilharco et al. 2022): `out = b + λ Σ w_k (x_k − b)`, divided by
///   `Σ w_k` inside the λ when normalize is on (default off);
/// - passthrough: see [`passthrough`].
fn textbook(
    cfg: &MergeConfig,
    models: &BTreeMap<String, Tensors>,
    layers: usize,
) -> Option<BTreeMap<String, Vec<f64>>> {
    let method = cfg.merge_method.as_str();
    if method == "passthrough" {
        return Some(passthrough(cfg, models));
    }
    if !matches!(method, "linear" | "task_arithmetic") {
        return None;
    }
    let entries = cfg
        .models
        .as_ref()
        .expect("the formula check needs a `models:` config");
    let base = cfg.base_model.as_ref().map(|b| &models[b]);
    let first = &models[&entries[0].model];
    let mut out = BTreeMap::new();
    for (name, (_, x0)) in first {
        let t = gradient_t(name, layers);
        let mut acc = vec![0f64; x0.len()];
        let mut wsum = 0.0;
        for e in entries {
            if method == "task_arithmetic" && Some(&e.model) == cfg.base_model.as_ref() {
                continue;
            }
            let w = param(cfg, Some(e), "weight", name, t).expect("weight is required");
            let x = &models[&e.model][name].1;
            for (i, a) in acc.iter_mut().enumerate() {
                // linear sums w·x; task arithmetic sums w·δ with δ = x − b.
                let b = match (method, base) {
                    ("task_arithmetic", Some(b)) => b[name].1[i] as f64,
                    _ => 0.0,
                };
                *a += w * (x[i] as f64 - b);
            }
            wsum += w;
        }
        let normalize = param(cfg, None, "normalize", name, t);
        let want = if method == "linear" {
            let div = if normalize.unwrap_or(1.0) != 0.0 {
                wsum
            } else {
                1.0
            };
            acc.iter().map(|a| a / div).collect()
        } else {
            let base = &base.expect("task_arithmetic needs a base")[name].1;
            let lambda = param(cfg, None, "lambda", name, t).unwrap_or(1.0);
            let div = if normalize.unwrap_or(0.0) != 0.0 && wsum.abs() >= 1e-8 {
                wsum
            } else {
                1.0
            };
            acc.iter()
                .zip(base)
                .map(|(a, b)| *b as f64 + lambda * a / div)
                .collect()
        };
        out.insert(name.clone(), want);
    }
    Some(out)
}

/// passthrough over `slices:` (a frankenmerge): output layer `j` is layer
/// `layer_range[0] + off` of its slice's single source, times the source's `scale` when one
/// is set; tensors before the layers come from the first slice's model, those after from
/// the last slice's. Gradients run over each slice (`t = off/(len − 1)`, 1 for a one-layer
/// slice), 0 for the tensors outside the layers.
fn passthrough(
    cfg: &MergeConfig,
    models: &BTreeMap<String, Tensors>,
) -> BTreeMap<String, Vec<f64>> {
    let slices = cfg
        .slices
        .as_ref()
        .expect("passthrough example uses `slices:`");
    // (output name, source model, source tensor, source parameters, slice parameters, t)
    let mut plan = Vec::new();
    let first = &slices[0].sources[0];
    let last = &slices[slices.len() - 1].sources[0];
    let mut out_layer = 0;
    for s in slices {
        let src = &s.sources[0];
        let [a, b] = src.layer_range;
        for off in 0..b - a {
            let t = if b - a > 1 {
                off as f64 / (b - a - 1) as f64
            } else {
                1.0
            };
            let prefix = format!("model.layers.{}.", a + off);
            for name in models[&src.model].keys() {
                if let Some(suffix) = name.strip_prefix(&prefix) {
                    let out = format!("model.layers.{out_layer}.{suffix}");
                    plan.push((out, src, name.clone(), s.parameters.as_ref(), t));
                }
            }
            out_layer += 1;
        }
    }
    for (src, name, t) in [
        (first, "model.embed_tokens.weight", 0.0),
        (last, "model.norm.weight", 0.0),
        (last, "lm_head.weight", 0.0),
    ] {
        plan.push((name.to_string(), src, name.to_string(), None, t));
    }
    plan.into_iter()
        .map(|(out, src, name, slice_params, t)| {
            let levels = [
                src.parameters.as_ref(),
                slice_params,
                cfg.parameters.as_ref(),
            ];
            let scale = lookup(&levels, "scale", &name, t).unwrap_or(1.0);
            let x = &models[&src.model][&name].1;
            (out, x.iter().map(|v| *v as f64 * scale).collect())
        })
        .collect()
}

/// Runs one config against stand-ins and checks its output; `Err` says what went wrong.
fn check_config(path: &Path) -> Result<(), String> {
    let cfg = MergeConfig::load(path).map_err(|e| format!("does not parse: {e}"))?;
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let models = write_stand_ins(cwd, &cfg);
    let in_layers = stand_in_layers(&cfg);

    let o = mergesearch(
        cwd,
        &["merge", path.to_str().unwrap(), "out", "--random-seed", "1"],
    );
    if !o.status.success() {
        return Err(format!(
            "merge failed ({})\nstderr:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let out = cwd.join("out");
    let m = ModelDir::open(&out).map_err(|e| format!("output does not open: {e}"))?;
    let mut problems = Vec::new();

    // Tensors: exactly a llama model of the implied depth.
    let layers = expected_layers(&cfg, in_layers);
    let want_names: BTreeSet<String> = llama_tensors(layers, VOCAB)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let got_names: BTreeSet<String> = m.tensors.keys().cloned().collect();
    if got_names != want_names {
        problems.push(format!(
            "{} tensors, expected {} ({layers} layers); missing {:?}, unexpected {:?}",
            got_names.len(),
            want_names.len(),
            want_names.difference(&got_names).collect::<Vec<_>>(),
            got_names.difference(&want_names).collect::<Vec<_>>()
        ));
    }
    let n = m.config.get("num_hidden_layers").and_then(|v| v.as_u64());
    if n != Some(layers as u64) {
        problems.push(format!(
            "config.json num_hidden_layers = {n:?}, expected {layers}"
        ));
    }

    // Values: finite everywhere; the named dtype (out_dtype, else dtype) is the storage dtype.
    let named = cfg.out_dtype.as_deref().or(cfg.dtype.as_deref());
    let named = named.map(|d| DType::parse(d).unwrap_or_else(|| panic!("dtype {d}")));
    let mut got = BTreeMap::new();
    for (name, meta) in &m.tensors {
        let v = mergesearch::merge::inputs::decode(meta.dtype, m.bytes(meta));
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            problems.push(format!("{name}[{i}] = {}", v[i]));
        }
        if named.is_some_and(|d| d != meta.dtype) {
            problems.push(format!(
                "{name} is {:?}, config names {named:?}",
                meta.dtype
            ));
        }
        got.insert(name.clone(), (meta.dtype, v));
    }

    // The tokenizer comes from tokenizer_source when it names a model, else from the base,
    // else from the first model.
    let tok_model = match cfg.tokenizer_source.as_deref() {
        Some(t) if !matches!(t, "base" | "union") => t.to_string(),
        _ => cfg
            .base_model
            .clone()
            .unwrap_or_else(|| referenced_models(&cfg)[0].clone()),
    };
    let tok =
        std::fs::read(out.join("tokenizer.json")).map_err(|e| format!("tokenizer.json: {e}"))?;
    if tok != std::fs::read(cwd.join(&tok_model).join("tokenizer.json")).unwrap() {
        problems.push(format!("tokenizer.json is not {tok_model}'s"));
    }

    // Linear, task arithmetic and passthrough: every tensor against the formula.
    if let Some(want) = textbook(&cfg, &models, in_layers) {
        for (name, w) in &want {
            let Some((dtype, g)) = got.get(name) else {
                continue;
            };
            // f32 output: accumulation-order error only. bf16/f16: half a unit in the last
            // place (2^-9 / 2^-11 relative) plus accumulation, see common::BF16_REL.
            let rel = match dtype {
                DType::F32 => 1e-6,
                DType::BF16 => BF16_REL,
                DType::F16 => 1.0 / 1024.0,
            };
            if let Some(i) =
                (0..g.len()).find(|&i| (g[i] as f64 - w[i]).abs() > 1e-6 + rel * w[i].abs())
            {
                problems.push(format!(
                    "{name}[{i}] = {}, textbook {} gives {}",
                    g[i], cfg.merge_method, w[i]
                ));
            }
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn every_merge_config_runs_on_stand_in_models() {
    let files = config_files();
    // One example per registered method (20 today); a new file is picked up automatically.
    assert!(
        files.len() >= 20,
        "expected at least 20 configs in {CONFIG_DIR}, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let result = catch_unwind(AssertUnwindSafe(|| check_config(path))).unwrap_or_else(|e| {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        });
        if let Err(e) = result {
            let name = path.file_name().unwrap().to_string_lossy();
            failures.push(format!("── {name}:\n{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} configs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_merge_method_has_an_example_named_after_it() {
    let stems: BTreeMap<String, String> = config_files()
        .iter()
        .map(|p| {
            let cfg = MergeConfig::load(p).unwrap_or_else(|e| panic!("{e}"));
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, cfg.merge_method)
        })
        .collect();
    for m in METHODS {
        assert_eq!(
            stems.get(m.name).map(String::as_str),
            Some(m.name),
            "configs/merge/{}.yaml should exist and use merge_method {}",
            m.name,
            m.name
        );
    }
}
