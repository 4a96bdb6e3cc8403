//! Shared helpers for the CLI integration tests: tiny llama-shaped HF checkpoints with
//! deterministic values, running the `mergesearch` binary, and reading outputs back.
//!
//! Values are chosen so that every expected number in a test can be recomputed by hand:
//! - a base value is `k/64` with `k ∈ [−64, 64]` (exact in f32 *and* bf16);
//! - a fine-tune ("variant" v ≥ 1) adds `δ = ±(p(i) + 1)/1024` where `p` is a permutation of
//!   the tensor's element indices, so the |δ| of one tensor are all distinct (top-k by
//!   magnitude has no ties) and `base + δ` is exact in f32;
//! - every value depends on the tensor *name*, so layer 1 of a 2-layer model equals layer 1 of
//!   a 3-layer model of the same family, and different layers hold different values.
#![allow(dead_code)]

pub mod study;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mergesearch::checkpoint::{CheckpointWriter, DType, ModelDir, PlannedTensor};
use mergesearch::merge::inputs::{decode, encode};

/// Hidden size of every test model.
pub const HIDDEN: usize = 8;
/// MLP intermediate size of every test model.
pub const INTER: usize = 12;
/// Default vocabulary size.
pub const VOCAB: usize = 16;

/// Tensor name → (shape, values as f32).
pub type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// What to write.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Decoder layers.
    pub layers: usize,
    /// Vocabulary size (rows of embed_tokens / lm_head).
    pub vocab: usize,
    /// Storage dtype of every tensor.
    pub dtype: DType,
    /// Which family the base values come from (different families share nothing).
    pub family: u64,
    /// 0 = the family's base model; v ≥ 1 = a fine-tune with its own δ.
    pub variant: u64,
    /// Shard size limit handed to `CheckpointWriter::create` (u64::MAX = one file).
    pub max_shard_bytes: u64,
}

impl ModelSpec {
    /// A 3-layer f32 model of family 1, single file.
    pub fn new(variant: u64) -> ModelSpec {
        ModelSpec {
            layers: 3,
            vocab: VOCAB,
            dtype: DType::F32,
            family: 1,
            variant,
            max_shard_bytes: u64::MAX,
        }
    }

    /// Same spec in `dtype`.
    pub fn dtype(mut self, dtype: DType) -> ModelSpec {
        self.dtype = dtype;
        self
    }

    /// Same spec with `layers` layers.
    pub fn layers(mut self, layers: usize) -> ModelSpec {
        self.layers = layers;
        self
    }

    /// Same spec in family `family`.
    pub fn family(mut self, family: u64) -> ModelSpec {
        self.family = family;
        self
    }

    /// Same spec with shards of at most `bytes`.
    pub fn sharded(mut self, bytes: u64) -> ModelSpec {
        self.max_shard_bytes = bytes;
        self
    }

    /// Same spec with `vocab` rows in the embeddings.
    pub fn vocab(mut self, vocab: usize) -> ModelSpec {
        self.vocab = vocab;
        self
    }
}

/// Every tensor of a llama model in HF order and naming (no biases, untied lm_head): the
/// crate's own synthetic-model layout at test size.
pub fn llama_tensors(layers: usize, vocab: usize) -> Vec<(String, Vec<usize>)> {
    mergesearch::bench::synthetic::LlamaShape {
        vocab,
        hidden: HIDDEN,
        intermediate: INTER,
        layers,
    }
    .tensors()
}

/// FNV-1a 64 of a tensor name (a fixed hash: values never change between runs).
fn fnv(s: &str) -> u64 {
    mergesearch::merge::rng::fnv1a64(s.as_bytes())
}

/// SplitMix64 finalizer of (a, b, c) (the synthetic generator's hash).
fn mix(a: u64, b: u64, c: u64) -> u64 {
    mergesearch::bench::synthetic::mix64(a, b, c)
}

