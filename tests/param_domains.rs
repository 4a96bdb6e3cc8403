//! One schema per merge parameter: the registry's `ParamDef::domain` decides what configs
//! may set (the planner), what `mergesearch methods` prints, and (in `tests/space.rs`) which
//! search bounds are accepted. Domains come from mergekit's sources, cited in
//! `src/merge/registry.rs`.

mod common;

use std::path::Path;

use common::{write_model, ModelSpec};
use mergesearch::merge::registry::{Kind, ParamDefault};
use mergesearch::merge::{self, methods_table, Domain, MergeConfig, Plan, METHODS};

/// Plans `yaml` (with `{base}`, `{ft1}`, `{ft2}` replaced by 2-layer model directories) and
/// returns the planner's error.
fn plan_error(dir: &Path, yaml: &str) -> String {
    for (name, v) in [("base", 0), ("ft1", 1), ("ft2", 2)] {
        write_model(&dir.join(name), &ModelSpec::new(v).layers(2));
    }
    let mut yaml = yaml.to_string();
    for name in ["base", "ft1", "ft2"] {
        yaml = yaml.replace(
            &format!("{{{name}}}"),
            &dir.join(name).display().to_string(),
        );
    }
    let path = dir.join("merge.yaml");
    let cfg = MergeConfig::from_yaml(&yaml, &path).expect("the YAML parses");
    match Plan::build(cfg, &path) {
        Ok(_) => panic!("planning should fail:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

fn assert_names(e: &str, needles: &[&str]) {
    for n in needles {
        assert!(e.contains(n), "`{n}` missing from: {e}");
    }
}

#[test]
fn every_default_lies_in_its_domain() {
    for m in METHODS {
        for p in m.params {
            if let ParamDefault::Value(v) = p.default {
                assert!(
                    p.admits(v),
                    "{}.{} default {v} vs {}",
                    m.name,
                    p.name,
                    p.domain
                );
            }
            if p.kind == Kind::Bool {
                assert_eq!(p.domain, Domain::UNIT, "{}.{}", m.name, p.name);
            }
        }
    }
}

#[test]
fn domains_follow_mergekit() {
    let dom =
        |method: &str, param: &str| merge::method(method).unwrap().param(param).unwrap().domain;
    // sparsify.py: density and gamma are fractions of the tensor's entries.
    assert_eq!(dom("ties", "density"), Domain::UNIT);
    assert_eq!(dom("breadcrumbs", "gamma"), Domain::UNIT);
    // sce.py: select_topk is the kept fraction.
    assert_eq!(dom("sce", "select_topk"), Domain::UNIT);
    // karcher.py: a tolerance and an iteration count; multislerp.py: a stabilizing epsilon.
    assert_eq!(dom("karcher", "tol"), Domain::POSITIVE);
    assert_eq!(dom("karcher", "max_iter"), Domain::AT_LEAST_ONE);
    assert_eq!(dom("multislerp", "eps"), Domain::POSITIVE);
    // slerp.py's docstring: t between 0.0 and 1.0.
    assert_eq!(dom("slerp", "t"), Domain::UNIT);
    // generalized_task_arithmetic.py: weights and lambda are any float.
    assert_eq!(dom("ties", "weight"), Domain::REAL);
    assert_eq!(dom("ties", "lambda"), Domain::REAL);
}

#[test]
fn karcher_tol_zero_names_model_tensor_parameter_and_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let e = plan_error(
        tmp.path(),
        "merge_method: karcher\nmodels:\n  - model: {ft1}\n  - model: {ft2}\nparameters: {tol: 0}\n",
    );
    assert_names(
        &e,
        &[
            "parameters",
            "`tol` = 0",
            "tensor model.embed_tokens.weight",
            "(0, ∞)",
        ],
    );
}

#[test]
fn karcher_zero_iterations_is_outside_its_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let e = plan_error(
        tmp.path(),
        "merge_method: karcher\nmodels:\n  - model: {ft1}\n  - model: {ft2}\nparameters: {max_iter: 0}\n",
    );
    assert_names(&e, &["`max_iter` = 0", "[1, ∞)"]);
}

#[test]
fn slerp_t_above_one_is_rejected_like_density() {
    // Before the registry carried domains the planner had no rule for `t` and merged
    // t = 1.5 (an extrapolation mergekit's slerp documents as out of range).
    let tmp = tempfile::tempdir().unwrap();
    let e = plan_error(
        tmp.path(),
        "merge_method: slerp\nbase_model: {base}\nmodels:\n  - model: {base}\n  - model: {ft1}\nparameters: {t: 1.5}\n",
    );
    assert_names(&e, &["`t` = 1.5", "[0, 1]"]);
}

#[test]
fn per_model_gamma_names_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let e = plan_error(
        tmp.path(),
        "merge_method: breadcrumbs\nbase_model: {base}\nmodels:\n  - model: {ft1}\n    parameters: {weight: 1, density: 0.5, gamma: 1.2}\n",
    );
    assert_names(&e, &["ft1", "`gamma` = 1.2", "[0, 1]"]);
}

#[test]
fn della_joint_rule_still_names_both_values() {
    let tmp = tempfile::tempdir().unwrap();
    let e = plan_error(
        tmp.path(),
        "merge_method: della\nbase_model: {base}\nmodels:\n  - model: {ft1}\n    parameters: {weight: 1, density: 0.9, epsilon: 0.1}\n",
    );
    // 0.9 + 0.1 = 1 is not inside (0, 1) (sparsify.py della_magprune's ValueError).
    assert_names(&e, &["ft1", "density = 0.9", "epsilon = 0.1", "tensor"]);
}

#[test]
fn the_methods_table_shows_each_domain() {
    let t = methods_table();
    let row = |m: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("| `{m}` |")))
            .unwrap_or_else(|| panic!("no row for {m}:\n{t}"))
            .to_string()
    };
    assert!(row("ties").contains("`density` = 1.0 in [0, 1]"), "{t}");
    // Unconstrained parameters print no domain; booleans print their default only.
    assert!(row("ties").contains("`weight` (required),"), "{t}");
    assert!(row("ties").contains("`normalize` = true"), "{t}");
    assert!(row("slerp").contains("`t` (required) in [0, 1]"), "{t}");
    assert!(row("karcher").contains("`max_iter` = 10 in [1, ∞)"), "{t}");
    assert!(row("karcher").contains("`tol` = 1e-5 in (0, ∞)"), "{t}");
    assert!(row("della").contains("density + epsilon < 1"), "{t}");
    assert_eq!(t.lines().count(), 2 + METHODS.len());
}
