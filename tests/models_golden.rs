//! Our forward pass against logits produced by transformers, for every config variant we
//! read: RoPE scaling types, the transformers 4 and 5 config layouts, biases, q/k norms,
//! sliding windows, tied and untied heads. The checkpoints and logits under
//! `tests/fixtures/transformers/` were made by `make_golden.py` there (transformers builds
//! tiny random-initialized models from configs; the versions are in each `logits.json`).
//! Also: config keys we do not implement are refused, naming key, value and file.

mod common;

use std::path::{Path, PathBuf};

use mergesearch::eval::LlamaLm;
use mergesearch::models::config::RopeScaling;
use mergesearch::models::LlamaConfig;
use mergesearch_evals::CausalLm;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transformers")
}

/// (input ids per sequence, logits per sequence per position) as transformers gave them.
type Golden = (Vec<Vec<u32>>, Vec<Vec<Vec<f64>>>);

fn golden(dir: &Path) -> Golden {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("logits.json")).unwrap()).unwrap();
    let ids = serde_json::from_value(v["input_ids"].clone()).unwrap();
    let logits = serde_json::from_value(v["logits"].clone()).unwrap();
    (ids, logits)
}

/// Loads the checkpoint in `name` and returns the largest absolute difference between our
/// logits and transformers' over every real token of both (right-padded) sequences, scored
/// in one batch.
fn max_diff(name: &str) -> f64 {
    let dir = fixtures().join(name);
    let (ids, want) = golden(&dir);
    let lm = LlamaLm::from_dir(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = lm.logits(&ids).unwrap();
    let vocab = lm.vocab_size();
    let mut worst = 0.0f64;
    for (s, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), ids[s].len() * vocab, "{name}: sequence {s}");
        for (p, row) in w.iter().enumerate() {
            for (k, x) in row.iter().enumerate() {
                worst = worst.max((f64::from(g[p * vocab + k]) - x).abs());
            }
        }
    }
    worst
}

#[test]
fn logits_match_transformers_for_every_variant() {
    let mut failures = Vec::new();
    for dir in common::transformers_fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let d = max_diff(&name);
        eprintln!("{name}: max |Δ logit| = {d:.2e}");
        if d >= 1e-4 {
            failures.push(format!("{name}: {d:.2e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "logits differ from transformers' by 1e-4 or more: {failures:?}"
    );
}

#[test]
fn each_variant_reads_what_changes_its_math() {
    let cfg =
        |name: &str| LlamaConfig::from_file(&fixtures().join(name).join("config.json")).unwrap();
    // transformers 5's `rope_parameters` and transformers 4's top-level `rope_theta` agree.
    assert_eq!(cfg("llama-tf5").rope, cfg("llama-tf4").rope);
    assert_eq!(cfg("llama-tf5").rope.theta, 100_000.0);
    assert!(
        matches!(cfg("llama3-scaling").rope.scaling, RopeScaling::Llama3 { factor, .. } if factor == 8.0)
    );
    assert!(
        matches!(cfg("qwen2-yarn").rope.scaling, RopeScaling::Yarn { factor, .. } if factor == 4.0)
    );
    let bias = cfg("llama-bias");
    assert!(bias.attention_bias && bias.mlp_bias);
    // qwen2: layer 0 full, layer 1 sliding (max_window_layers 1); mistral: every layer.
    assert_eq!(cfg("qwen2-sliding").sliding_window, vec![None, Some(6)]);
    assert_eq!(cfg("mistral-window").sliding_window, vec![Some(8), Some(8)]);
    assert_eq!(cfg("qwen2-yarn").sliding_window, vec![None, None]);
    assert_eq!(cfg("qwen3-qknorm").head_dim, 16);
}

/// A config as a JSON object.
type Json = serde_json::Map<String, serde_json::Value>;

/// An edit of a config, and the words its refusal must contain.
type Edit = Box<dyn Fn(&mut Json)>;

#[test]
fn config_keys_that_change_the_math_and_are_not_implemented_are_refused() {
    let base = std::fs::read_to_string(fixtures().join("llama-tf5/config.json")).unwrap();
    let path = Path::new("models/x/config.json");
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&base).unwrap();
        edit(&mut v);
        LlamaConfig::from_json_str(&serde_json::Value::Object(v).to_string(), path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let cases: Vec<(Edit, &[&str])> = vec![
        (
            Box::new(|v| {
                v["rope_parameters"]["rope_type"] = "longrope".into();
            }),
            &[
                "rope_parameters.rope_type",
                "longrope",
                "models/x/config.json",
            ],
        ),
        (
            Box::new(|v| {
                v["rope_parameters"]["mrope_section"] = serde_json::json!([1, 2]);
            }),
            &["rope_parameters.mrope_section"],
        ),
        (
            Box::new(|v| {
                v.remove("rope_parameters");
                v.insert(
                    "rope_scaling".into(),
                    serde_json::json!({"type": "su", "factor": 2.0}),
                );
            }),
            &["rope_scaling.rope_type", "su"],
        ),
        (
            Box::new(|v| {
                v.insert("partial_rotary_factor".into(), 0.5.into());
            }),
            &["partial_rotary_factor", "0.5"],
        ),
        (
            Box::new(|v| {
                v.insert("final_logit_softcapping".into(), 30.0.into());
            }),
            &["final_logit_softcapping", "30"],
        ),
        (
            Box::new(|v| {
                v["hidden_act"] = "gelu".into();
            }),
            &["hidden_act", "gelu"],
        ),
        (
            Box::new(|v| {
                v["rope_parameters"] = serde_json::json!({
                    "full_attention": {"rope_type": "default", "rope_theta": 1e4},
                    "sliding_attention": {"rope_type": "default", "rope_theta": 1e6},
                });
            }),
            &["rope_parameters", "per layer type"],
        ),
        (
            Box::new(|v| {
                v["rope_parameters"] = serde_json::json!({"rope_type": "yarn", "rope_theta": 1e4});
            }),
            &["rope_parameters.factor", "missing"],
        ),
    ];
    for (i, (edit, needles)) in cases.iter().enumerate() {
        let e = with(edit.as_ref()).expect_err(&format!("case {i} was accepted"));
        for n in *needles {
            assert!(e.contains(n), "case {i}: `{n}` not in: {e}");
        }
    }
    // Neutral values of those keys are fine, as are keys that do not change the math.
    with(&|v| {
        v.insert("final_logit_softcapping".into(), serde_json::Value::Null);
        v.insert("partial_rotary_factor".into(), 1.0.into());
        v.insert("use_cache".into(), false.into());
    })
    .unwrap();
}
