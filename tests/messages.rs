//! Error and warning messages that must name the culprit: safetensors headers with an
//! unreadable dtype or an impossible shape (file, tensor, dtype/shape — not "invalid offset"
//! or "missing tensor"), candle errors printed as one paragraph even with `RUST_BACKTRACE`
//! set, and prompt words the tokenizer does not know.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// One header entry: name, dtype, shape, data offsets, data.
struct Entry {
    name: String,
    dtype: &'static str,
    shape: Vec<u64>,
    offsets: Option<[u64; 2]>,
    bytes: Vec<u8>,
}

/// Writes a safetensors file by hand, so the header can say what no writer would.
fn write_raw(path: &Path, entries: &[Entry]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for e in entries {
        let start = data.len() as u64;
        data.extend_from_slice(&e.bytes);
        let offsets = e.offsets.unwrap_or([start, data.len() as u64]);
        header.insert(
            e.name.clone(),
            serde_json::json!({"dtype": e.dtype, "shape": e.shape, "data_offsets": offsets}),
        );
    }
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header)).unwrap();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

/// Rewrites `dir/model.safetensors` with every llama tensor as F32 except `name`, which gets
/// `dtype`, `shape` and `offsets` (default: consistent with `bytes_per_elem`).
fn rewrite_with(dir: &Path, name: &str, dtype: &'static str, elem: usize, shape: Option<Vec<u64>>) {
    let entries: Vec<Entry> = llama_tensors(2, VOCAB)
        .into_iter()
        .map(|(n, s)| {
            let numel: usize = s.iter().product();
            let shape_u: Vec<u64> = s.iter().map(|&d| d as u64).collect();
            if n == name {
                Entry {
                    name: n,
                    dtype,
                    shape: shape.clone().unwrap_or(shape_u),
                    offsets: None,
                    bytes: vec![0u8; numel * elem],
                }
            } else {
                Entry {
                    name: n,
                    dtype: "F32",
                    shape: shape_u,
                    offsets: None,
                    bytes: vec![0u8; numel * 4],
                }
            }
        })
        .collect();
    write_raw(&dir.join("model.safetensors"), &entries);
}

fn failing_merge(cwd: &Path) -> String {
    let o = run_merge(cwd, "merge.yaml", TIES, "out", &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "merge should fail");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!cwd.join("out").exists());
    assert_no_leftovers(cwd);
    err
}

const UP: &str = "model.layers.1.mlp.up_proj.weight";

#[test]
fn fp8_weight_names_the_file_the_tensor_and_the_dtype() {
    let tmp = three_models();
    rewrite_with(&tmp.path().join("ft1"), UP, "F8_E4M3", 1, None);
    let err = failing_merge(tmp.path());
    for want in ["ft1/model.safetensors", UP, "F8_E4M3", "[12, 8]"] {
        assert!(err.contains(want), "stderr does not name `{want}`:\n{err}");
    }
    assert!(!err.contains("missing"), "{err}");
}

#[test]
fn i64_weight_names_the_file_the_tensor_and_the_dtype() {
    let tmp = three_models();
    rewrite_with(&tmp.path().join("ft2"), UP, "I64", 8, None);
    let err = failing_merge(tmp.path());
    for want in ["ft2/model.safetensors", UP, "I64"] {
        assert!(err.contains(want), "stderr does not name `{want}`:\n{err}");
    }
}

#[test]
fn huge_shape_names_the_tensor_the_dtype_and_the_shape() {
    let tmp = three_models();
    // 2^32 · 2^32 · 2^32 elements overflow any 64-bit size.
    let huge = vec![1u64 << 32, 1 << 32, 1 << 32];
    rewrite_with(&tmp.path().join("ft1"), UP, "F32", 4, Some(huge));
    let err = failing_merge(tmp.path());
    for want in [
        "ft1/model.safetensors",
        UP,
        "F32",
        "[4294967296,4294967296,4294967296]",
    ] {
        assert!(err.contains(want), "stderr does not name `{want}`:\n{err}");
    }
    // Large but addressable: the offsets disagree with the shape.
    rewrite_with(
        &tmp.path().join("ft1"),
        UP,
        "F32",
        4,
        Some(vec![1000, 1000]),
    );
    let err = failing_merge(tmp.path());
    for want in ["ft1/model.safetensors", UP, "[1000,1000]", "4000000 bytes"] {
        assert!(err.contains(want), "stderr does not name `{want}`:\n{err}");
    }
}

