//! The lazy candidate serves exactly the tensors `mergesearch merge` writes, and a model built
//! from it gives the logits of the model built from the merged checkpoint on disk. Expected
//! values come from the engine itself (`merge::run` to disk, read back), so the test pins the
//! lazy path to the materialized one rather than to hand-computed numbers.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use common::{read_model, write_model, write_model_with, ModelSpec};
use mergesearch::candidate::LazyCandidate;
use mergesearch::checkpoint::{self, ModelDir};
use mergesearch::merge::{self, MergeConfig, MergeOptions, Plan};
use mergesearch::models::{ForwardMode, LlamaConfig, Model};

/// Writes base + two fine-tunes of `dtype` into `dir`; `drop_head` removes lm_head (tied).
fn write_family(dir: &Path, dtype: checkpoint::DType, drop_head: bool) {
    for (name, v) in [("base", 0), ("ft1", 1), ("ft2", 2)] {
        let spec = ModelSpec::new(v).dtype(dtype).layers(2);
        if drop_head {
            write_model_with(&dir.join(name), &spec, |l| {
                l.retain(|(n, _)| n != "lm_head.weight")
            });
        } else {
            write_model(&dir.join(name), &spec);
        }
    }
}

fn plan(dir: &Path, method: &str) -> Plan {
    let d = |n: &str| dir.join(n).display().to_string();
    let yaml = format!(
        "merge_method: {method}\nbase_model: {}\nmodels:\n  - model: {}\n    parameters: {{weight: 0.6, density: 0.5}}\n  - model: {}\n    parameters: {{weight: 0.4, density: 0.7}}\n",
        d("base"),
        d("ft1"),
        d("ft2")
    );
    let path = dir.join(format!("{method}.yaml"));
    let cfg = MergeConfig::from_yaml(&yaml, &path).unwrap();
    Plan::build(cfg, &path).unwrap()
}

fn merge_to_disk(dir: &Path, method: &str, opts: &MergeOptions) -> std::path::PathBuf {
    let out = dir.join(format!("out-{method}"));
    merge::run(&plan(dir, method), &out, opts, u64::MAX, |_, _, _| {}).unwrap();
    out
}

fn disk_var_builder(dir: &Path) -> VarBuilder<'static> {
    let m = ModelDir::open(dir).unwrap();
    let mut tensors = HashMap::new();
    for s in &m.shards {
        tensors.extend(candle_core::safetensors::load(&s.path, &Device::Cpu).unwrap());
    }
    VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu)
}

fn logits(model: &Model) -> Vec<f32> {
    let ids = Tensor::new(&[[1u32, 5, 9, 2, 15], [3, 3, 0, 7, 0]], &Device::Cpu).unwrap();
    let mask = Tensor::new(&[[1u8, 1, 1, 1, 1], [1, 1, 1, 0, 0]], &Device::Cpu).unwrap();
    model
        .forward(&ids, &mask)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Every tensor through the lazy backend equals the one merged to disk, bit for bit.
fn assert_tensors_match(dir: &Path, method: &str, opts: MergeOptions) {
    let out = merge_to_disk(dir, method, &opts);
    let want = read_model(&out);
    let lazy = LazyCandidate::new(plan(dir, method), opts);
    assert_eq!(lazy.plan().jobs.len(), want.len());
    for (name, (shape, values)) in &want {
        let t = lazy.tensor(name).unwrap().expect("planned tensor");
        assert_eq!(t.dims(), shape.as_slice(), "{name}: shape");
        let got: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(&got, values, "{method} {name}: lazy differs from disk");
    }
    assert_eq!(lazy.cached(), want.len());
}

#[test]
fn lazy_tensors_equal_merged_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    write_family(tmp.path(), checkpoint::DType::F32, false);
    assert_tensors_match(tmp.path(), "ties", MergeOptions::default());
    // Random masks: the same seed gives the same mask lazily and on disk.
    assert_tensors_match(
        tmp.path(),
        "dare_ties",
        MergeOptions {
            seed: 7,
            ..MergeOptions::default()
        },
    );
}

#[test]
fn lazy_bf16_tensors_equal_merged_checkpoint() {
    // bf16 outputs are merged in bf16 and widened, so they still equal the stored bytes.
    let tmp = tempfile::tempdir().unwrap();
    write_family(tmp.path(), checkpoint::DType::BF16, false);
    assert_tensors_match(tmp.path(), "ties", MergeOptions::default());
}

fn assert_logits_match(dir: &Path) {
    let out = merge_to_disk(dir, "ties", &MergeOptions::default());
    let cfg = LlamaConfig::from_file(&out.join("config.json")).unwrap();
    let disk = Model::load(&cfg, disk_var_builder(&out), ForwardMode::Fast).unwrap();
    let lazy = LazyCandidate::new(plan(dir, "ties"), MergeOptions::default());
    let model = Model::load(&cfg, lazy.var_builder(), ForwardMode::Fast).unwrap();
    let (a, b) = (logits(&model), logits(&disk));
    assert_eq!(a.len(), 2 * 5 * common::VOCAB);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-6, "logit {i}: lazy {x}, disk {y}");
    }
}

#[test]
fn lazy_model_logits_equal_disk_model() {
    let tmp = tempfile::tempdir().unwrap();
    write_family(tmp.path(), checkpoint::DType::F32, false);
    assert_logits_match(tmp.path());
}

#[test]
fn tied_models_report_no_lm_head() {
    let tmp = tempfile::tempdir().unwrap();
    write_family(tmp.path(), checkpoint::DType::F32, true);
    let lazy = LazyCandidate::new(plan(tmp.path(), "ties"), MergeOptions::default());
    assert!(!lazy.contains("lm_head.weight"));
    assert!(lazy.contains("model.embed_tokens.weight"));
    assert!(lazy.tensor("lm_head.weight").unwrap().is_none());
    let vb = lazy.var_builder();
    assert!(!vb.contains_tensor("lm_head.weight"));
    assert!(vb
        .get((common::VOCAB, common::HIDDEN), "lm_head.weight")
        .is_err());
    // The model ties its head to the merged embeddings, like the checkpoint on disk.
    assert_logits_match(tmp.path());
}

#[test]
fn wrong_shape_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_family(tmp.path(), checkpoint::DType::F32, false);
    let vb = LazyCandidate::new(plan(tmp.path(), "ties"), MergeOptions::default()).var_builder();
    let err = vb
        .get((3, 3), "model.norm.weight")
        .expect_err("shape mismatch");
    assert!(err.to_string().contains("model.norm.weight"), "{err}");
    assert!(vb.get(8, "model.norm.weight").is_ok());
}

#[test]
fn candidate_lm_equals_merged_directory_lm() {
    use mergesearch::eval::LlamaLm;
    use mergesearch_evals::CausalLm;
    let tmp = tempfile::tempdir().unwrap();
    write_family(tmp.path(), checkpoint::DType::F32, false);
    let out = merge_to_disk(tmp.path(), "ties", &MergeOptions::default());
    let lazy = LazyCandidate::new(plan(tmp.path(), "ties"), MergeOptions::default());
    assert_eq!(lazy.llama_config().unwrap().num_hidden_layers, 2);
    let a = LlamaLm::from_candidate(lazy).unwrap();
    let b = LlamaLm::from_dir(&out).unwrap();
    let batch = [vec![1u32, 4, 9], vec![15, 0]];
    assert_eq!(a.logits(&batch).unwrap(), b.logits(&batch).unwrap());
}
