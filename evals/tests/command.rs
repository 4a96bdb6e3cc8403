//! The command harness with tiny `sh` commands.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mergesearch_evals::{CommandHarness, Direction, EvalError};

#[test]
fn metrics_from_json_on_stdout_with_model_dir_substituted() {
    let dir = tempfile::tempdir().unwrap();
    // A directory name with a space and a quote checks the shell quoting.
    let model_dir = dir.path().join("my 'model");
    std::fs::create_dir(&model_dir).unwrap();
    std::fs::write(model_dir.join("m.json"), r#"{"score": 0.5, "loss": 2}"#).unwrap();
    let h = CommandHarness::new(
        "cmd",
        "echo starting >&2; echo log; cat {model_dir}/m.json",
        Duration::from_secs(5),
    )
    .with_directions(BTreeMap::from([("loss".to_string(), Direction::Minimize)]));
    let m = h.evaluate_dir(&model_dir).unwrap();
    assert_eq!(m.value("score"), Some(0.5));
    assert_eq!(m.value("loss"), Some(2.0));
    assert_eq!(m.get("score").unwrap().direction, Direction::Maximize);
    assert_eq!(m.get("loss").unwrap().direction, Direction::Minimize);
}

fn run(template: &str, timeout: Duration) -> EvalError {
    CommandHarness::new("cmd", template, timeout)
        .evaluate_dir(std::path::Path::new("/tmp"))
        .unwrap_err()
}

#[test]
fn non_zero_exit_is_an_error_naming_the_command() {
    let err = run("echo boom >&2; exit 1", Duration::from_secs(5));
    let msg = err.to_string();
    assert!(matches!(err, EvalError::Command { .. }));
    assert!(
        msg.contains("echo boom >&2; exit 1") && msg.contains("boom"),
        "{msg}"
    );
}

#[test]
fn timeout_kills_the_command() {
    let start = Instant::now();
    let err = run("sleep 5; echo '{\"x\": 1}'", Duration::from_secs(1));
    let elapsed = start.elapsed();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.to_string().contains("sleep 5"), "{err}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[test]
fn non_json_output_is_an_error() {
    let err = run("echo hello", Duration::from_secs(5));
    assert!(err.to_string().contains("not a JSON object"), "{err}");
    assert!(err.to_string().contains("echo hello"), "{err}");
}

#[test]
fn non_numeric_metric_is_an_error() {
    let err = run(r#"echo '{"x": "high"}'"#, Duration::from_secs(5));
    assert!(err.to_string().contains("\"x\""), "{err}");
}
