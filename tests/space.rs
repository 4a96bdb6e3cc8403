//! The search space: gene layout and decoding checked by hand, and decoded recipes are
//! mergekit configs that plan and merge.

mod common;

use std::path::Path;

use common::{write_model, ModelSpec};
use mergesearch::merge::Plan;
use mergesearch::space::{MergeSpec, SearchSpace, SpaceSpec};

fn space(dir: &Path, yaml_search: &str) -> SearchSpace {
    for (name, v) in [("base", 0), ("ft1", 1), ("ft2", 2)] {
        write_model(&dir.join(name), &ModelSpec::new(v).layers(4));
    }
    let d = |n: &str| dir.join(n).display().to_string();
    let merge = MergeSpec {
        method: "ties".into(),
        base_model: Some(d("base")),
        models: vec![d("ft1"), d("ft2")],
        dtype: None,
        parameters: Default::default(),
    };
    let search: SpaceSpec = serde_saphyr::from_str(yaml_search).unwrap();
    SearchSpace::new(merge, search, &dir.join("study.yaml")).unwrap()
}

#[test]
fn genes_cover_parameter_model_group_and_layer_group() {
    let tmp = tempfile::tempdir().unwrap();
    let s = space(
        tmp.path(),
        "layer_granularity: 3\nfilters: [mlp]\nparameters:\n  weight: {bounds: [0, 2], init: 0.25}\n  density: {bounds: [0.2, 1]}\n",
    );
    // 4 layers in groups of 3 → 2 layer groups; 2 tensor groups (mlp, rest); 2 models;
    // 2 parameters: 16 genes, density first (parameters are ordered by name).
    assert_eq!(s.dim(), 16);
    assert_eq!(s.labels()[0], "density[ft1].mlp.L0-2");
    assert_eq!(s.labels()[1], "density[ft1].mlp.L3");
    assert_eq!(s.labels()[2], "density[ft1].rest.L0-2");
    assert_eq!(s.labels()[15], "weight[ft2].rest.L3");
    assert_eq!(&s.init[..2], &[0.6, 0.6], "density starts mid-box");
    assert_eq!(&s.init[8..10], &[0.25, 0.25], "weight starts at its init");
    assert_eq!((s.bounds.lo[8], s.bounds.hi[8]), (0.0, 2.0));
}

#[test]
fn decoding_writes_one_gradient_point_per_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let s = space(
        tmp.path(),
        "layer_granularity: 2\nfilters: [self_attn]\nparameters:\n  weight: {bounds: [0, 2]}\n",
    );
    // weight × (ft1, ft2) × (self_attn, rest) × (L0-1, L2-3).
    let x = [0.1, 0.2, 0.3, 0.3, 1.0, 1.5, 0.7, 0.9];
    let recipe = s.decode(&x);
    let yaml = recipe.to_yaml();
    let back = mergesearch::merge::MergeConfig::from_yaml(&yaml, Path::new("r.yaml")).unwrap();
    assert_eq!(back, recipe, "the recipe round-trips through its YAML");
    let models = recipe.models.as_ref().unwrap();
    let w1 = serde_json::to_value(&models[0].parameters.as_ref().unwrap()["weight"]).unwrap();
    // ft1: self_attn layers 0,1 = 0.1 and 2,3 = 0.2; the rest is constant 0.3 (a scalar).
    assert_eq!(
        w1,
        serde_json::json!([
            {"filter": "self_attn", "value": [0.1, 0.1, 0.2, 0.2]},
            {"value": 0.3}
        ])
    );
    let w2 = serde_json::to_value(&models[1].parameters.as_ref().unwrap()["weight"]).unwrap();
    assert_eq!(
        w2,
        serde_json::json!([
            {"filter": "self_attn", "value": [1.0, 1.0, 1.5, 1.5]},
            {"value": [0.7, 0.7, 0.9, 0.9]}
        ])
    );
    // The planner (mergekit's semantics) evaluates each layer at exactly its gene.
    let plan = Plan::build(recipe, &tmp.path().join("r.yaml")).unwrap();
    let weight_of = |tensor: &str, model: usize| {
        let job = plan.jobs.iter().find(|j| j.name == tensor).unwrap();
        job.sources[job.others()[model]]
            .params
            .or("weight", f64::NAN)
    };
    assert_eq!(weight_of("model.layers.1.self_attn.q_proj.weight", 0), 0.1);
    assert_eq!(weight_of("model.layers.2.self_attn.q_proj.weight", 0), 0.2);
    assert_eq!(weight_of("model.layers.3.mlp.up_proj.weight", 1), 0.9);
    assert_eq!(weight_of("model.layers.0.mlp.up_proj.weight", 1), 0.7);
    // Outside the layers, mergekit's gradient position is 0: the first layer group.
    assert_eq!(weight_of("model.embed_tokens.weight", 1), 0.7);
}

