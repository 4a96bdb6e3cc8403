//! JSONL reading errors and seeded subsampling.

mod common;

use common::write;
use mergesearch_evals::data::{read_jsonl, subsample, DataSpec};
use mergesearch_evals::exact_match::Example;
use mergesearch_evals::EvalError;

#[test]
fn missing_field_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    // Line 2 is blank (skipped, but still counted), line 3 lacks "answer".
    let path = write(
        dir.path(),
        "arith.search.jsonl",
        "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n\n{\"prompt\": \"2+2=\"}\n",
    );
    let err = read_jsonl::<Example>(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}:3: missing field `answer`", path.display()),
        "{err}"
    );
}

#[test]
fn invalid_json_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.jsonl", "{\"text\": \"ok\"}\nnot json\n");
    let err = read_jsonl::<serde_json::Value>(&path).unwrap_err();
    assert!(matches!(err, EvalError::Data { line: 2, .. }), "{err}");
}

#[test]
fn missing_file_names_the_file() {
    let err = read_jsonl::<Example>(std::path::Path::new("no/such/file.jsonl")).unwrap_err();
    assert!(matches!(err, EvalError::Io { .. }));
    assert!(err.to_string().starts_with("no/such/file.jsonl: "), "{err}");
}

#[test]
fn blank_lines_are_skipped_and_line_numbers_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t.jsonl",
        "\n{\"text\": \"x\"}\n   \n{\"text\": \"y\"}\n",
    );
    let records = read_jsonl::<serde_json::Value>(&path).unwrap();
    let lines: Vec<usize> = records.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 4]);
}

#[test]
fn subsample_is_reproducible_ordered_and_sized() {
    let items: Vec<usize> = (0..100).collect();
    let a = subsample(items.clone(), Some(10), 7);
    let b = subsample(items.clone(), Some(10), 7);
    assert_eq!(a, b, "same seed, same subset");
    assert_eq!(a.len(), 10);
    assert!(
        a.windows(2).all(|w| w[0] < w[1]),
        "original order kept: {a:?}"
    );
    let c = subsample(items.clone(), Some(10), 8);
    assert_ne!(a, c, "another seed picks another subset");
    assert_eq!(subsample(items.clone(), None, 7), items);
    assert_eq!(subsample(items.clone(), Some(100), 7), items);
    assert_eq!(subsample(items, Some(0), 7), Vec::<usize>::new());
}

#[test]
fn data_spec_limit_subsamples_records() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = (0..20)
        .map(|i| format!("{{\"text\": \"{i}\"}}\n"))
        .collect();
    let path = write(dir.path(), "t.jsonl", &body);
    let spec = DataSpec {
        path,
        limit: Some(5),
        seed: 3,
    };
    let a = spec.load::<serde_json::Value>().unwrap();
    let b = spec.load::<serde_json::Value>().unwrap();
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
}
