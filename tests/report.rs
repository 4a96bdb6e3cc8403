//! `mergesearch report` plots, on a study directory written by hand (no search is run):
//! seven trials with made-up objectives, one failed and one infeasible, stored through
//! `Storage` exactly as the study driver stores them.

mod common;

use std::path::Path;

use common::{mergesearch, write_model, ModelSpec};
use mergesearch::report::write_plots;
use mergesearch::space::SearchSpace;
use mergesearch::study::{
    NewTrial, Objectives, SqliteStorage, Storage, StudyConfig, Trial, TrialState,
};
use mergesearch_evals::{Split, Suite};

/// The made-up trials: id → `(a/accuracy, b/accuracy)`, or `None` for a failed trial.
/// Both objectives are maximized and `a/accuracy ≥ 0.2` is required, so:
/// - trial 5 failed, trial 6 is infeasible (a = 0.1);
/// - trial 1 (0.5, 0.5) and trial 4 (0.4, 0.4) are dominated by trial 7 (0.6, 0.6);
/// - the front is {2: (0.8, 0.3), 3: (0.3, 0.9), 7: (0.6, 0.6)} (no trial beats 2 on a,
///   3 on b, and nothing is ≥ 0.6 on both but 7).
const TRIALS: [(u64, Option<(f64, f64)>); 7] = [
    (1, Some((0.5, 0.5))),
    (2, Some((0.8, 0.3))),
    (3, Some((0.3, 0.9))),
    (4, Some((0.4, 0.4))),
    (5, None),
    (6, Some((0.1, 0.95))),
    (7, Some((0.6, 0.6))),
];
const FRONT: [u64; 3] = [2, 3, 7];
/// Complete trials that satisfy the constraint: 1, 2, 3, 4, 7.
const FEASIBLE: usize = 5;

/// Writes models, an eval suite, `study.yaml` and `study.db` under `root`; returns the
/// study directory. Paths in `study.yaml` are absolute, so any working directory works.
fn write_study(root: &Path) -> std::path::PathBuf {
    let zoo = root.join("zoo");
    // 4 layers at granularity 2: two layer groups per (parameter, model, tensor group).
    for (name, variant) in [("base", 0), ("ft-a", 1), ("ft-b", 2)] {
        write_model(&zoo.join(name), &ModelSpec::new(variant).layers(4));
    }
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for f in ["a.search", "a.heldout", "b.search", "b.heldout"] {
        std::fs::write(
            data.join(format!("{f}.jsonl")),
            "{\"prompt\": \"1+1=\", \"answer\": \"2\"}\n",
        )
        .unwrap();
    }
    let suite = root.join("suite.yaml");
    std::fs::write(
        &suite,
        "harnesses:\n\
         - {type: exact_match, name: a, data: {search: data/a.search.jsonl, heldout: data/a.heldout.jsonl}, max_new_tokens: 4}\n\
         - {type: exact_match, name: b, data: {search: data/b.search.jsonl, heldout: data/b.heldout.jsonl}, max_new_tokens: 4}\n",
    )
    .unwrap();
    let dir = root.join("study");
    std::fs::create_dir_all(&dir).unwrap();
    let z = zoo.display();
    let yaml = format!(
        "name: handmade\n\
         merge:\n  method: ties\n  base_model: {z}/base\n  models: [{z}/ft-a, {z}/ft-b]\n\
         search:\n  layer_granularity: 2\n  filters: [mlp]\n  parameters:\n    weight: {{bounds: [0.0, 1.5]}}\n    density: {{bounds: [0.1, 1.0]}}\n\
         evals: {}\n\
         objectives:\n  - {{metric: a/accuracy}}\n  - {{metric: b/accuracy}}\n\
         constraints:\n  - {{metric: a/accuracy, min: 0.2}}\n\
         searcher: {{type: random}}\n\
         budget: {{trials: 7}}\n",
        suite.display()
    );
    std::fs::write(dir.join("study.yaml"), yaml).unwrap();

    let (_, objectives, space) = load(&dir);
    let mut storage = SqliteStorage::open(&dir.join("study.db"), "handmade").unwrap();
    storage.create_study(&[], "{}").unwrap();
    let mut stored: Vec<Trial> = Vec::new();
    for (id, scores) in TRIALS {
        // Any in-bounds genotype: gene i of trial id at a distinct point of its box.
        let genotype: Vec<f64> = (0..space.dim())
            .map(|i| {
                let (lo, hi) = (space.bounds.lo[i], space.bounds.hi[i]);
                lo + (hi - lo) * (((id as usize * 7 + i * 3) % 10) as f64 / 9.0)
            })
            .collect();
        let running = storage
            .create_trial(&mut |new_id| {
                Ok(NewTrial {
                    genotype: genotype.clone(),
                    recipe: "recipe".into(),
                    seed: new_id,
                    snapshot: "{}".into(),
                })
            })
            .unwrap();
        assert_eq!(running.id, id, "the storage numbers trials 1, 2, …");
        let mut t = Trial {
            id,
            state: TrialState::Failed,
            genotype,
            recipe: "recipe".into(),
            metrics: None,
            objectives: None,
            scalar: None,
            feasible: None,
            error: Some("made up".into()),
            hypervolume: None,
            heldout: None,
            seed: id,
            started_at: 0.0,
            seconds: Some(1.0),
            rungs: Vec::new(),
        };
        if let Some((a, b)) = scores {
            let metrics: serde_json::Map<String, serde_json::Value> =
                serde_json::from_value(serde_json::json!({"a/accuracy": a, "b/accuracy": b}))
                    .unwrap();
            let e = objectives.evaluate(&metrics).unwrap();
            t.state = TrialState::Complete;
            t.error = None;
            t.metrics = Some(metrics);
            t.objectives = Some(e.values);
            t.scalar = Some(e.scalar);
            t.feasible = Some(e.violation == 0.0);
        }
        stored.push(t.clone());
        t.hypervolume = Some(objectives.hypervolume(&stored));
        storage.finish_trial(&t, "{}").unwrap();
    }
    dir
}

