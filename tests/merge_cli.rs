//! `mergesearch merge` end to end through the built binary: tiny llama-shaped checkpoints are
//! written with the crate's own writer, merged by the CLI, read back with `ModelDir`, and
//! compared with values recomputed here from the textbook formulas (each formula is written
//! next to its check). The model values are described in `common/mod.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use mergesearch::checkpoint::DType;
use mergesearch::merge::MergeConfig;
use serde_json::Value;

/// mergekit 0.1.5's layer position for a tensor of a `layers`-layer model merged with
/// `models:`: `t = l/(layers − 1)` for layer `l`, 0 for every tensor outside the layers
/// (embed_tokens, model.norm, lm_head; `plan_module` reads them with a t = 0 reader).
fn gradient_t(name: &str, layers: usize) -> f64 {
    if let Some(rest) = name.strip_prefix("model.layers.") {
        let l: usize = rest.split('.').next().unwrap().parse().unwrap();
        l as f64 / (layers - 1) as f64
    } else {
        0.0
    }
}

#[test]
fn sharded_input_is_read_back_tensor_for_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ft1");
    // f32 tensors are 32 B (norms) to 512 B (embeddings); the 3-layer model holds
    // 512 + 3·(2·32 + 4·256 + 3·384) + 32 + 512 = 7776 B, so 1000-B shards make ≥ 8 files.
    let written = write_model(&dir, &ModelSpec::new(1).sharded(1000));
    assert!(!dir.join("model.safetensors").exists());
    let index: Value = serde_json::from_slice(
        &std::fs::read(dir.join("model.safetensors.index.json")).expect("index written"),
    )
    .unwrap();
    let files: BTreeSet<&str> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(files.len() >= 8, "expected ≥ 8 shards, got {files:?}");
    let n = files.len();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(*f, format!("model-{:05}-of-{n:05}.safetensors", i + 1));
        assert!(dir.join(f).is_file());
    }
    // ModelDir follows the index and finds every tensor with its stored values.
    assert_eq!(read_model(&dir), written);
}

#[test]
fn task_arithmetic_over_f32_bf16_and_sharded_inputs_matches_formula() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let base = write_model(&cwd.join("base"), &ModelSpec::new(0));
    let ft1 = write_model(&cwd.join("ft1"), &ModelSpec::new(1).sharded(1000));
    let ft2 = write_model(&cwd.join("ft2"), &ModelSpec::new(2).dtype(DType::BF16));
    assert!(cwd.join("ft1/model.safetensors.index.json").exists());
    let out = merge_ok(
        cwd,
        "merge_method: task_arithmetic\n\
         base_model: base\n\
         models:\n  - model: ft1\n    parameters:\n      weight: 0.7\n\
         \x20 - model: ft2\n    parameters:\n      weight: -0.45\n",
        "out",
        &[],
    );
    let got = read_model(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        base.keys().collect::<Vec<_>>()
    );
    // Without `dtype`/`out_dtype`, every output tensor takes the base tensor's dtype (f32).
    assert!(dtypes(&out).values().all(|d| *d == DType::F32));
    for (name, (shape, b)) in &base {
        let (x1, x2) = (&ft1[name].1, &ft2[name].1);
        // Task arithmetic (Ilharco et al. 2022), λ = 1, normalize off:
        // out = b + Σ_k w_k (x_k − b) with w = (0.7, −0.45), on the stored (bf16-rounded) x2.
        let want: Vec<f64> = (0..b.len())
            .map(|i| {
                let b = b[i] as f64;
                b + 0.7 * (x1[i] as f64 - b) - 0.45 * (x2[i] as f64 - b)
            })
            .collect();
        assert_eq!(&got[name].0, shape);
        assert_close(name, &got[name].1, &want, 1e-6, 0.0);
    }
}

#[test]
fn linear_over_bf16_inputs_is_the_normalized_weighted_mean() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let ft1 = write_model(&cwd.join("ft1"), &ModelSpec::new(1).dtype(DType::BF16));
    let ft2 = write_model(&cwd.join("ft2"), &ModelSpec::new(2).dtype(DType::BF16));
    let out = merge_ok(
        cwd,
        "merge_method: linear\n\
         models:\n  - model: ft1\n    parameters: {weight: 1.0}\n\
         \x20 - model: ft2\n    parameters: {weight: 3.0}\n",
        "out",
        &[],
    );
    // No base: the output dtype is the first input's (bf16).
    assert!(dtypes(&out).values().all(|d| *d == DType::BF16));
    let got = read_model(&out);
    assert_eq!(got.len(), ft1.len());
    for (name, (_, x1)) in &ft1 {
        let x2 = &ft2[name].1;
        // Linear / model soup (Wortsman et al. 2022), normalize on by default:
        // out = Σ w_k x_k / Σ w_k = (1·x1 + 3·x2) / 4, then rounded to bf16.
        let want: Vec<f64> = x1
            .iter()
            .zip(x2)
            .map(|(&a, &b)| (a as f64 + 3.0 * b as f64) / 4.0)
            .collect();
        assert_close(name, &got[name].1, &want, 1e-6, BF16_REL);
    }
}

