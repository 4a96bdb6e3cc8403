//! Baselines of a study: scored once on both splits (values equal to `mergesearch eval` of the
//! same recipe), stored so a killed and resumed study never scores them again, shown by
//! `search`, `report` (table rows, scatter markers) and `pareto.csv`.

mod common;

use std::path::Path;

use common::study::{run_ok, search_killed_after, study_yaml, workspace};

/// The objectives of `target` (a directory or merge config) from `mergesearch eval --json`.
fn eval(cwd: &Path, target: &str, split: &str) -> (f64, f64) {
    let out = run_ok(
        cwd,
        &[
            "eval",
            target,
            "--evals",
            "zoo/evals.yaml",
            "--split",
            split,
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = &v["metrics"];
    (
        m["add/accuracy"].as_f64().unwrap(),
        m["sort/accuracy"].as_f64().unwrap(),
    )
}

fn with_baselines(name: &str, trials: usize) -> String {
    study_yaml(name, "random", trials).replace(
        "seed: 0\n",
        "seed: 0
baselines:
  - {name: ta-0.5, method: task_arithmetic, parameters: {weight: 0.5}}
  - {name: ft-add, model: zoo/ft-add}
  - name: linear
    merge: {merge_method: linear, models: [{model: zoo/ft-add, parameters: {weight: 1}}, {model: zoo/ft-sort, parameters: {weight: 1}}], dtype: float32}
",
    )
}

/// A row `| baseline NAME | s1 | h1 | s2 | h2 |` of a printed table, as numbers.
fn row(out: &str, name: &str) -> Vec<f64> {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("| baseline {name} |")))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{out}"));
    line.split('|')
        .skip(2)
        .filter_map(|c| c.trim().parse().ok())
        .collect()
}