/// The f32 values of one tensor before storage rounding (see the module docs).
pub fn tensor_values(spec: &ModelSpec, name: &str, numel: usize) -> Vec<f32> {
    let h = fnv(name);
    // p(i) = (a·i + c) mod numel is a permutation when gcd(a, numel) = 1. The numels used
    // here are 8, 64, 96 = 2^5·3, 128 and 16800 = 2^5·3·5^2·7: primes ≥ 11 are coprime to all.
    let mults = [11u64, 13, 17, 19];
    let a = mults[(spec.variant as usize) % mults.len()];
    let c = h % numel as u64;
    (0..numel)
        .map(|i| {
            let k = (mix(spec.family, h, i as u64) % 129) as i64 - 64;
            let base = k as f32 / 64.0;
            if spec.variant == 0 {
                return base;
            }
            let p = (i as u64 * a + c) % numel as u64;
            let sign = if mix(spec.variant, h ^ spec.family, i as u64) & 1 == 0 {
                1.0
            } else {
                -1.0
            };
            base + sign * (p + 1) as f32 / 1024.0
        })
        .collect()
}

/// Writes a model directory (weights, config.json, tokenizer.json) and returns the values as
/// stored (after rounding to `spec.dtype`). `edit` may drop or reshape tensors before writing.
pub fn write_model_with(
    dir: &Path,
    spec: &ModelSpec,
    edit: impl FnOnce(&mut Vec<(String, Vec<usize>)>),
) -> Tensors {
    let mut list = llama_tensors(spec.layers, spec.vocab);
    edit(&mut list);
    let planned: Vec<PlannedTensor> = list
        .iter()
        .map(|(name, shape)| PlannedTensor {
            name: name.clone(),
            dtype: spec.dtype,
            shape: shape.clone(),
        })
        .collect();
    let mut w = CheckpointWriter::create(dir, planned, spec.max_shard_bytes).expect("writer");
    let mut stored = Tensors::new();
    for (name, shape) in &list {
        let numel = shape.iter().product();
        let bytes = encode(spec.dtype, &tensor_values(spec, name, numel));
        w.write_tensor(name, &bytes).expect("write tensor");
        stored.insert(name.clone(), (shape.clone(), decode(spec.dtype, &bytes)));
    }
    let label = dir.file_name().unwrap().to_string_lossy().into_owned();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": INTER,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "vocab_size": spec.vocab,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": false,
        "torch_dtype": spec.dtype.torch_name(),
        "test_model_label": label,
    });
    std::fs::write(
        w.tmp_dir().join("config.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    // A dummy tokenizer: only its bytes matter (it is copied, never parsed).
    let tokenizer = format!(
        "{{\"version\": \"1.0\", \"model\": {{\"type\": \"WordLevel\", \"vocab\": {{}}}}, \"test_model_label\": \"{label}\"}}\n"
    );
    std::fs::write(w.tmp_dir().join("tokenizer.json"), tokenizer).unwrap();
    w.finish().expect("finish");
    stored
}

/// Writes a model directory with every llama tensor (see [`write_model_with`]).
pub fn write_model(dir: &Path, spec: &ModelSpec) -> Tensors {
    write_model_with(dir, spec, |_| {})
}

/// Opens a checkpoint with the crate's own reader and decodes every tensor to f32.
pub fn read_model(dir: &Path) -> Tensors {
    let m = ModelDir::open(dir).unwrap_or_else(|e| panic!("opening {}: {e}", dir.display()));
    m.tensors
        .iter()
        .map(|(name, meta)| {
            (
                name.clone(),
                (meta.shape.clone(), decode(meta.dtype, m.bytes(meta))),
            )
        })
        .collect()
}

/// The storage dtype of every tensor in `dir`.
pub fn dtypes(dir: &Path) -> BTreeMap<String, DType> {
    let m = ModelDir::open(dir).unwrap();
    m.tensors
        .iter()
        .map(|(n, meta)| (n.clone(), meta.dtype))
        .collect()
}

/// Runs the binary in `cwd` with `args`. RUST_BACKTRACE is removed so that a panic would
/// print its "run with `RUST_BACKTRACE=1`" note, which the bad-input tests look for.
pub fn mergesearch(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("running the mergesearch binary")
}

/// Writes `yaml` to `cwd/config_name` and runs `merge config_name out extra...`.
pub fn run_merge(cwd: &Path, config_name: &str, yaml: &str, out: &str, extra: &[&str]) -> Output {
    std::fs::write(cwd.join(config_name), yaml).unwrap();
    let mut args = vec!["merge", config_name, out];
    args.extend_from_slice(extra);
    mergesearch(cwd, &args)
}

/// Like [`run_merge`] but asserts success and returns the output directory.
pub fn merge_ok(cwd: &Path, yaml: &str, out: &str, extra: &[&str]) -> PathBuf {
    let o = run_merge(cwd, &format!("{out}.yaml"), yaml, out, extra);
    assert!(
        o.status.success(),
        "merge failed ({:?})\nconfig:\n{yaml}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let out = cwd.join(out);
    assert_no_leftovers(out.parent().unwrap());
    out
}

/// Fails if `dir` holds a writer's temporary (`.NAME.partial-PID`) or replaced
/// (`.NAME.old-PID`) directory.
pub fn assert_no_leftovers(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !(name.starts_with('.') && (name.contains(".partial-") || name.contains(".old-"))),
            "leftover temporary directory {name} in {}",
            dir.display()
        );
    }
}