/// TIES (Yadav et al. 2023) as mergekit computes it, in f64, for one tensor:
/// δ_k = x_k − b; keep the ⌊density·n⌋ largest |δ_k| (trim); v_k = w_k δ_k;
/// elected sign s = +1 if Σ_k v_k ≥ 0 else −1; mixed = Σ_{k: sign(v_k) = s} v_k;
/// divisor = Σ_{k: sign(v_k) = s} w_k (0 → 1); out = b + λ · mixed / divisor (normalize on).
fn ties_reference(b: &[f32], xs: &[&[f32]], w: &[f64], density: f64, lambda: f64) -> Vec<f64> {
    let n = b.len();
    let k = (density * n as f64) as usize;
    let deltas: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| {
            let d: Vec<f64> = (0..n).map(|i| x[i] as f64 - b[i] as f64).collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&i, &j| d[j].abs().total_cmp(&d[i].abs()));
            let keep: BTreeSet<usize> = order[..k].iter().copied().collect();
            (0..n)
                .map(|i| if keep.contains(&i) { d[i] } else { 0.0 })
                .collect()
        })
        .collect();
    (0..n)
        .map(|i| {
            let v: Vec<f64> = (0..xs.len()).map(|m| w[m] * deltas[m][i]).collect();
            let s = if v.iter().sum::<f64>() >= 0.0 {
                1.0
            } else {
                -1.0
            };
            let (mut mixed, mut div) = (0.0, 0.0);
            for m in 0..xs.len() {
                if v[m] != 0.0 && v[m].signum() == s {
                    mixed += v[m];
                    div += w[m];
                }
            }
            let div = if div == 0.0 { 1.0 } else { div };
            b[i] as f64 + lambda * mixed / div
        })
        .collect()
}

#[test]
fn ties_with_density_and_lambda_matches_formula() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let base = write_model(&cwd.join("base"), &ModelSpec::new(0));
    let ft1 = write_model(&cwd.join("ft1"), &ModelSpec::new(1));
    let ft2 = write_model(&cwd.join("ft2"), &ModelSpec::new(2));
    let out = merge_ok(
        cwd,
        "merge_method: ties\n\
         base_model: base\n\
         parameters:\n  lambda: 0.9\n\
         models:\n  - model: ft1\n    parameters: {weight: 0.6, density: 0.5}\n\
         \x20 - model: ft2\n    parameters: {weight: 0.4, density: 0.5}\n",
        "out",
        &[],
    );
    let got = read_model(&out);
    for (name, (_, b)) in &base {
        let (x1, x2) = (&ft1[name].1, &ft2[name].1);
        // Precondition of an unambiguous top-k: the |δ| of a tensor are distinct
        // (|δ| = (p(i)+1)/1024 for a permutation p, exact in f32).
        for x in [x1, x2] {
            let mut mags: Vec<u32> = x
                .iter()
                .zip(b)
                .map(|(a, c)| (a - c).abs().to_bits())
                .collect();
            mags.sort();
            mags.dedup();
            assert_eq!(mags.len(), b.len(), "{name}: repeated |δ|");
        }
        let want = ties_reference(b, &[x1, x2], &[0.6, 0.4], 0.5, 0.9);
        assert_close(name, &got[name].1, &want, 1e-6, 0.0);
    }
    // The trim and the sign election both matter on these inputs: plain task arithmetic
    // (b + λ Σ w δ) differs somewhere, so the check above is not vacuous.
    let name = "model.layers.1.mlp.up_proj.weight";
    let b = &base[name].1;
    let plain = (0..b.len()).any(|i| {
        let ta = b[i] as f64
            + 0.9 * (0.6 * (ft1[name].1[i] - b[i]) as f64 + 0.4 * (ft2[name].1[i] - b[i]) as f64);
        (ta - got[name].1[i] as f64).abs() > 1e-3
    });
    assert!(plain);
}