/// The stored trials, objectives and space of the study in `dir`, as `report` builds them.
fn load(dir: &Path) -> (Vec<Trial>, Objectives, SearchSpace) {
    let cfg_path = dir.join("study.yaml");
    let cfg = StudyConfig::load(&cfg_path).unwrap();
    let harnesses = Suite::load(&cfg.evals)
        .unwrap()
        .resolve(Split::Search)
        .unwrap();
    let objectives = Objectives::new(&cfg, &harnesses, &cfg_path).unwrap();
    let space = SearchSpace::new(cfg.merge.clone(), cfg.search.clone(), &cfg_path).unwrap();
    let trials = SqliteStorage::open(&dir.join("study.db"), "handmade")
        .map(|s| s.trials().unwrap_or_default())
        .unwrap_or_default();
    (trials, objectives, space)
}

fn read_svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"),
        "{} is not an SVG document",
        path.display()
    );
    text
}

#[test]
fn plots_from_stored_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_study(tmp.path());
    let (trials, objectives, space) = load(&dir);
    assert_eq!(trials.len(), TRIALS.len());
    assert_eq!(objectives.front(&trials), FRONT);

    let paths = write_plots(&dir, &trials, &objectives, &[], &space).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["objectives.svg", "convergence.svg", "coefficients.svg"]
    );
    for p in &paths {
        assert_eq!(p.parent().unwrap(), dir.join("plots"));
        read_svg(p);
    }
    // No temporary files left behind by the atomic writes.
    assert_eq!(std::fs::read_dir(dir.join("plots")).unwrap().count(), 3);

    // The scatter: one circle per feasible complete trial (legend swatches are squares),
    // front markers larger and in the front colour, the infeasible trial a grey cross.
    let scatter = read_svg(&paths[0]);
    let circles: Vec<&str> = scatter.lines().filter(|l| l.contains("<circle")).collect();
    assert_eq!(circles.len(), FEASIBLE, "{circles:#?}");
    let front_marker = |l: &&&str| l.contains("r=\"6\"") && l.contains("fill=\"#D62728\"");
    assert_eq!(circles.iter().filter(front_marker).count(), FRONT.len());
    assert!(circles
        .iter()
        .filter(|l| !front_marker(l))
        .all(|l| l.contains("r=\"4\"") && l.contains("fill=\"#1F77B4\"")));
    assert!(scatter.contains("#7F7F7F"), "no infeasible marker");
    assert!(scatter.contains("a/accuracy (maximize"));
    assert!(scatter.contains("b/accuracy (maximize"));

    // The coefficients: one panel per searched parameter, the front trials named.
    let coefficients = read_svg(&paths[2]);
    for needle in [
        "density per layer",
        "weight per layer",
        "ft-a · mlp",
        "ft-b · rest",
    ] {
        assert!(
            coefficients.contains(needle),
            "no `{needle}` in coefficients.svg"
        );
    }
    for id in FRONT {
        assert!(coefficients.contains(&format!("trial {id}")), "trial {id}");
    }
}

#[test]
fn report_cli_prints_front_and_writes_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = write_study(tmp.path());
    let out = mergesearch(tmp.path(), &["report", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("7 trials (1 failed), Pareto front of 3"),
        "{stdout}"
    );
    let rows: Vec<u64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(rows, FRONT, "{stdout}");
    for name in ["objectives.svg", "convergence.svg", "coefficients.svg"] {
        let path = dir.join("plots").join(name);
        assert!(stdout.contains(&path.display().to_string()), "{stdout}");
        read_svg(&path);
    }

    // Without the models the space cannot be rebuilt: the other two plots are still drawn
    // and the report says why the coefficients are missing.
    std::fs::remove_dir_all(tmp.path().join("zoo")).unwrap();
    std::fs::remove_dir_all(dir.join("plots")).unwrap();
    let out = mergesearch(tmp.path(), &["report", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("no coefficients plot"), "{stdout}");
    assert!(dir.join("plots/objectives.svg").exists());
    assert!(dir.join("plots/convergence.svg").exists());
    assert!(!dir.join("plots/coefficients.svg").exists());
}
