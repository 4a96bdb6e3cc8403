//! The llama-family forward pass against a plain-Rust reference, padding invariance and the
//! differentiable mode. All weights are tiny and random (a fixed-seed LCG), so every expected
//! number comes from the reference implementation below, not from a stored file.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{VarBuilder, VarMap};
use mergesearch::models::{ForwardMode, LlamaConfig, Model, Variant};

const VOCAB: usize = 11;
const HIDDEN: usize = 8;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const INTER: usize = 12;
const HEAD_DIM: usize = HIDDEN / HEADS;
const EPS: f64 = 1e-6;
const THETA: f64 = 10_000.0;

fn config(model_type: &str, tied: bool) -> LlamaConfig {
    let json = serde_json::json!({
        "model_type": model_type,
        "hidden_size": HIDDEN, "intermediate_size": INTER, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "rms_norm_eps": EPS,
        "vocab_size": VOCAB, "tie_word_embeddings": tied, "torch_dtype": "float32",
    });
    LlamaConfig::from_json_str(&json.to_string(), Path::new("<test>")).unwrap()
}

/// HF tensor names and shapes of a tiny checkpoint for `cfg`.
fn tensor_specs(cfg: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (h, q, kv) = (HIDDEN, HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM);
    let mut specs = vec![
        ("model.embed_tokens.weight".into(), vec![VOCAB, h]),
        ("model.norm.weight".into(), vec![h]),
    ];
    if !cfg.tie_word_embeddings {
        specs.push(("lm_head.weight".into(), vec![VOCAB, h]));
    }
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        let mut add = |n: &str, s: Vec<usize>| specs.push((format!("{p}.{n}"), s));
        add("input_layernorm.weight", vec![h]);
        add("post_attention_layernorm.weight", vec![h]);
        add("self_attn.q_proj.weight", vec![q, h]);
        add("self_attn.k_proj.weight", vec![kv, h]);
        add("self_attn.v_proj.weight", vec![kv, h]);
        add("self_attn.o_proj.weight", vec![h, q]);
        add("mlp.gate_proj.weight", vec![INTER, h]);
        add("mlp.up_proj.weight", vec![INTER, h]);
        add("mlp.down_proj.weight", vec![h, INTER]);
        if cfg.variant == Variant::Qwen2 {
            add("self_attn.q_proj.bias", vec![q]);
            add("self_attn.k_proj.bias", vec![kv]);
            add("self_attn.v_proj.bias", vec![kv]);
        }
        if cfg.variant == Variant::Qwen3 {
            add("self_attn.q_norm.weight", vec![HEAD_DIM]);
            add("self_attn.k_norm.weight", vec![HEAD_DIM]);
        }
    }
    specs
}

/// Random weights (uniform in [-0.6, 0.6), norms around 1) from a fixed-seed LCG.
fn random_weights(cfg: &LlamaConfig, seed: u64) -> HashMap<String, Vec<f32>> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1.2
    };
    tensor_specs(cfg)
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let norm = name.ends_with("norm.weight");
            (
                name,
                (0..n)
                    .map(|_| if norm { 1.0 + next() } else { next() })
                    .collect(),
            )
        })
        .collect()
}

fn varmap_of(cfg: &LlamaConfig, weights: &HashMap<String, Vec<f32>>) -> VarMap {
    let varmap = VarMap::new();
    let mut data = varmap.data().lock().unwrap();
    for (name, shape) in tensor_specs(cfg) {
        let t = Tensor::from_vec(weights[&name].clone(), shape, &Device::Cpu).unwrap();
        data.insert(name, Var::from_tensor(&t).unwrap());
    }
    drop(data);
    varmap
}

fn build(cfg: &LlamaConfig, varmap: &VarMap, mode: ForwardMode) -> Model {
    Model::load(
        cfg,
        VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu),
        mode,
    )
    .unwrap()
}

// ---- plain-Rust reference: one token at a time ----

fn matvec(w: &HashMap<String, Vec<f32>>, name: &str, bias: Option<&str>, x: &[f32]) -> Vec<f32> {
    let w_ = &w[&format!("{name}.weight")];
    let rows = w_.len() / x.len();
    (0..rows)
        .map(|o| {
            let dot: f32 = x
                .iter()
                .enumerate()
                .map(|(i, xi)| w_[o * x.len() + i] * xi)
                .sum();
            dot + bias.map_or(0.0, |b| w[&format!("{name}.{b}")][o])
        })
        .collect()
}

fn rmsnorm(x: &[f32], w: &[f32]) -> Vec<f32> {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let r = 1.0 / (ms + EPS as f32).sqrt();
    x.iter().zip(w).map(|(v, g)| v * r * g).collect()
}