#[test]
fn gradient_and_filter_parameters_are_evaluated_per_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let base = write_model(&cwd.join("base"), &ModelSpec::new(0));
    let ft1 = write_model(&cwd.join("ft1"), &ModelSpec::new(1));
    let ft2 = write_model(&cwd.join("ft2"), &ModelSpec::new(2));
    let out = merge_ok(
        cwd,
        "merge_method: task_arithmetic\n\
         base_model: base\n\
         models:\n\
         \x20 - model: ft1\n    parameters:\n      weight: [0, 1]\n\
         \x20 - model: ft2\n    parameters:\n      weight:\n\
         \x20       - filter: self_attn\n          value: 0.2\n\
         \x20       - value: 0.8\n",
        "out",
        &[],
    );
    let got = read_model(&out);
    for (name, (_, b)) in &base {
        // Gradient [0, 1] over 3 layers: w1 = t, t = 0, 0.5, 1 for layers 0..3, 0 for
        // embed_tokens, model.norm and lm_head (mergekit 0.1.5's planner).
        let w1 = gradient_t(name, 3);
        // Filter list: the first entry whose filter is a substring of the name wins.
        let w2 = if name.contains("self_attn") { 0.2 } else { 0.8 };
        let (x1, x2) = (&ft1[name].1, &ft2[name].1);
        // out = b + w1 (x1 − b) + w2 (x2 − b).
        let want: Vec<f64> = (0..b.len())
            .map(|i| {
                let b = b[i] as f64;
                b + w1 * (x1[i] as f64 - b) + w2 * (x2[i] as f64 - b)
            })
            .collect();
        assert_close(name, &got[name].1, &want, 1e-6, 0.0);
    }
    // The recorded mergekit_config.yml keeps the gradient and the filter list.
    let recorded = std::fs::read_to_string(out.join("mergekit_config.yml")).unwrap();
    let original = std::fs::read_to_string(cwd.join("out.yaml")).unwrap();
    assert_eq!(
        MergeConfig::from_yaml(&recorded, Path::new("mergekit_config.yml")).unwrap(),
        MergeConfig::from_yaml(&original, Path::new("out.yaml")).unwrap()
    );
}

#[test]
fn small_out_shard_size_writes_a_complete_index() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let ft1 = write_model(&cwd.join("ft1"), &ModelSpec::new(1));
    let ft2 = write_model(&cwd.join("ft2"), &ModelSpec::new(2));
    let yaml = "merge_method: linear\n\
                models:\n  - model: ft1\n    parameters: {weight: 1}\n\
                \x20 - model: ft2\n    parameters: {weight: 1}\n";
    let limit = 1000u64;
    let out = merge_ok(cwd, yaml, "out", &["--out-shard-size", &limit.to_string()]);
    assert!(!out.join("model.safetensors").exists());
    let index: Value =
        serde_json::from_slice(&std::fs::read(out.join("model.safetensors.index.json")).unwrap())
            .unwrap();
    let weight_map: BTreeMap<String, String> = index["weight_map"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    // The map covers exactly the 1 + 9·3 + 2 = 30 tensors (embed, 3 layers, norm, head).
    assert_eq!(
        weight_map.keys().collect::<BTreeSet<_>>(),
        ft1.keys().collect::<BTreeSet<_>>()
    );
    assert_eq!(weight_map.len(), 30);
    // total_size = Σ numel · 4 bytes (f32 output) = 7776 (see the shard test above).
    let total: u64 = ft1
        .values()
        .map(|(s, _)| s.iter().product::<usize>() as u64 * 4)
        .sum();
    assert_eq!(total, 7776);
    assert_eq!(index["metadata"]["total_size"].as_u64(), Some(total));
    // Every shard parses, holds exactly the tensors mapped to it, and respects the limit.
    let shard_files: BTreeSet<&String> = weight_map.values().collect();
    let n = shard_files.len();
    assert!(n >= 8);
    let on_disk: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".safetensors"))
        .collect();
    assert_eq!(on_disk.iter().collect::<BTreeSet<_>>(), shard_files);
    for (i, f) in shard_files.iter().enumerate() {
        assert_eq!(**f, format!("model-{:05}-of-{n:05}.safetensors", i + 1));
        let bytes = std::fs::read(out.join(f)).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .unwrap_or_else(|e| panic!("{f} does not parse: {e}"));
        let names: BTreeSet<String> = st.names().into_iter().map(String::from).collect();
        let mapped: BTreeSet<String> = weight_map
            .iter()
            .filter(|(_, v)| v == f)
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(names, mapped, "{f}");
        let (header_len, _) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let data = bytes.len() - 8 - header_len;
        assert!(
            data as u64 <= limit || names.len() == 1,
            "{f}: {data} data bytes"
        );
    }
    // Values: normalized linear with equal weights is the mean (x1 + x2) / 2.
    let got = read_model(&out);
    for (name, (_, x1)) in &ft1 {
        let x2 = &ft2[name].1;
        let want: Vec<f64> = x1
            .iter()
            .zip(x2)
            .map(|(&a, &b)| (a as f64 + b as f64) / 2.0)
            .collect();
        assert_close(name, &got[name].1, &want, 1e-6, 0.0);
    }

    // Merging again into the same directory unsharded replaces it whole: no stale shards or
    // index survive, and nothing temporary is left beside it.
    let out = merge_ok(cwd, yaml, "out", &[]);
    let files: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.contains("model.safetensors"));
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("model-") || f.ends_with(".index.json")),
        "stale files after re-merge: {files:?}"
    );
    assert_eq!(read_model(&out), got);
}