#[test]
fn bad_spaces_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in [("base", 0), ("ft1", 1)] {
        write_model(&tmp.path().join(name), &ModelSpec::new(v).layers(4));
    }
    let merge = MergeSpec {
        method: "ties".into(),
        base_model: Some(tmp.path().join("base").display().to_string()),
        models: vec![tmp.path().join("ft1").display().to_string()],
        dtype: None,
        parameters: Default::default(),
    };
    let cases = [
        (
            "parameters:\n  t: {bounds: [0, 1]}\n",
            "`t` is not a parameter of ties",
        ),
        (
            "parameters:\n  weight: {bounds: [0, 1], init: 2}\n",
            "init: 2 lies outside",
        ),
        (
            "layer_granularity: 0\nparameters:\n  weight: {bounds: [0, 1]}\n",
            "layer_granularity",
        ),
        (
            "filters: [mlp, mlp]\nparameters:\n  weight: {bounds: [0, 1]}\n",
            "listed twice",
        ),
        (
            "parameters:\n  int8_mask: {bounds: [0, 1]}\n",
            "only real-valued",
        ),
    ];
    for (yaml, needle) in cases {
        let search: SpaceSpec = serde_saphyr::from_str(yaml).unwrap();
        let e = SearchSpace::new(merge.clone(), search, Path::new("s.yaml")).unwrap_err();
        assert!(e.to_string().contains(needle), "{yaml}: {e}");
    }
}

#[test]
fn global_parameters_get_one_gene_set_for_all_models() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in [("a", 1), ("b", 2)] {
        write_model(&tmp.path().join(name), &ModelSpec::new(v).layers(4));
    }
    let merge = MergeSpec {
        method: "slerp".into(),
        base_model: Some(tmp.path().join("a").display().to_string()),
        models: vec![
            tmp.path().join("a").display().to_string(),
            tmp.path().join("b").display().to_string(),
        ],
        dtype: None,
        parameters: Default::default(),
    };
    let search: SpaceSpec =
        serde_saphyr::from_str("layer_granularity: 4\nparameters:\n  t: {bounds: [0, 1]}\n")
            .unwrap();
    let s = SearchSpace::new(merge, search, Path::new("s.yaml")).unwrap();
    assert_eq!(s.labels(), ["t.rest.L0-3"]);
    let recipe = s.decode(&[0.25]);
    let t = serde_json::to_value(&recipe.parameters.as_ref().unwrap()["t"]).unwrap();
    assert_eq!(t, serde_json::json!(0.25));
    let plan = Plan::build(recipe, &tmp.path().join("r.yaml")).unwrap();
    assert!(plan.jobs.iter().all(|j| j.global.or("t", f64::NAN) == 0.25));
}

/// `SearchSpace::new` for `method` over 4-layer models `base`, `ft1` (and `ft2`) with the
/// given fixed parameters and search YAML; returns the error.
fn space_error(method: &str, fixed: &str, yaml_search: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in [("base", 0), ("ft1", 1), ("ft2", 2)] {
        write_model(&tmp.path().join(name), &ModelSpec::new(v).layers(4));
    }
    let d = |n: &str| tmp.path().join(n).display().to_string();
    let models = if method == "slerp" {
        vec![d("base"), d("ft1")]
    } else {
        vec![d("ft1"), d("ft2")]
    };
    let merge = MergeSpec {
        method: method.into(),
        base_model: Some(d("base")),
        models,
        dtype: None,
        parameters: serde_saphyr::from_str(fixed).unwrap(),
    };
    let search: SpaceSpec = serde_saphyr::from_str(yaml_search).unwrap();
    SearchSpace::new(merge, search, Path::new("s.yaml"))
        .expect_err("the space is invalid")
        .to_string()
}