#[test]
fn baselines_are_scored_once_and_shown_everywhere() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("s.yaml"), with_baselines("s", 3)).unwrap();
    let o = common::mergesearch(cwd, &["search", "s.yaml"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    for n in ["ta-0.5", "ft-add", "linear"] {
        assert!(
            err.contains(&format!("baseline {n}: ")) && err.contains("(scored)"),
            "{err}"
        );
    }
    // Independent check: `mergesearch eval` of the same recipes on both splits.
    std::fs::write(
        cwd.join("ta.yaml"),
        "merge_method: task_arithmetic\nbase_model: zoo/base\nmodels: [{model: zoo/ft-add}, {model: zoo/ft-sort}]\nparameters: {weight: 0.5}\ndtype: float32\n",
    )
    .unwrap();
    for (name, target) in [("ta-0.5", "ta.yaml"), ("ft-add", "zoo/ft-add")] {
        let (s, h) = (eval(cwd, target, "search"), eval(cwd, target, "heldout"));
        // The table prints 4 decimals.
        let expected = [s.0, h.0, s.1, h.1];
        let got = row(&out, name);
        assert_eq!(got.len(), 4, "{name}");
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() <= 5e-5,
                "{name}: table {got:?}, eval {expected:?}"
            );
        }
    }
    // Resumed with a larger budget: the baselines come from the storage, not scored again.
    std::fs::write(cwd.join("s.yaml"), with_baselines("s", 4)).unwrap();
    let o = common::mergesearch(cwd, &["search", "s.yaml", "--resume"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("(stored)").count(), 3, "{err}");
    assert!(!err.contains("(scored)"), "{err}");
    // `report`: the same rows, and the markers in the objectives plot.
    let rep = run_ok(cwd, &["report", "results/s"]);
    assert_eq!(row(&rep, "ta-0.5"), row(&out, "ta-0.5"));
    let svg = std::fs::read_to_string(cwd.join("results/s/plots/objectives.svg")).unwrap();
    assert!(svg.contains("ta-0.5") && svg.contains("linear") && svg.contains("baseline"));
    // `pareto.csv`: each front trial lists exactly the baselines it dominates.
    let mut r = csv::Reader::from_path(cwd.join("results/s/pareto.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert!(header.contains(&"dominates".to_string()));
    assert!(header.contains(&"dominates_heldout".to_string()));
    let ta = eval(cwd, "ta.yaml", "search");
    let ta = [ta.0, f64::NAN, ta.1];
    for rec in r.records() {
        let rec = rec.unwrap();
        let get = |k: &str| rec[header.iter().position(|h| h == k).unwrap()].to_string();
        let (a, s): (f64, f64) = (
            get("search:add/accuracy").parse().unwrap(),
            get("search:sort/accuracy").parse().unwrap(),
        );
        // Both maximized: dominance = no worse in both, better in one.
        let dom = a >= ta[0] && s >= ta[2] && (a > ta[0] || s > ta[2]);
        assert_eq!(
            get("dominates").split(';').any(|n| n == "ta-0.5"),
            dom,
            "trial {} ({a}, {s}) vs ta-0.5 ({}, {})",
            get("trial"),
            ta[0],
            ta[2]
        );
    }
}

#[test]
fn baselines_survive_a_kill() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("k.yaml"), with_baselines("k", 30)).unwrap();
    search_killed_after(
        cwd,
        "k.yaml",
        &cwd.join("results/k"),
        1,
        std::time::Duration::ZERO,
    );
    let o = common::mergesearch(cwd, &["search", "k.yaml", "--resume"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("(stored)").count(), 3, "{err}");
}

#[test]
fn the_default_baseline_and_turning_it_off() {
    let ws = workspace();
    let cwd = ws.path();
    std::fs::write(cwd.join("d.yaml"), study_yaml("d", "random", 2)).unwrap();
    let o = common::mergesearch(cwd, &["search", "d.yaml"]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        err.contains("(the default; `baselines: []` turns it off)"),
        "{err}"
    );
    assert!(out.contains("| baseline task_arithmetic(0.3) |"), "{out}");
    std::fs::write(
        cwd.join("n.yaml"),
        study_yaml("n", "random", 2).replace("seed: 0\n", "seed: 0\nbaselines: []\n"),
    )
    .unwrap();
    let o = common::mergesearch(cwd, &["search", "n.yaml"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("baseline"));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("baseline"));
}

#[test]
fn bad_baselines_are_refused_naming_the_entry() {
    let ws = workspace();
    let cwd = ws.path();
    let cases = [
        (
            "baselines: [{name: a, model: zoo/ft-add}, {name: a, model: zoo/ft-sort}]",
            "baselines[1].name",
        ),
        (
            "baselines: [{name: b, model: zoo/ft-add, method: ties}]",
            "baselines[0]",
        ),
        (
            "baselines: [{name: c, method: task_arithmetic, parameters: {wieght: 1}}]",
            "wieght",
        ),
        (
            "baselines: [{name: 'x y', model: zoo/ft-add}]",
            "baselines[0].name",
        ),
    ];
    for (i, (yaml, key)) in cases.iter().enumerate() {
        let file = format!("b{i}.yaml");
        std::fs::write(
            cwd.join(&file),
            study_yaml("bad", "random", 2).replace("seed: 0\n", &format!("seed: 0\n{yaml}\n")),
        )
        .unwrap();
        let o = common::mergesearch(cwd, &["search", &file]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} accepted");
        assert!(err.contains(key), "case {i}: `{key}` not in {err}");
        assert!(!cwd.join("results/bad").exists());
    }
}

/// The length of the first array under key `key` anywhere in `v`.
fn array_len(v: &serde_json::Value, key: &str) -> Option<usize> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .and_then(|a| a.as_array().map(Vec::len))
            .or_else(|| m.values().find_map(|x| array_len(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| array_len(x, key)),
        _ => None,
    }
}

/// `enqueue:` points are the study's first trials, in order, with the genes they set (the
/// rest at `init`), and the searcher is told them: a `bo` study's model holds every finished
/// trial, the enqueued ones included.
#[test]
fn enqueued_points_are_the_first_trials_and_are_told() {
    let ws = workspace();
    let cwd = ws.path();
    let yaml = study_yaml("e", "bo", 4).replace(
        "seed: 0\n",
        "seed: 0\nbaselines: []\nenqueue:\n  - {weight: 0.8}\n  - {weight: {ft-add: 1.2, ft-sort: 0.1}}\n",
    );
    std::fs::write(cwd.join("e.yaml"), yaml).unwrap();
    run_ok(cwd, &["search", "e.yaml"]);
    let rows = common::study::read_trials(&cwd.join("results/e"));
    assert_eq!(rows.len(), 4);
    let genes = |r: &std::collections::BTreeMap<String, String>, model: &str| -> Vec<f64> {
        r.iter()
            .filter(|(k, _)| k.starts_with(&format!("gene:weight[{model}]")))
            .map(|(_, v)| v.parse().unwrap())
            .collect()
    };
    assert_eq!(rows[0]["trial"], "1");
    assert!(genes(&rows[0], "ft-add").iter().all(|&v| v == 0.8));
    assert!(genes(&rows[0], "ft-sort").iter().all(|&v| v == 0.8));
    assert!(genes(&rows[1], "ft-add").iter().all(|&v| v == 1.2));
    assert!(genes(&rows[1], "ft-sort").iter().all(|&v| v == 0.1));
    assert_eq!(
        genes(&rows[0], "ft-add").len(),
        2,
        "layer_granularity 2 of 4 layers"
    );
    // The stored snapshot: nothing pending, and all four trials in the GP's data.
    let (_, storage) = mergesearch::study::open_read_only(&cwd.join("results/e")).unwrap();
    use mergesearch::study::Storage;
    let snap: serde_json::Value =
        serde_json::from_str(&storage.snapshot().unwrap().unwrap()).unwrap();
    assert_eq!(array_len(&snap, "observed"), Some(4), "{snap}");
}

#[test]
fn bad_enqueue_entries_are_refused_naming_them() {
    let ws = workspace();
    let cwd = ws.path();
    for (i, (entry, key)) in [
        ("{density: 0.5}", "enqueue[0].density"),
        ("{weight: {ft-nope: 0.5}}", "enqueue[0].weight.ft-nope"),
        ("{weight: 9.0}", "enqueue[0].weight: 9"),
    ]
    .iter()
    .enumerate()
    {
        let file = format!("q{i}.yaml");
        std::fs::write(
            cwd.join(&file),
            study_yaml("q", "cmaes", 2)
                .replace("seed: 0\n", &format!("seed: 0\nenqueue: [{entry}]\n")),
        )
        .unwrap();
        let o = common::mergesearch(cwd, &["search", &file]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} accepted");
        assert!(err.contains(key), "case {i}: `{key}` not in {err}");
    }
}