#[test]
fn passthrough_slices_stack_layers_and_copy_side_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let a = write_model(&cwd.join("A"), &ModelSpec::new(0).dtype(DType::BF16));
    let b = write_model(
        &cwd.join("B"),
        &ModelSpec::new(0).dtype(DType::BF16).family(2),
    );
    let yaml = "slices:\n\
                \x20 - sources:\n      - model: A\n        layer_range: [0, 2]\n\
                \x20 - sources:\n      - model: B\n        layer_range: [1, 3]\n\
                merge_method: passthrough\n\
                dtype: bfloat16\n";
    let out = merge_ok(cwd, yaml, "out", &[]);
    let got = read_model(&out);
    // Output layers: A.0, A.1, B.1, B.2 → 4 layers, 9 tensors each, plus embed, norm, head.
    assert_eq!(got.len(), 4 * 9 + 3);
    let layer_source = [("A", 0), ("A", 1), ("B", 1), ("B", 2)];
    for (name, (shape, v)) in &got {
        let (src, src_name) = match name.strip_prefix("model.layers.") {
            Some(rest) => {
                let (l, suffix) = rest.split_once('.').unwrap();
                let (m, li) = layer_source[l.parse::<usize>().unwrap()];
                (m, format!("model.layers.{li}.{suffix}"))
            }
            // Tensors before the layers come from the first slice, after from the last.
            None if name.contains("embed_tokens") => ("A", name.clone()),
            None => ("B", name.clone()),
        };
        let want = if src == "A" {
            &a[&src_name]
        } else {
            &b[&src_name]
        };
        // Passthrough copies bits: bf16 in, bf16 out, exactly.
        assert_eq!(shape, &want.0, "{name}");
        assert_eq!(v, &want.1, "{name} should equal {src}'s {src_name}");
    }
    // The families differ, so equal values really identify the source.
    assert_ne!(
        a["model.layers.1.mlp.up_proj.weight"].1,
        b["model.layers.1.mlp.up_proj.weight"].1
    );
    assert_eq!(
        got["model.layers.2.mlp.up_proj.weight"].1,
        b["model.layers.1.mlp.up_proj.weight"].1
    );

    // config.json: A's (the first slice's model; there is no base), with the new layer
    // count and the named dtype.
    let read_json =
        |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let mut want_cfg = read_json(&cwd.join("A/config.json"));
    want_cfg["num_hidden_layers"] = 4.into();
    want_cfg["torch_dtype"] = "bfloat16".into();
    assert_eq!(read_json(&out.join("config.json")), want_cfg);
    // tokenizer.json: copied byte for byte from the same model.
    assert_eq!(
        std::fs::read(out.join("tokenizer.json")).unwrap(),
        std::fs::read(cwd.join("A/tokenizer.json")).unwrap()
    );
    // mergekit_config.yml: the same merge when parsed back.
    let written = std::fs::read_to_string(out.join("mergekit_config.yml")).unwrap();
    assert_eq!(
        MergeConfig::from_yaml(&written, Path::new("mergekit_config.yml")).unwrap(),
        MergeConfig::from_yaml(yaml, Path::new("out.yaml")).unwrap()
    );
}

