//! Regression tests for the study core's safety holes: a second process on a running study,
//! resume on a damaged database or a changed eval suite, values that used to fail only at
//! run time (or never), and `--parallel` trial tickets.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::study::{read_trials, run_ok, study_yaml, workspace};
use common::{copy_dir, mergesearch, test_zoo};

fn stderr_of(cwd: &Path, args: &[&str]) -> String {
    let o = mergesearch(cwd, args);
    assert!(!o.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn rows_if_any(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("trials.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn a_second_process_is_refused_while_a_study_runs_and_a_kill_frees_it() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("l.yaml"), study_yaml("l", "random", 500)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["search", "l.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while rows_if_any(&cwd.join("results/l")) < 1 {
        assert!(t0.elapsed() < Duration::from_secs(120), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = std::fs::read(cwd.join("results/l/study.db")).unwrap().len();
    let err = stderr_of(cwd, &["search", "l.yaml", "--resume"]);
    assert!(
        err.contains("another process is running this study")
            && err.contains(&format!("pid {}", child.id())),
        "{err}"
    );
    assert!(before > 0);
    child.kill().unwrap(); // SIGKILL: the kernel drops the lock with the process
    child.wait().unwrap();
    let n = read_trials(&cwd.join("results/l")).len();
    std::fs::write(cwd.join("l.yaml"), study_yaml("l", "random", n + 1)).unwrap();
    run_ok(cwd, &["search", "l.yaml", "--resume"]);
    let rows = read_trials(&cwd.join("results/l"));
    let ids: Vec<String> = rows.iter().map(|r| r["trial"].clone()).collect();
    let want: Vec<String> = (1..=n + 1).map(|i| i.to_string()).collect();
    assert_eq!(ids, want, "the killed run's trials are kept, none repeated");
}

#[test]
fn resume_refuses_a_damaged_database_and_changes_nothing() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("d.yaml"), study_yaml("d", "cmaes", 2)).unwrap();
    run_ok(cwd, &["search", "d.yaml"]);
    let dir = cwd.join("results/d");
    let early = std::fs::read(dir.join("study.db")).unwrap();
    std::fs::write(cwd.join("d.yaml"), study_yaml("d", "cmaes", 4)).unwrap();
    run_ok(cwd, &["search", "d.yaml", "--resume"]);
    let csv = std::fs::read(dir.join("trials.csv")).unwrap();
    std::fs::write(cwd.join("d.yaml"), study_yaml("d", "cmaes", 6)).unwrap();
    let db = dir.join("study.db");

    // A database from before the last two trials (what a lost study.db-wal leaves).
    std::fs::write(&db, &early).unwrap();
    let err = stderr_of(cwd, &["search", "d.yaml", "--resume"]);
    assert!(
        err.contains("trials.csv lists 2 finished trial(s)") && err.contains("study.db-wal"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("trials.csv")).unwrap(), csv);

    // An emptied database.
    std::fs::write(&db, b"").unwrap();
    let err = stderr_of(cwd, &["search", "d.yaml", "--resume"]);
    assert!(err.contains("holds no study `d`"), "{err}");
    assert_eq!(std::fs::read(dir.join("trials.csv")).unwrap(), csv);

    // No database at all.
    std::fs::remove_file(&db).unwrap();
    let err = stderr_of(cwd, &["search", "d.yaml", "--resume"]);
    assert!(err.contains("study.db is missing"), "{err}");
    assert!(!db.exists(), "nothing was created");
    let err = stderr_of(cwd, &["search", "d.yaml"]);
    assert!(err.contains("already holds a study"), "{err}");
    assert_eq!(std::fs::read(dir.join("trials.csv")).unwrap(), csv);
}

#[test]
fn resume_refuses_a_changed_eval_suite_naming_the_file() {
    let ws = workspace();
    let cwd = ws.path();
    // An own copy of the zoo's suite and data, so the test can edit it.
    std::fs::copy(test_zoo().join("evals.yaml"), cwd.join("evals.yaml")).unwrap();
    copy_dir(&test_zoo().join("data"), &cwd.join("data"));
    let yaml = study_yaml("e", "random", 2).replace("evals: zoo/evals.yaml", "evals: evals.yaml");
    std::fs::write(cwd.join("e.yaml"), &yaml).unwrap();
    run_ok(cwd, &["search", "e.yaml"]);
    let data = cwd.join("data/sort.search.jsonl");
    let text = std::fs::read_to_string(&data).unwrap();
    let first = text.lines().next().unwrap().to_string();
    std::fs::write(&data, text.replacen(&first, "", 1).trim_start()).unwrap();
    std::fs::write(cwd.join("e.yaml"), yaml.replace("trials: 2", "trials: 3")).unwrap();
    let err = stderr_of(cwd, &["search", "e.yaml", "--resume"]);
    assert!(
        err.contains("eval suite changed") && err.contains("data/sort.search.jsonl changed"),
        "{err}"
    );
    std::fs::write(&data, text).unwrap();
    run_ok(cwd, &["search", "e.yaml", "--resume"]);
    assert_eq!(read_trials(&cwd.join("results/e")).len(), 3);
}

#[test]
fn values_that_cannot_work_fail_before_any_evaluation() {
    let ws = workspace();
    let cwd = ws.path();
    let base = study_yaml("bad", "cmaes", 5);
    let with_constraint = base.replace(
        "searcher:",
        "constraints:\n  - {metric: add/accuracy, min: 0.8, max: 0.2}\nsearcher:",
    );
    let cases = [
        (
            base.replace("trials: 5", "trials: 0"),
            vec!["budget.trials"],
        ),
        (
            base.replace("budget: {trials: 5}", "budget: {seconds: -3}"),
            vec!["budget.seconds", "-3"],
        ),
        (with_constraint, vec!["constraints[0]", "min 0.8 > max 0.2"]),
        (
            base.replace("seed: 0", "seed: 0\nreference_point: [.nan, 0]"),
            vec!["reference_point[0]", "NaN"],
        ),
        (
            base.replace("{metric: sort/accuracy}", "{metric: add/accuracy}"),
            vec!["objectives[1]", "already objectives[0]"],
        ),
        (
            base.replace("{type: cmaes}", "{type: cmaes, popsize: 1000000000}"),
            vec!["popsize"],
        ),
        (
            base.replace("{type: cmaes}", "{type: nsga2, popsize: 1000000000}"),
            vec!["popsize"],
        ),
        (
            base.clone() + "pruner: {type: successive_halving, min_fraction: 0}\n",
            vec!["pruner.min_fraction", "(0, 1]"],
        ),
        (
            base.clone() + "pruner: {type: successive_halving, reduction_factor: 1}\n",
            vec!["pruner.reduction_factor"],
        ),
        (
            // optuna's bootstrap_count is not supported: refused, not ignored.
            base.clone() + "pruner: {type: successive_halving, bootstrap_count: 2}\n",
            vec!["bootstrap_count"],
        ),
        (
            // A command harness scores a whole split at once.
            base.replace("evals: zoo/evals.yaml", "evals: cmd.yaml")
                .replace(
                    "  - {metric: add/accuracy}\n  - {metric: sort/accuracy}",
                    "  - {metric: cmd/score}",
                )
                + "pruner: {type: successive_halving}\n",
            vec!["pruner", "harness `cmd`", "whole split"],
        ),
    ];
    std::fs::write(
        cwd.join("cmd.yaml"),
        "harnesses:\n  - {type: command, name: cmd, command: 'exit 1', directions: {score: maximize}}\n",
    )
    .unwrap();
    for (yaml, needles) in cases {
        std::fs::write(cwd.join("bad.yaml"), &yaml).unwrap();
        let err = stderr_of(cwd, &["search", "bad.yaml"]);
        for n in needles {
            assert!(err.contains(n), "expected `{n}` in:\n{err}");
        }
        assert!(!cwd.join("results/bad").exists(), "nothing is created");
    }
    std::fs::write(cwd.join("ok.yaml"), &base).unwrap();
    std::fs::write(cwd.join("a-file"), "mine").unwrap();
    let err = stderr_of(cwd, &["search", "ok.yaml", "--out", "a-file"]);
    assert!(err.contains("a-file") && err.contains("is a file"), "{err}");
    assert_eq!(std::fs::read_to_string(cwd.join("a-file")).unwrap(), "mine");
}

#[test]
fn parallel_trials_get_their_own_ids_and_match_a_sequential_run() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("p.yaml"), study_yaml("p", "random", 6)).unwrap();
    std::fs::write(cwd.join("s.yaml"), study_yaml("s", "random", 6)).unwrap();
    run_ok(
        cwd,
        &["search", "p.yaml", "--parallel", "3", "--threads", "1"],
    );
    run_ok(cwd, &["search", "s.yaml"]);
    let sorted = |name: &str| {
        let mut rows = read_trials(&cwd.join("results").join(name));
        rows.sort_by_key(|r| r["trial"].parse::<u64>().unwrap());
        rows
    };
    let (p, s) = (sorted("p"), sorted("s"));
    assert_eq!(p.len(), 6);
    // Random search gives trial i the i-th point of its sequence whatever order trials
    // finish in, and scoring is deterministic: the same rows as the sequential run.
    for (a, b) in p.iter().zip(&s) {
        assert_eq!(a["trial"], b["trial"]);
        assert_eq!(a["state"], "complete");
        for (k, v) in a
            .iter()
            .filter(|(k, _)| k.starts_with("gene:") || k.starts_with("objective:"))
        {
            assert_eq!(v, &b[k], "trial {} {k}", a["trial"]);
        }
    }
}