/// HF `rotate_half` RoPE on one head vector at position `p`.
fn rope(x: &[f32], p: usize) -> Vec<f32> {
    let half = x.len() / 2;
    let mut out = x.to_vec();
    for i in 0..half {
        let freq = 1.0 / THETA.powf(2.0 * i as f64 / x.len() as f64);
        let (s, c) = (
            (p as f64 * freq).sin() as f32,
            (p as f64 * freq).cos() as f32,
        );
        out[i] = x[i] * c - x[i + half] * s;
        out[i + half] = x[i + half] * c + x[i] * s;
    }
    out
}

fn reference(cfg: &LlamaConfig, w: &HashMap<String, Vec<f32>>, ids: &[u32]) -> Vec<Vec<f32>> {
    let emb = &w["model.embed_tokens.weight"];
    let mut xs: Vec<Vec<f32>> = ids
        .iter()
        .map(|&id| emb[id as usize * HIDDEN..][..HIDDEN].to_vec())
        .collect();
    let bias = (cfg.variant == Variant::Qwen2).then_some("bias");
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        let head = |v: &[f32], h: usize, norm: &str| {
            let v = v[h * HEAD_DIM..][..HEAD_DIM].to_vec();
            match cfg.variant {
                Variant::Qwen3 => rmsnorm(&v, &w[&format!("{p}.self_attn.{norm}.weight")]),
                _ => v,
            }
        };
        let normed: Vec<_> = xs
            .iter()
            .map(|x| rmsnorm(x, &w[&format!("{p}.input_layernorm.weight")]))
            .collect();
        let proj = |n: &str, b| {
            normed
                .iter()
                .map(|x| matvec(w, &format!("{p}.self_attn.{n}"), b, x))
                .collect::<Vec<_>>()
        };
        let (q, k, v) = (
            proj("q_proj", bias),
            proj("k_proj", bias),
            proj("v_proj", bias),
        );
        for t in 0..ids.len() {
            let mut attn = vec![0f32; HEADS * HEAD_DIM];
            for h in 0..HEADS {
                let kvh = h / (HEADS / KV_HEADS);
                let qh = rope(&head(&q[t], h, "q_norm"), t);
                let scores: Vec<f32> = (0..=t)
                    .map(|j| {
                        let kj = rope(&head(&k[j], kvh, "k_norm"), j);
                        qh.iter().zip(&kj).map(|(a, b)| a * b).sum::<f32>()
                            / (HEAD_DIM as f32).sqrt()
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f32::MIN, f32::max);
                let e: Vec<f32> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f32 = e.iter().sum();
                for (j, ej) in e.iter().enumerate() {
                    for d in 0..HEAD_DIM {
                        attn[h * HEAD_DIM + d] += ej / z * v[j][kvh * HEAD_DIM + d];
                    }
                }
            }
            let o = matvec(w, &format!("{p}.self_attn.o_proj"), None, &attn);
            xs[t].iter_mut().zip(&o).for_each(|(x, o)| *x += o);
        }
        for x in xs.iter_mut() {
            let n = rmsnorm(x, &w[&format!("{p}.post_attention_layernorm.weight")]);
            let g = matvec(w, &format!("{p}.mlp.gate_proj"), None, &n);
            let u = matvec(w, &format!("{p}.mlp.up_proj"), None, &n);
            let a: Vec<f32> = g
                .iter()
                .zip(&u)
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            let d = matvec(w, &format!("{p}.mlp.down_proj"), None, &a);
            x.iter_mut().zip(&d).for_each(|(x, d)| *x += d);
        }
    }
    let head = if cfg.tie_word_embeddings {
        "model.embed_tokens"
    } else {
        "lm_head"
    };
    xs.iter()
        .map(|x| matvec(w, head, None, &rmsnorm(x, &w["model.norm.weight"])))
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn logits(model: &Model, ids: &[Vec<u32>], mask: &[Vec<u8>]) -> Vec<Vec<Vec<f32>>> {
    let (b, t) = (ids.len(), ids[0].len());
    let ids = Tensor::from_vec(ids.concat(), (b, t), &Device::Cpu).unwrap();
    let mask = Tensor::from_vec(mask.concat(), (b, t), &Device::Cpu).unwrap();
    model.forward(&ids, &mask).unwrap().to_vec3().unwrap()
}

fn variants() -> Vec<LlamaConfig> {
    vec![
        config("llama", false),
        config("qwen2", false),
        config("qwen3", true),
    ]
}

#[test]
fn forward_matches_plain_rust_reference() {
    let ids: Vec<u32> = vec![3, 7, 0, 10, 5, 5, 2];
    for (seed, cfg) in variants().into_iter().enumerate() {
        let w = random_weights(&cfg, 17 + seed as u64);
        let model = build(&cfg, &varmap_of(&cfg, &w), ForwardMode::Fast);
        let got = logits(&model, std::slice::from_ref(&ids), &[vec![1; ids.len()]]);
        let want = reference(&cfg, &w, &ids);
        for (t, (g, r)) in got[0].iter().zip(&want).enumerate() {
            let diff = max_abs_diff(g, r);
            assert!(
                diff < 1e-4,
                "{:?} position {t}: max |diff| {diff}",
                cfg.variant
            );
        }
    }
}

#[test]
fn right_padding_does_not_change_real_logits() {
    for cfg in variants() {
        let model = build(
            &cfg,
            &varmap_of(&cfg, &random_weights(&cfg, 5)),
            ForwardMode::Fast,
        );
        let batch = logits(
            &model,
            &[vec![1, 2, 3, 4, 5], vec![9, 8, 7, 0, 0]],
            &[vec![1; 5], vec![1, 1, 1, 0, 0]],
        );
        let alone = logits(&model, &[vec![9, 8, 7]], &[vec![1; 3]]);
        let full = logits(&model, &[vec![1, 2, 3, 4, 5]], &[vec![1; 5]]);
        for t in 0..3 {
            let diff = max_abs_diff(&batch[1][t], &alone[0][t]);
            assert!(
                diff < 1e-5,
                "{:?} padded row {t}: max |diff| {diff}",
                cfg.variant
            );
        }
        for t in 0..5 {
            assert!(
                max_abs_diff(&batch[0][t], &full[0][t]) < 1e-5,
                "{:?} full row {t}",
                cfg.variant
            );
        }
    }
}

#[test]
fn differentiable_mode_matches_fast_and_reaches_every_weight() {
    let ids = vec![vec![1u32, 4, 9, 2, 6], vec![3, 3, 8, 0, 0]];
    let mask = vec![vec![1u8; 5], vec![1, 1, 1, 0, 0]];
    for cfg in variants() {
        let varmap = varmap_of(&cfg, &random_weights(&cfg, 99));
        let fast = logits(&build(&cfg, &varmap, ForwardMode::Fast), &ids, &mask);
        let model = build(&cfg, &varmap, ForwardMode::Differentiable);
        let diff_logits = logits(&model, &ids, &mask);
        for (b, (f, d)) in fast.iter().zip(&diff_logits).enumerate() {
            for t in 0..5 {
                let diff = max_abs_diff(&f[t], &d[t]);
                assert!(
                    diff < 1e-5,
                    "{:?} batch {b} row {t}: max |diff| {diff}",
                    cfg.variant
                );
            }
        }
        // Loss: sum of log-probabilities of the next token over the real positions.
        let ids_t = Tensor::from_vec(ids.concat(), (2, 5), &Device::Cpu).unwrap();
        let mask_t = Tensor::from_vec(mask.concat(), (2, 5), &Device::Cpu).unwrap();
        let logp = candle_nn::ops::log_softmax(&model.forward(&ids_t, &mask_t).unwrap(), D::Minus1)
            .unwrap();
        let targets = Tensor::from_vec(
            vec![4u32, 9, 2, 6, 1, 3, 8, 8, 0, 0],
            (2, 5, 1),
            &Device::Cpu,
        )
        .unwrap();
        let weight = Tensor::from_vec(
            vec![1f32, 1., 1., 1., 1., 1., 1., 1., 0., 0.],
            (2, 5, 1),
            &Device::Cpu,
        )
        .unwrap();
        let loss = (logp.gather(&targets, D::Minus1).unwrap() * weight)
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        assert_eq!(data.len(), tensor_specs(&cfg).len());
        for (name, var) in data.iter() {
            let g = grads
                .get(var)
                .unwrap_or_else(|| panic!("{:?}: no gradient for {name}", cfg.variant));
            let mass = g
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(
                mass > 0.0 && mass.is_finite(),
                "{:?}: gradient of {name} has abs-sum {mass}",
                cfg.variant
            );
        }
    }
}

#[test]
fn config_defaults_and_variant_selection() {
    let json = r#"{"architectures": ["MistralForCausalLM"], "hidden_size": 8, "intermediate_size": 12,
        "num_hidden_layers": 1, "num_attention_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": 5}"#;
    let cfg = LlamaConfig::from_json_str(json, Path::new("<test>")).unwrap();
    assert_eq!(cfg.variant, Variant::Llama);
    assert_eq!(
        (cfg.num_key_value_heads, cfg.head_dim, cfg.rope.theta),
        (2, 4, 10_000.0)
    );
    assert!(!cfg.tie_word_embeddings);
    let bad = json.replace("MistralForCausalLM", "GPT2LMHeadModel");
    assert!(LlamaConfig::from_json_str(&bad, Path::new("<test>")).is_err());
}