fn assert_names(e: &str, needles: &[&str]) {
    for n in needles {
        assert!(e.contains(n), "`{n}` missing from: {e}");
    }
}

#[test]
fn bounds_outside_the_parameters_domain_are_refused_before_any_trial() {
    // density is a kept fraction, [0, 1] (mergekit sparsify.py); [0.5, 2.0] used to pass here
    // and fail every trial whose genes drew a density above 1.
    let e = space_error(
        "ties",
        "{}",
        "parameters:\n  density: {bounds: [0.5, 2.0]}\n",
    );
    assert_names(
        &e,
        &["search.parameters.density.bounds", "[0.5, 2]", "[0, 1]"],
    );
    // A global parameter: slerp's t, [0, 1] (slerp.py's docstring).
    let e = space_error("slerp", "{}", "parameters:\n  t: {bounds: [-0.5, 1]}\n");
    assert_names(&e, &["search.parameters.t.bounds", "[0, 1]"]);
}

#[test]
fn fixed_parameters_outside_their_domain_are_refused() {
    let e = space_error(
        "ties",
        "{density: [0.5, 1.5]}",
        "parameters:\n  weight: {bounds: [0, 1]}\n",
    );
    assert_names(&e, &["merge.parameters.density", "1.5", "[0, 1]"]);
}

#[test]
fn della_bounds_that_break_density_plus_minus_epsilon_are_refused() {
    // epsilon's default is 0.15 (generalized_task_arithmetic.py); a density just below 1
    // makes density + epsilon ≥ 1, which sparsify.py's della_magprune rejects.
    let e = space_error(
        "della",
        "{}",
        "parameters:\n  density: {bounds: [0.2, 1.0]}\n",
    );
    assert_names(&e, &["search.parameters.density.bounds", "epsilon = 0.15"]);
    // [0.2, 0.8] keeps density ± 0.15 inside (0.05, 0.95): accepted.
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in [("base", 0), ("ft1", 1)] {
        write_model(&tmp.path().join(name), &ModelSpec::new(v).layers(4));
    }
    let merge = MergeSpec {
        method: "della".into(),
        base_model: Some(tmp.path().join("base").display().to_string()),
        models: vec![tmp.path().join("ft1").display().to_string()],
        dtype: None,
        parameters: Default::default(),
    };
    let search: SpaceSpec =
        serde_saphyr::from_str("parameters:\n  density: {bounds: [0.2, 0.8]}\n").unwrap();
    SearchSpace::new(merge, search, Path::new("s.yaml")).expect("a valid della space");
}

#[test]
fn filters_without_tensors_and_oversized_layer_groups_are_named() {
    // The test models are llama-shaped (common/mod.rs): self_attn, mlp, norms, embeddings.
    let e = space_error(
        "ties",
        "{}",
        "filters: [mlp, cross_attn]\nparameters:\n  weight: {bounds: [0, 1]}\n",
    );
    assert_names(&e, &["search.filters", "`cross_attn`", "no tensor"]);
    // `proj` takes every q/k/v/o/gate/up/down projection first, so `mlp` owns nothing.
    let e = space_error(
        "ties",
        "{}",
        "filters: [proj, mlp]\nparameters:\n  weight: {bounds: [0, 1]}\n",
    );
    assert_names(&e, &["search.filters", "`mlp`", "earlier filter"]);
    // 4 layers: 5 layers per gene cannot be honoured (it used to be clamped silently).
    let e = space_error(
        "ties",
        "{}",
        "layer_granularity: 5\nparameters:\n  weight: {bounds: [0, 1]}\n",
    );
    assert_names(&e, &["search.layer_granularity", "5", "4 layers"]);
    let e = space_error(
        "ties",
        "{}",
        "layer_granularity: 0\nparameters:\n  weight: {bounds: [0, 1]}\n",
    );
    assert_names(&e, &["search.layer_granularity", "at least 1"]);
}
