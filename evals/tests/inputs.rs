//! Inputs that used to fail late or vaguely: a UTF-8 byte-order mark, empty data files and
//! `limit: 0` (every trial failed with "no examples"), a command flooding stdout.

mod common;

use std::time::Duration;

use common::write;
use mergesearch_evals::command::STDOUT_CAP;
use mergesearch_evals::data::{read_jsonl, DataSpec};
use mergesearch_evals::{CommandHarness, EvalError, Split, Suite};

#[derive(Debug, serde::Deserialize)]
struct Line {
    text: String,
}

#[test]
fn a_byte_order_mark_at_the_start_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bom.jsonl",
        "\u{feff}{\"text\": \"ab\"}\n{\"text\": \"ba\"}\n",
    );
    let records = read_jsonl::<Line>(&p).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].value.text, "ab");
    assert_eq!(records[0].line, 1);
}

#[test]
fn an_empty_data_file_is_an_error_naming_it_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("empty.jsonl", ""), ("blank.jsonl", "\n  \n")] {
        let p = write(dir.path(), name, text);
        let err = DataSpec::new(&p).load::<Line>().unwrap_err();
        assert!(matches!(err, EvalError::NoData { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
        assert!(err.to_string().contains("no examples"), "{err}");
    }
    // Through a suite: resolving fails, before any model is scored.
    write(dir.path(), "ok.jsonl", "{\"text\": \"ab\"}\n");
    let suite = write(
        dir.path(),
        "suite.yaml",
        "harnesses:\n  - type: perplexity\n    data: {search: empty.jsonl, heldout: ok.jsonl}\n",
    );
    let err = Suite::load(&suite)
        .unwrap()
        .resolve(Split::Search)
        .err()
        .expect("an empty search split must not resolve");
    assert!(err.to_string().contains("empty.jsonl"), "{err}");
}

#[test]
fn limit_zero_is_an_error_naming_the_suite_and_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d.jsonl", "{\"text\": \"ab\"}\n");
    let suite = write(
        dir.path(),
        "suite.yaml",
        "harnesses:\n  - type: perplexity\n    data: {search: d.jsonl, heldout: d.jsonl}\n    limit: 0\n",
    );
    let err = Suite::load(&suite)
        .unwrap()
        .resolve(Split::Heldout)
        .err()
        .expect("limit 0 must not resolve");
    let msg = err.to_string();
    assert!(
        msg.contains("suite.yaml") && msg.contains("harnesses[0].limit"),
        "{msg}"
    );
}

#[test]
fn stdout_over_the_cap_is_a_clear_error() {
    let bytes = STDOUT_CAP + (1 << 20);
    let h = CommandHarness::new(
        "flood",
        format!("head -c {bytes} /dev/zero; echo '{{\"x\": 1}}'"),
        Duration::from_secs(120),
    );
    let err = h
        .evaluate_dir(std::path::Path::new("/tmp"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("harness flood") && err.contains("16 MiB"),
        "{err}"
    );
}

#[test]
fn stdout_under_the_cap_is_read_whole() {
    // A long log before the metrics line is fine.
    let h = CommandHarness::new(
        "chatty",
        "i=0; while [ $i -lt 2000 ]; do echo 'log line'; i=$((i+1)); done; echo '{\"x\": 2}'",
        Duration::from_secs(60),
    );
    let m = h.evaluate_dir(std::path::Path::new("/tmp")).unwrap();
    assert_eq!(m.value("x"), Some(2.0));
}