/// A suite with one perplexity harness over a one-line data file.
fn ppl_suite(dir: &Path) -> String {
    std::fs::write(dir.join("d.jsonl"), "{\"text\": \"a b c\"}\n").unwrap();
    std::fs::write(
        dir.join("suite.yaml"),
        "harnesses:\n  - type: perplexity\n    data: {search: d.jsonl, heldout: d.jsonl}\n",
    )
    .unwrap();
    "suite.yaml".into()
}

/// Runs `eval` with `RUST_BACKTRACE=1`: candle attaches a backtrace to its errors then.
fn eval_with_backtrace(cwd: &Path, target: &str) -> String {
    let suite = ppl_suite(cwd);
    let o = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["eval", target, "--evals", &suite])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_one_paragraph(err: &str) {
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.trim().contains("\n\n"), "blank line in:\n{err}");
    assert!(!err.contains("backtrace"), "backtrace printed:\n{err}");
    for line in err.lines() {
        let t = line.trim_start();
        let frame = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            !frame && !t.starts_with("at "),
            "stack frame printed:\n{err}"
        );
    }
}

#[test]
fn eval_of_an_fp8_checkpoint_names_the_tensor_in_one_paragraph() {
    let tmp = three_models();
    rewrite_with(&tmp.path().join("ft1"), UP, "F8_E4M3", 1, None);
    let err = eval_with_backtrace(tmp.path(), "ft1");
    assert_one_paragraph(&err);
    assert!(err.contains(UP) && err.contains("F8_E4M3"), "{err}");
}

#[test]
fn candle_errors_print_as_one_paragraph_without_a_backtrace() {
    let tmp = three_models();
    // config.json says 16 hidden units, the tensors have 8: candle's VarBuilder refuses.
    let cfg = tmp.path().join("ft1/config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    v["hidden_size"] = 16.into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let err = eval_with_backtrace(tmp.path(), "ft1");
    assert_one_paragraph(&err);
    assert!(err.contains("ft1"), "{err}");
}

#[test]
fn unknown_prompt_words_are_found_by_the_hf_tokenizer() {
    use mergesearch_evals::TextTokenizer;
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("tokenizer.json");
    std::fs::write(
        &p,
        r#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"<unk>": 0, "1": 1, "+": 2, "=": 3},
                      "unk_token": "<unk>"}}"#,
    )
    .unwrap();
    let tok = mergesearch::eval::HfTokenizer::from_file(&p).unwrap();
    assert_eq!(tok.unknown_words("1 + 1 ="), Vec::<String>::new());
    assert_eq!(tok.unknown_words("1 + xyz = 1 w"), vec!["xyz", "w"]);
    let prompts = ["1 + 1 =", "1 + xyz = 1 w", "qq"];
    let line =
        mergesearch_evals::harness::unknown_words_summary("add", &tok, prompts.iter().copied())
            .unwrap();
    assert_eq!(
        line,
        "warning: harness add: 2 of 3 prompts contain 3 words not in the tokenizer's vocabulary (e.g. \"xyz\", \"w\", \"qq\")"
    );
}

#[test]
fn eval_warns_once_per_harness_about_unknown_prompt_words() {
    let zoo = test_zoo();
    let tmp = tempfile::tempdir().unwrap();
    // Three zoo prompts and one with two words the zoo vocabulary lacks.
    let search = std::fs::read_to_string(zoo.join("data/add.search.jsonl")).unwrap();
    let mut data: String = search.lines().take(3).map(|l| format!("{l}\n")).collect();
    data += "{\"answer\": \"1\", \"prompt\": \"add xyz 2 qq 1 =\"}\n";
    std::fs::write(tmp.path().join("em.jsonl"), data).unwrap();
    std::fs::write(
        tmp.path().join("e.yaml"),
        "harnesses:\n  - type: exact_match\n    name: add\n    data: {search: em.jsonl, heldout: em.jsonl}\n    max_new_tokens: 4\n",
    )
    .unwrap();
    let model = zoo.join("ft-add");
    let o = mergesearch(
        tmp.path(),
        &["eval", model.to_str().unwrap(), "--evals", "e.yaml"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let want = "warning: harness add: 1 of 4 prompts contain 2 words not in the tokenizer's vocabulary (e.g. \"xyz\", \"qq\")";
    assert_eq!(err.matches(want).count(), 1, "{err}");
}
