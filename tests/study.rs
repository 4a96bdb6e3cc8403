//! `mergesearch search`, `export` and `report` end to end on the test-preset zoo: CMA-ES
//! beats uniform task arithmetic and random search at equal budget, an exported trial
//! re-scores to its stored metrics, a SIGKILLed study resumes without losing or repeating
//! trials, failing candidates are recorded, and bad study files fail before any evaluation.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::study::{read_trials, run_ok, study_yaml, workspace};
use common::{eval_metrics, mergesearch, test_zoo};

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

fn mean_accuracy(row: &BTreeMap<String, String>) -> f64 {
    (num(row, "objective:add/accuracy") + num(row, "objective:sort/accuracy")) / 2.0
}

#[test]
fn cmaes_beats_task_arithmetic_and_random_search_and_exports_what_it_scored() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("cma.yaml"), study_yaml("cma", "cmaes", 30)).unwrap();
    std::fs::write(cwd.join("rnd.yaml"), study_yaml("rnd", "random", 30)).unwrap();
    let out = run_ok(cwd, &["search", "cma.yaml"]);
    assert!(out.contains("(held-out)"), "the front is validated:\n{out}");
    run_ok(cwd, &["search", "rnd.yaml"]);
    let best = |name: &str| {
        let rows = read_trials(&cwd.join("results").join(name));
        assert_eq!(rows.len(), 30, "{name}: the budget is 30 trials");
        assert!(rows.iter().all(|r| r["state"] == "complete"), "{name}");
        rows.iter().map(mean_accuracy).fold(f64::MIN, f64::max)
    };
    let (cma, rnd) = (best("cma"), best("rnd"));
    // Uniform task arithmetic with λ = 0.3 for both fine-tunes, scored the same way.
    std::fs::write(
        cwd.join("ta.yaml"),
        "merge_method: task_arithmetic\nbase_model: zoo/base\nmodels:\n  - model: zoo/ft-add\n    parameters: {weight: 0.3}\n  - model: zoo/ft-sort\n    parameters: {weight: 0.3}\n",
    )
    .unwrap();
    let ta = eval_metrics(cwd, "ta.yaml", "zoo/evals.yaml", "search");
    let ta = (ta["add/accuracy"] + ta["sort/accuracy"]) / 2.0;
    assert!(cma > ta + 0.1, "CMA-ES {cma} vs task arithmetic {ta}");
    assert!(cma > rnd, "CMA-ES {cma} vs best random trial {rnd}");

    // The exported best trial re-scores to exactly its stored metrics.
    let dir = cwd.join("results/cma");
    run_ok(cwd, &["export", "results/cma", "--best", "best-model"]);
    assert!(cwd.join("best-model/mergekit_config.yml").exists());
    let rows = read_trials(&dir);
    let best_row = rows
        .iter()
        .min_by(|a, b| num(a, "scalar").total_cmp(&num(b, "scalar")))
        .unwrap();
    let again = eval_metrics(cwd, "best-model", "zoo/evals.yaml", "search");
    for (k, v) in &again {
        assert_eq!(*v, num(best_row, &format!("metric:{k}")), "{k}");
    }
    // Held-out scores of the front are stored beside the search scores.
    let pareto = std::fs::read_to_string(dir.join("pareto.csv")).unwrap();
    // (`dominates*` may be empty: a front trial need not dominate any baseline.)
    let header: Vec<&str> = pareto.lines().next().unwrap().split(',').collect();
    let first: Vec<&str> = pareto
        .lines()
        .nth(1)
        .expect("a non-empty front")
        .split(',')
        .collect();
    assert_eq!(header.len(), first.len(), "{pareto}");
    for (h, c) in header.iter().zip(&first) {
        if !h.starts_with("dominates") {
            assert!(!c.is_empty(), "column {h} filled: {pareto}");
        }
    }
    assert!(header.iter().any(|h| h.starts_with("heldout:")), "{pareto}");
    let report = run_ok(cwd, &["report", "results/cma"]);
    assert!(report.contains("30 trials"), "{report}");
}

#[test]
fn a_killed_study_resumes_without_losing_or_repeating_trials() {
    // CMA-ES, and the Bayesian searchers killed past their initial design (4 genes: 8
    // Sobol points), so the snapshot carries fitted GP hyperparameters.
    for (searcher, kill_after) in [("cmaes", 7), ("bo", 10), ("ehvi", 10)] {
        killed_study_resumes(searcher, kill_after);
    }
}

