//! `mergesearch eval`: a merge config scored lazily gives exactly the metrics of the merged
//! checkpoint written by `mergesearch merge` and then scored from its directory; both splits,
//! table and JSON output, and a bad target.

mod common;

use std::path::Path;

use common::{merge_ok, mergesearch, write_model, ModelSpec, VOCAB};

/// The test vocabulary: one word per row of the test models' embeddings.
const WORDS: [&str; VOCAB] = [
    "<unk>", "</s>", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
];

/// A WordLevel `tokenizer.json` with a whitespace pre-tokenizer (replaces the helpers' dummy).
fn write_tokenizer(dir: &Path) {
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), i.into()))
        .collect();
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    });
    std::fs::write(dir.join("tokenizer.json"), json.to_string()).unwrap();
}

const MERGE: &str = "merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\n    parameters: {weight: 0.6, density: 0.5}\n  - model: ft2\n    parameters: {weight: 0.4, density: 0.7}\n";

/// Base + two fine-tunes with a real tokenizer, an eval suite with a perplexity harness.
fn workspace() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (name, v) in [("base", 0), ("ft1", 1), ("ft2", 2)] {
        let dir = tmp.path().join(name);
        write_model(&dir, &ModelSpec::new(v).layers(2));
        write_tokenizer(&dir);
    }
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(
        data.join("search.jsonl"),
        "{\"text\": \"a b c d e\"}\n{\"text\": \"n m l\"}\n",
    )
    .unwrap();
    std::fs::write(data.join("heldout.jsonl"), "{\"text\": \"g h i j k a\"}\n").unwrap();
    std::fs::write(
        tmp.path().join("suite.yaml"),
        "harnesses:\n  - type: perplexity\n    name: ppl\n    data: {search: data/search.jsonl, heldout: data/heldout.jsonl}\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("merge.yaml"), MERGE).unwrap();
    tmp
}

fn eval_json(cwd: &Path, target: &str, split: &str) -> serde_json::Value {
    eval_json_with(cwd, target, split, &[])
}

fn eval_json_with(cwd: &Path, target: &str, split: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "eval",
        target,
        "--evals",
        "suite.yaml",
        "--split",
        split,
        "--json",
    ];
    args.extend(extra);
    let o = mergesearch(cwd, &args);
    assert!(
        o.status.success(),
        "eval {target} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("one JSON object on stdout")
}

#[test]
fn lazy_merge_eval_equals_merged_directory_eval() {
    let tmp = workspace();
    merge_ok(tmp.path(), MERGE, "out", &[]);
    for split in ["search", "heldout"] {
        let lazy = eval_json(tmp.path(), "merge.yaml", split);
        let disk = eval_json(tmp.path(), "out", split);
        assert_eq!(lazy["metrics"], disk["metrics"], "{split}");
        assert_eq!(lazy["split"], split);
        let nll = lazy["metrics"]["ppl/nll"].as_f64().expect("ppl/nll");
        let ppl = lazy["metrics"]["ppl/perplexity"]
            .as_f64()
            .expect("ppl/perplexity");
        assert!(nll.is_finite() && nll > 0.0, "{lazy}");
        assert!(
            (ppl - nll.exp()).abs() <= 1e-9 * ppl,
            "perplexity = exp(nll)"
        );
        assert_eq!(lazy["directions"]["ppl/nll"], "minimize");
    }
    // The two splits hold different texts, so they score differently.
    assert_ne!(
        eval_json(tmp.path(), "out", "search")["metrics"],
        eval_json(tmp.path(), "out", "heldout")["metrics"]
    );
}

#[test]
fn table_output_lists_every_metric() {
    let tmp = workspace();
    let o = mergesearch(tmp.path(), &["eval", "base", "--evals", "suite.yaml"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("| ppl/nll |") && out.contains("| ppl/perplexity |"),
        "{out}"
    );
    assert!(out.contains("search split"), "{out}");
}

#[test]
fn missing_target_is_an_error_naming_it() {
    let tmp = workspace();
    let o = mergesearch(tmp.path(), &["eval", "nope.yaml", "--evals", "suite.yaml"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nope.yaml") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn command_harness_gets_a_merged_directory_for_a_merge_target() {
    let tmp = workspace();
    // The command sees a real checkpoint: it reports how many files have the merged weights.
    std::fs::write(
        tmp.path().join("suite.yaml"),
        "harnesses:\n  - type: command\n    name: files\n    command: 'n=$(ls {model_dir}/*.safetensors | wc -l); echo \"{\\\"shards\\\": $n}\"'\n",
    )
    .unwrap();
    let j = eval_json(tmp.path(), "merge.yaml", "search");
    assert_eq!(j["metrics"]["files/shards"], 1.0, "{j}");
}

#[test]
fn a_token_budget_changes_the_batches_not_the_scores() {
    let tmp = workspace();
    // The search split's two texts (5 and 3 tokens) share one batch by default; with a
    // budget of 3 tokens each runs alone. Right padding is masked, so the scores agree to
    // float rounding (the padded forward sums attention over more, zero-weighted, keys).
    let together = eval_json(tmp.path(), "merge.yaml", "search");
    let alone = eval_json_with(
        tmp.path(),
        "merge.yaml",
        "search",
        &["--max-batch-tokens", "3"],
    );
    let (a, b) = (
        together["metrics"]["ppl/nll"].as_f64().unwrap(),
        alone["metrics"]["ppl/nll"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-6 * a.abs(), "{a} vs {b}");
    let o = mergesearch(
        tmp.path(),
        &[
            "eval",
            "merge.yaml",
            "--evals",
            "suite.yaml",
            "--max-batch-tokens",
            "0",
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--max-batch-tokens"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
