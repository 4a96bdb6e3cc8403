//! Helpers for study tests: a scratch workspace linking the test zoo, a small study file,
//! reading `trials.csv` back, running the binary expecting success.

use std::collections::BTreeMap;
use std::path::Path;

use super::{mergesearch, test_zoo};

/// A scratch directory with `zoo` linking to the test zoo.
pub fn workspace() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(test_zoo(), tmp.path().join("zoo")).unwrap();
    tmp
}

/// A study of per-layer-group task-arithmetic weights for the add and sort fine-tunes.
pub fn study_yaml(name: &str, searcher: &str, trials: usize) -> String {
    format!(
        "name: {name}
merge:
  method: task_arithmetic
  base_model: zoo/base
  models: [zoo/ft-add, zoo/ft-sort]
search:
  layer_granularity: 2
  parameters:
    weight: {{bounds: [0.0, 1.5], init: 0.3}}
evals: zoo/evals.yaml
objectives:
  - {{metric: add/accuracy}}
  - {{metric: sort/accuracy}}
searcher: {{type: {searcher}}}
budget: {{trials: {trials}}}
seed: 0
"
    )
}

/// `trials.csv` as a list of column → value maps.
pub fn read_trials(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join("trials.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Runs the binary in `cwd` and returns its stdout; panics with its stderr on failure.
pub fn run_ok(cwd: &Path, args: &[&str]) -> String {
    let o = mergesearch(cwd, args);
    assert!(
        o.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Rows of `dir/trials.csv` (finished trials), 0 before it exists.
pub fn trial_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("trials.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

/// Starts `mergesearch search FILE` in `cwd`, waits until `dir/trials.csv` lists `rows`
/// trials (at most two minutes), waits `extra` more, and SIGKILLs it: no chance to clean up.
pub fn search_killed_after(
    cwd: &Path,
    file: &str,
    dir: &Path,
    rows: usize,
    extra: std::time::Duration,
) {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["search", file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while trial_rows(dir) < rows {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the study never got going"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(extra);
    child.kill().unwrap();
    child.wait().unwrap();
}