/// Runs a 24-trial study with `searcher` uninterrupted, and again SIGKILLed after
/// `kill_after` trials and resumed: no trial lost or repeated, the same trials.
fn killed_study_resumes(searcher: &str, kill_after: usize) {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("a.yaml"), study_yaml("a", searcher, 24)).unwrap();
    std::fs::write(cwd.join("b.yaml"), study_yaml("b", searcher, 24)).unwrap();
    run_ok(cwd, &["search", "b.yaml"]);

    common::study::search_killed_after(
        cwd,
        "a.yaml",
        &cwd.join("results/a"),
        kill_after,
        Duration::ZERO,
    );
    assert!(
        read_trials(&cwd.join("results/a")).len() < 24,
        "{searcher}: killed before the end"
    );
    let again = mergesearch(cwd, &["search", "a.yaml"]);
    assert!(
        !again.status.success(),
        "an existing study is not silently restarted"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
    run_ok(cwd, &["search", "a.yaml", "--resume"]);

    let (a, b) = (
        read_trials(&cwd.join("results/a")),
        read_trials(&cwd.join("results/b")),
    );
    assert_eq!(a.len(), 24);
    let ids: Vec<&str> = a.iter().map(|r| r["trial"].as_str()).collect();
    let expected: Vec<String> = (1..=24).map(|i| i.to_string()).collect();
    assert_eq!(
        ids, expected,
        "{searcher}: ids 1..=24, none lost or repeated"
    );
    assert!(a.iter().all(|r| r["state"] == "complete"));
    // The searcher continued from its snapshot: the same trials as the uninterrupted run.
    let genes = |rows: &[BTreeMap<String, String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .filter(|(k, _)| k.starts_with("gene:") || k.starts_with("objective:"))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .collect()
    };
    assert_eq!(genes(&a), genes(&b), "{searcher}: resumed ≠ uninterrupted");
}

#[test]
fn failing_candidates_are_recorded_and_the_study_goes_on() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(
        cwd.join("suite.yaml"),
        "harnesses:\n  - type: command\n    name: ext\n    command: 'echo broken; exit 3'\n    timeout_s: 30\n",
    )
    .unwrap();
    let yaml = study_yaml("f", "random", 3)
        .replace("evals: zoo/evals.yaml", "evals: suite.yaml")
        .replace(
            "  - {metric: add/accuracy}\n  - {metric: sort/accuracy}\n",
            "  - {metric: ext/score}\n",
        );
    std::fs::write(cwd.join("f.yaml"), yaml).unwrap();
    let out = run_ok(cwd, &["search", "f.yaml"]);
    assert!(out.contains("3 trials (3 failed)"), "{out}");
    let rows = read_trials(&cwd.join("results/f"));
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r["state"], "failed");
        assert!(r["error"].contains("exit 3"), "{}", r["error"]);
    }
}

#[test]
fn bad_study_files_fail_before_any_evaluation() {
    let ws = workspace();
    let cwd = ws.path();
    common::write_model(&cwd.join("alien"), &common::ModelSpec::new(1).layers(4));
    let base = study_yaml("bad", "cmaes", 5);
    let cases = [
        (
            base.replace("    weight: {", "    wieght: {"),
            vec!["wieght", "not a parameter of task_arithmetic"],
        ),
        (
            base.replace("bounds: [0.0, 1.5]", "bounds: [1.0, 1.0]"),
            vec!["search.parameters.weight.bounds", "lo < hi"],
        ),
        (
            base.replace("{metric: sort/accuracy}", "{metric: sort/acc}"),
            vec!["objectives[1].metric", "sort/acc", "sort/accuracy"],
        ),
        (
            base.replace("[zoo/ft-add, zoo/ft-sort]", "[zoo/ft-add, alien]"),
            vec!["alien"],
        ),
        (
            base.replace("[zoo/ft-add, zoo/ft-sort]", "[zoo/ft-add, zoo/ft-nope]"),
            vec!["zoo/ft-nope", "does not exist"],
        ),
        (
            base.replace("budget: {trials: 5}", "budget: {}"),
            vec!["budget"],
        ),
    ];
    for (yaml, needles) in cases {
        std::fs::write(cwd.join("bad.yaml"), &yaml).unwrap();
        let o = mergesearch(cwd, &["search", "bad.yaml"]);
        assert!(!o.status.success(), "{yaml}");
        let err = String::from_utf8_lossy(&o.stderr);
        for n in needles {
            assert!(err.contains(n), "expected `{n}` in:\n{err}");
        }
        assert!(
            !cwd.join("results/bad/study.db").exists(),
            "nothing is created before the study validates"
        );
    }
}