/// Every file of a directory, by name.
fn dir_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn dare_ties_is_reproducible_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // 2100 · 8 = 16800 embedding elements: more than one 16 Ki-element chunk, so the masks of
    // embed_tokens and lm_head are drawn by more than one rayon task (≈ 33 KB per bf16 tensor).
    let spec = |v| ModelSpec::new(v).dtype(DType::BF16).vocab(2100).layers(2);
    let base = write_model(&cwd.join("base"), &spec(0));
    let ft1 = write_model(&cwd.join("ft1"), &spec(1));
    let ft2 = write_model(&cwd.join("ft2"), &spec(2));
    let yaml = "merge_method: dare_ties\n\
                base_model: base\n\
                models:\n  - model: ft1\n    parameters: {weight: 0.5, density: 0.5}\n\
                \x20 - model: ft2\n    parameters: {weight: 0.5, density: 0.5}\n";
    let one = merge_ok(cwd, yaml, "s7t1", &["--random-seed", "7", "--threads", "1"]);
    let two = merge_ok(cwd, yaml, "s7t2", &["--random-seed", "7", "--threads", "2"]);
    let other = merge_ok(cwd, yaml, "s8t2", &["--random-seed", "8", "--threads", "2"]);
    let (one_b, two_b) = (dir_bytes(&one), dir_bytes(&two));
    assert_eq!(
        one_b.keys().collect::<Vec<_>>(),
        two_b.keys().collect::<Vec<_>>()
    );
    for (f, bytes) in &one_b {
        assert!(bytes == &two_b[f], "{f} differs between --threads 1 and 2");
    }
    assert_ne!(
        one_b["model.safetensors"],
        dir_bytes(&other)["model.safetensors"],
        "seeds 7 and 8 gave the same masks"
    );

    // DARE keeps each δ with probability density = 0.5, independently per model, so where
    // both fine-tunes moved an element, both are dropped (and the output equals the base)
    // with probability (1 − 0.5)² = 0.25. Over ~16 k elements the standard deviation of that
    // fraction is ≈ 0.0035, so [0.2, 0.3] holds unless the masks are wrong.
    let name = "model.embed_tokens.weight";
    let got = read_model(&one);
    let (b, x1, x2, o) = (&base[name].1, &ft1[name].1, &ft2[name].1, &got[name].1);
    let moved: Vec<usize> = (0..b.len())
        .filter(|&i| x1[i] != b[i] && x2[i] != b[i])
        .collect();
    assert!(moved.len() > 10_000);
    let unchanged = moved.iter().filter(|&&i| o[i] == b[i]).count() as f64;
    let frac = unchanged / moved.len() as f64;
    assert!((0.2..0.3).contains(&frac), "fraction equal to base: {frac}");
}

#[test]
fn embeddings_of_different_vocab_sizes_merge_their_common_sub_matrix() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let base = write_model(&cwd.join("base"), &ModelSpec::new(0));
    // ft1 has 2 extra tokens (rows 16, 17 of embed_tokens and lm_head).
    let ft1 = write_model(&cwd.join("ft1"), &ModelSpec::new(1).vocab(VOCAB + 2));
    let yaml = "merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: ft1\n    parameters: {weight: 0.5}\n";
    let o = run_merge(cwd, "vocab.yaml", yaml, "out", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning: model.embed_tokens.weight"),
        "{stderr}"
    );
    let got = read_model(&cwd.join("out"));
    for name in ["model.embed_tokens.weight", "lm_head.weight"] {
        let (shape, b) = &base[name];
        assert_eq!(got[name].0, *shape, "{name}: the common 16×8 sub-matrix");
        // First 16 rows of ft1 (row-major, same column count): b + 0.5 (x − b).
        let x = &ft1[name].1[..b.len()];
        let want: Vec<f64> = b
            .iter()
            .zip(x)
            .map(|(b, x)| *b as f64 + 0.5 * (*x as f64 - *b as f64))
            .collect();
        assert_close(name, &got[name].1, &want, 1e-6, 0.0);
    }
}

#[test]
fn filters_match_lm_head_on_a_tied_model() {
    // ft1 has no lm_head (tied embeddings): its lm_head input is its embed_tokens, but a
    // `filter: lm_head` entry still applies, as mergekit matches the requested name.
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let base = write_model(&cwd.join("base"), &ModelSpec::new(0));
    let ft1 = write_model_with(&cwd.join("ft1"), &ModelSpec::new(1), |list| {
        list.retain(|(n, _)| n != "lm_head.weight")
    });
    let yaml = "merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: ft1\n    parameters:\n      weight:\n        - filter: lm_head\n          value: 0.25\n        - value: 1.0\n";
    let out = merge_ok(cwd, yaml, "out", &[]);
    let got = read_model(&out);
    // lm_head = b_head + 0.25 (ft1.embed_tokens − b_head).
    let (_, b) = &base["lm_head.weight"];
    let x = &ft1["model.embed_tokens.weight"].1;
    let want: Vec<f64> = b
        .iter()
        .zip(x)
        .map(|(b, x)| *b as f64 + 0.25 * (*x as f64 - *b as f64))
        .collect();
    assert_close("lm_head.weight", &got["lm_head.weight"].1, &want, 1e-6, 0.0);
}
