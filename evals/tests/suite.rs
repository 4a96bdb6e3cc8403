//! Eval-suite YAML: resolution per split, relative data paths, unknown types and fields.

mod common;

use common::{ab_model, write};
use mergesearch_evals::{EvalError, ResolvedHarness, Split, Suite};

const SUITE: &str = r#"
harnesses:
  - type: perplexity
    data: {search: data/ppl.search.jsonl, heldout: data/ppl.heldout.jsonl}
  - type: multiple_choice
    name: mc
    data: {search: data/mc.jsonl, heldout: data/mc.jsonl}
    limit: 1
    seed: 3
  - type: exact_match
    data: {search: data/em.jsonl, heldout: data/em.jsonl}
    max_new_tokens: 4
    regex: '(b)'
  - type: entropy
    data: {search: data/ent.jsonl, heldout: data/ent.jsonl}
  - type: command
    command: "echo '{\"x\": 1}'"
    timeout_s: 5
    directions: {x: minimize}
"#;

fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write(&data, "ppl.search.jsonl", "{\"text\": \"aba\"}\n");
    write(&data, "ppl.heldout.jsonl", "{\"text\": \"ab\"}\n");
    write(
        &data,
        "mc.jsonl",
        "{\"prompt\": \"a\", \"choices\": [\"a\", \"b\"], \"answer\": 0}\n\
         {\"prompt\": \"b\", \"choices\": [\"a\", \"b\"], \"answer\": 1}\n",
    );
    write(
        &data,
        "em.jsonl",
        "{\"prompt\": \"a\", \"answer\": \"b\"}\n",
    );
    write(
        &data,
        "ent.jsonl",
        "{\"prompt\": \"a\", \"continuation\": \"b\"}\n",
    );
    let suite = write(dir.path(), "suite.yaml", SUITE);
    (dir, suite)
}

#[test]
fn suite_resolves_each_split_with_relative_paths() {
    let (_dir, path) = fixture();
    let suite = Suite::load(&path).unwrap();
    let (model, tok) = ab_model();
    let mut ppl = Vec::new();
    for split in [Split::Search, Split::Heldout] {
        let harnesses = suite.resolve(split).unwrap();
        let names: Vec<&str> = harnesses.iter().map(|h| h.name()).collect();
        assert_eq!(
            names,
            ["perplexity", "mc", "exact_match", "entropy", "command"]
        );
        let ResolvedHarness::Model(h) = &harnesses[0] else {
            panic!("perplexity is a model harness")
        };
        ppl.push(h.evaluate(&model, &tok).unwrap().value("nll").unwrap());
        let ResolvedHarness::Command(c) = &harnesses[4] else {
            panic!("command harness")
        };
        let m = c.evaluate_dir(std::path::Path::new(".")).unwrap();
        assert_eq!(m.value("x"), Some(1.0));
    }
    // Search "aba": nll = (ln 2 + ln 4)/2 = 1.5 ln 2; held-out "ab": nll = ln 2.
    assert!((ppl[0] - 1.5 * 2f64.ln()).abs() < 1e-6);
    assert!((ppl[1] - 2f64.ln()).abs() < 1e-6);
}

#[test]
fn unknown_type_names_file_and_type() {
    let err = Suite::parse(
        std::path::Path::new("evals/bad.yaml"),
        "harnesses:\n  - type: bleu\n    data: {search: a, heldout: b}\n",
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, EvalError::Suite { .. }));
    assert!(
        msg.starts_with("evals/bad.yaml: ") && msg.contains("bleu"),
        "{msg}"
    );
}

#[test]
fn unknown_field_names_file_and_field() {
    let err = Suite::parse(
        std::path::Path::new("evals/bad.yaml"),
        "harnesses:\n  - type: perplexity\n    data: {search: a, heldout: b}\n    batch: 4\n",
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("evals/bad.yaml: ") && msg.contains("batch"),
        "{msg}"
    );
}

#[test]
fn bad_data_fails_at_resolve_time() {
    let (dir, path) = fixture();
    write(
        &dir.path().join("data"),
        "em.jsonl",
        "{\"prompt\": \"a\"}\n",
    );
    let err = Suite::load(&path)
        .unwrap()
        .resolve(Split::Search)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("em.jsonl:1: missing field `answer`"),
        "{err}"
    );
}

#[test]
fn bad_regex_names_the_field() {
    let (dir, _) = fixture();
    let path = write(
        dir.path(),
        "re.yaml",
        "harnesses:\n  - type: exact_match\n    data: {search: data/em.jsonl, heldout: data/em.jsonl}\n    max_new_tokens: 1\n    regex: '('\n",
    );
    let err = Suite::load(&path)
        .unwrap()
        .resolve(Split::Search)
        .err()
        .unwrap();
    assert!(err.to_string().contains("harnesses[0].regex"), "{err}");
}