#[test]
fn every_study_config_runs() {
    let ws = common::repo_like_workspace();
    let cwd = ws.path();
    // The zoo studies, each cut to a few trials.
    // The Bayesian ones with a 2-point initial design, so the last 2 trials come from the GP.
    for name in [
        "demo",
        "demo-nsga2",
        "single",
        "demo-bo",
        "tradeoff",
        "four",
        "demo-halving",
    ] {
        let path = cwd.join(format!("configs/{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let budget = text
            .lines()
            .find(|l| l.starts_with("budget:"))
            .unwrap()
            .to_string();
        let text = text
            .replace(&budget, "budget: {trials: 4}")
            .replace("n_init: 10", "n_init: 2");
        std::fs::write(&path, text).unwrap();
        let out = run_ok(cwd, &["search", &format!("configs/{name}.yaml")]);
        assert!(out.contains("4 trials (0 failed"), "{name}:\n{out}");
        assert_eq!(read_trials(&cwd.join("results").join(name)).len(), 4);
    }
    // Own checkpoints with lm-eval-harness: the models are zoo models, and a stand-in
    // `lm_eval` module (first on PYTHONPATH) answers simple_evaluate the way lm-eval does,
    // with a score read from the candidate directory it was given.
    std::fs::create_dir_all(cwd.join("models")).unwrap();
    for (link, model) in [("base", "base"), ("math", "ft-add"), ("code", "ft-sort")] {
        std::os::unix::fs::symlink(test_zoo().join(model), cwd.join("models").join(link)).unwrap();
    }
    let stub = cwd.join("stub/lm_eval");
    std::fs::create_dir_all(&stub).unwrap();
    std::fs::write(
        stub.join("__init__.py"),
        r#"import json, os
def simple_evaluate(model, model_args, tasks, batch_size, limit=None, samples=None):
    path = model_args.split("pretrained=")[1].split(",")[0]
    assert model == "hf" and os.path.exists(os.path.join(path, "model.safetensors"))
    assert (limit == 250) != (samples is not None)
    if samples is not None:
        assert all(samples[t] == list(range(250, 500)) for t in tasks)
    size = os.path.getsize(os.path.join(path, "model.safetensors")) + (samples is not None)
    return {"results": {t: {"alias": t, "acc,none": (size % 97) / 97, "acc_stderr,none": 0.01}
                        for t in tasks}}
"#,
    )
    .unwrap();
    let text = std::fs::read_to_string(cwd.join("configs/own-checkpoints.yaml")).unwrap();
    std::fs::write(
        cwd.join("configs/own-checkpoints.yaml"),
        // The config is written for 32-layer checkpoints; the zoo's models have 4 layers,
        // and a granularity above the layer count is an error (one gene for all layers).
        text.replace(
            "budget: {trials: 100, seconds: 172800}",
            "budget: {trials: 2}",
        )
        .replace("layer_granularity: 8", "layer_granularity: 4"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["search", "configs/own-checkpoints.yaml"])
        .env("PYTHONPATH", cwd.join("stub"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_trials(&cwd.join("results/own-checkpoints"));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["state"], "complete", "{:?}", r.get("error"));
        let v = num(r, "objective:lm_eval/gsm8k");
        assert!((0.0..1.0).contains(&v));
        assert_eq!(v, num(r, "objective:lm_eval/arc_easy"));
    }
    // `{split}` reaches the script: the held-out documents score differently.
    let pareto = std::fs::read_to_string(cwd.join("results/own-checkpoints/pareto.csv")).unwrap();
    let mut lines = pareto.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    let (s, h): (f64, f64) = (
        col("search:lm_eval/gsm8k").parse().unwrap(),
        col("heldout:lm_eval/gsm8k").parse().unwrap(),
    );
    assert!(
        (h - (s + 1.0 / 97.0)).abs() < 1e-9 || h == 0.0,
        "{s} vs {h}"
    );
}

#[test]
fn the_overhead_benchmark_runs() {
    let zoo = test_zoo();
    let out = run_ok(
        &zoo,
        &[
            "bench",
            "study",
            "--trials",
            "5",
            "--zoo",
            zoo.to_str().unwrap(),
        ],
    );
    assert!(out.contains("5 trials (8 genes"), "{out}");
    assert!(out.contains("| max |"), "{out}");
}

#[test]
fn ctrl_c_stops_after_the_running_trial() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("c.yaml"), study_yaml("c", "cmaes", 500)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["search", "c.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while read_trials_if_any(&cwd.join("results/c")) < 3 {
        assert!(t0.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "a clean stop exits 0");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("stopped after") && stdout.contains("--resume"),
        "{stdout}"
    );
    let rows = read_trials(&cwd.join("results/c"));
    assert!(rows.len() < 500);
    assert!(
        rows.iter().all(|r| r["state"] == "complete"),
        "the running trial finished before the stop"
    );
}

/// Data rows of `trials.csv`, 0 while it does not exist yet.
fn read_trials_if_any(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("trials.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}