/// `|got − want| ≤ abs + rel·|want|` for every element, with the tensor name in the message.
pub fn assert_close(name: &str, got: &[f32], want: &[f64], abs: f64, rel: f64) {
    assert_eq!(got.len(), want.len(), "{name}: element count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (*g as f64 - w).abs();
        assert!(
            err <= abs + rel * w.abs(),
            "{name}[{i}]: got {g}, expected {w} (error {err:e})"
        );
    }
}

/// bf16 keeps 8 significant bits: rounding to nearest moves a value by at most 2^-9 of its
/// magnitude (half a unit in the last place). We allow 2^-8 to absorb f32 accumulation order.
pub const BF16_REL: f64 = 1.0 / 256.0;

/// The test-preset toy zoo, built once (by the binary, so with one candle thread per model)
/// under the cargo target directory and reused by every later test and test run: its
/// checkpoints are fingerprinted, so a rebuild only retrains when the zoo code changed.
pub fn test_zoo() -> PathBuf {
    static ZOO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ZOO.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zoo-test");
        let o = mergesearch(
            Path::new(env!("CARGO_TARGET_TMPDIR")),
            &[
                "zoo",
                dir.to_str().unwrap(),
                "--preset",
                "test",
                "--no-matrix",
            ],
        );
        assert!(
            o.status.success(),
            "building the test zoo failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        dir
    })
    .clone()
}

/// A scratch directory laid out like the repository: `results/zoo` links to the test zoo
/// and `configs/` is a copy of the repository's, so every config runs unchanged.
pub fn repo_like_workspace() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("results")).unwrap();
    std::os::unix::fs::symlink(test_zoo(), tmp.path().join("results/zoo")).unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"),
        &tmp.path().join("configs"),
    );
    tmp
}

/// Recursive copy of a directory of plain files.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// Runs `mergesearch eval TARGET --evals SUITE --split SPLIT --json` in `cwd` and returns
/// the metrics object.
pub fn eval_metrics(cwd: &Path, target: &str, suite: &str, split: &str) -> BTreeMap<String, f64> {
    let o = mergesearch(
        cwd,
        &["eval", target, "--evals", suite, "--split", split, "--json"],
    );
    assert!(
        o.status.success(),
        "eval {target} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["metrics"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect()
}

/// A mergekit TIES config over the models of [`three_models`] that merges successfully.
pub const TIES: &str = "merge_method: ties\n\
                        base_model: base\n\
                        models:\n  - model: ft1\n    parameters: {weight: 0.5, density: 0.5}\n\
                        \x20 - model: ft2\n    parameters: {weight: 0.5, density: 0.5}\n";

/// A scratch directory with `base`, `ft1`, `ft2` (2-layer f32 llama models of one family).
pub fn three_models() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in [("base", 0), ("ft1", 1), ("ft2", 2)] {
        write_model(&tmp.path().join(name), &ModelSpec::new(v).layers(2));
    }
    tmp
}

/// The tiny transformers-made checkpoints of `tests/fixtures/transformers` (each a directory
/// with `config.json`, `model.safetensors` and `logits.json`), sorted by name.
pub fn transformers_fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transformers");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("logits.json").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "expected the ten fixtures of make_golden.py in {}",
        root.display()
    );
    dirs
}
