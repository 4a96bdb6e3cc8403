//! Successive halving (`pruner: successive_halving`).
//!
//! First with a harness whose score is a known function of the candidate (a stub model
//! carrying a "level"; example i scores `level + i/1000`), so every rung value, promotion
//! and example scored is checked by hand; then end to end on the test zoo through
//! `mergesearch search`: the stored decisions replay the rule, pruned trials keep their
//! partial metrics, a complete trial's metrics equal a full `mergesearch eval` of its
//! recipe, and a study SIGKILLed between two rungs of a trial resumes without scoring an
//! example of that trial again.

mod common;

use std::sync::Mutex;

use mergesearch::study::halving::trial::{score_in_rungs, Resumed, RungModel, RungScored};
use mergesearch::study::halving::{judge, Ladder, PrunerSpec, Schedule};
use mergesearch::study::objectives::{Objective, Objectives};
use mergesearch::study::Rung;
use mergesearch_evals::{
    CausalLm, Direction, EvalError, Harness, Metrics, ResolvedHarness, Tally, TextTokenizer,
};

/// A "model" that is one number: every logit is its level.
struct Level(f64);

impl CausalLm for Level {
    fn vocab_size(&self) -> usize {
        1
    }
    fn logits(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EvalError> {
        Ok(batch.iter().map(|s| vec![self.0 as f32; s.len()]).collect())
    }
}

/// A tokenizer that maps any text to one token.
struct OneToken;

impl TextTokenizer for OneToken {
    fn encode(&self, _: &str) -> Result<Vec<u32>, EvalError> {
        Ok(vec![0])
    }
    fn decode(&self, _: &[u32]) -> Result<String, EvalError> {
        Ok(String::new())
    }
    fn eos_id(&self) -> Option<u32> {
        None
    }
}

/// The candidate: its level, with the tokenizer.
struct Candidate(Level, OneToken);

impl RungModel for Candidate {
    fn parts(&self) -> Option<(&dyn CausalLm, &dyn TextTokenizer)> {
        Some((&self.0, &self.1))
    }
}

/// `score` (maximized): example i scores `level + i/1000`; records every index it scores.
struct Probe {
    n: usize,
    scored: &'static Mutex<Vec<usize>>,
}

impl Harness for Probe {
    fn name(&self) -> &str {
        "probe"
    }
    fn metric_names(&self) -> &'static [(&'static str, Direction)] {
        &[("score", Direction::Maximize)]
    }
    fn examples(&self) -> usize {
        self.n
    }
    fn score_examples(
        &self,
        model: &dyn CausalLm,
        _: &dyn TextTokenizer,
        indices: &[usize],
    ) -> Result<Vec<Vec<f64>>, EvalError> {
        let level = f64::from(model.logits(&[vec![0]])?[0][0]);
        self.scored.lock().unwrap().extend_from_slice(indices);
        Ok(indices
            .iter()
            .map(|&i| vec![level + i as f64 / 1000.0])
            .collect())
    }
    fn metrics(&self, tally: &Tally) -> Result<Metrics, EvalError> {
        let mut m = Metrics::new();
        m.push(
            "score",
            tally.totals()[0] / tally.len() as f64,
            Direction::Maximize,
        );
        Ok(m)
    }
}

fn objectives() -> Objectives {
    Objectives {
        objectives: vec![Objective {
            metric: "probe/score".into(),
            direction: Direction::Maximize,
            weight: 1.0,
        }],
        constraints: Vec::new(),
        reference: None,
    }
}

/// The expected rung value of `level` once `scored` examples are in: `level` plus the mean
/// of their `i/1000` (every trial at a rung has the same examples, so the offsets never
/// reorder two levels).
fn expected(level: f64, scored: &[usize]) -> f64 {
    // The level travels as an f32 logit.
    let level = f64::from(level as f32);
    scored
        .iter()
        .map(|&i| level + i as f64 / 1000.0)
        .sum::<f64>()
        / scored.len() as f64
}

/// What [`run_trial`] gives: the rungs judged (with their per-example scores), and the
/// trial's final (metric, pruned) or error.
type TrialRun = (Vec<(Rung, String)>, Result<(f64, bool), String>);

/// Runs one trial of `level` through its rungs; `judge` is the driver's judgement. Returns
/// its rungs and final (metric, pruned).
fn run_trial(
    level: f64,
    harnesses: &[ResolvedHarness],
    schedule: &Schedule,
    ladder: &mut Ladder,
    resumed: Resumed,
    stop_after: Option<usize>,
) -> TrialRun {
    let mut rungs = Vec::new();
    let o = objectives();
    let mut judge_fn = |s: RungScored| -> mergesearch::Result<bool> {
        let rung = judge(&o, schedule, ladder, &s)?;
        let promoted = rung.promoted;
        let k = rung.rung;
        rungs.push((rung, s.scores));
        if stop_after == Some(k) {
            return Err(mergesearch::Error::model("test", "killed"));
        }
        Ok(promoted)
    };
    let done = score_in_rungs(
        "trial",
        || Ok(Candidate(Level(level), OneToken)),
        harnesses,
        schedule,
        resumed,
        &mut judge_fn,
    );
    let out = done
        .map(|d| (d.metrics["probe/score"].as_f64().unwrap(), d.pruned))
        .map_err(|e| e.to_string());
    (rungs, out)
}

/// One [`Probe`] harness of 30 examples recording into `scored`, and the rungs of
/// min_fraction 1/9, η = 3: they end at ⌈30/9⌉ = 4, ⌈30/3⌉ = 10 and 30 examples.
fn probe_setup(scored: &'static Mutex<Vec<usize>>) -> (Vec<ResolvedHarness>, Schedule) {
    let n = 30;
    let harnesses = vec![ResolvedHarness::Model(Box::new(Probe { n, scored }))];
    let spec = PrunerSpec::SuccessiveHalving {
        min_fraction: 1.0 / 9.0,
        reduction_factor: 3,
    };
    (harnesses, Schedule::new(&spec, &[n], 11))
}

#[test]
fn promotions_are_the_top_third_of_each_rung_and_no_example_is_scored_twice() {
    static SCORED: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let (harnesses, schedule) = probe_setup(&SCORED);
    assert_eq!(
        (0..3).map(|r| schedule.examples(r)).collect::<Vec<_>>(),
        [4, 10, 30]
    );
    let prefix = |r: usize| -> Vec<usize> {
        (0..=r)
            .flat_map(|k| schedule.added(k, 0).to_vec())
            .collect()
    };
    // Trials one after another, each through its rungs before the next starts. With k =
    // max(⌊n/3⌋, 1) over the n values reported at a rung so far (its own included), a trial
    // goes on iff its value is among the k best:
    //   rung 0: 0.5 (n=1 go) 0.7 (n=2, best go) 0.6 (n=3 k=1 stop) 0.4 (stop) 0.8 (go)
    //           0.65 (n=6 k=2: 0.8 0.7 → stop) 0.75 (n=7 k=2: 0.8 0.75 → go) 0.3 (stop)
    //           0.7 (n=9 k=3: 0.8 0.75 0.7 → go, ties go on)
    //   rung 1: 0.5 (n=1 go) 0.7 (n=2 go) 0.8 (n=3 go) 0.75 (n=4 k=1: 0.8 → stop)
    //           0.7 (n=5 k=1 → stop)
    // Last rung reached: 2 2 0 0 2 0 1 0 1.
    let levels = [0.5, 0.7, 0.6, 0.4, 0.8, 0.65, 0.75, 0.3, 0.7];
    let want_last = [2, 2, 0, 0, 2, 0, 1, 0, 1];
    let mut ladder = Ladder::new(3);
    let mut total = 0;
    for (&level, &last) in levels.iter().zip(&want_last) {
        SCORED.lock().unwrap().clear();
        let (rungs, out) = run_trial(
            level,
            &harnesses,
            &schedule,
            &mut ladder,
            Resumed::default(),
            None,
        );
        let (value, pruned) = out.unwrap();
        assert_eq!(rungs.len(), last + 1, "level {level}: rungs reached");
        assert_eq!(pruned, last < 2, "level {level}");
        // The partial metric is that of the examples scored, and the trial's metric is its
        // last rung's: a pruned trial keeps its partial metrics.
        for (r, _) in &rungs {
            let got = r.metrics["probe/score"].as_f64().unwrap();
            let want = expected(level, &prefix(r.rung));
            assert!(
                (got - want).abs() < 1e-12,
                "level {level} rung {}: {got} vs {want}",
                r.rung
            );
            assert_eq!(r.scalar, -r.metrics["probe/score"].as_f64().unwrap());
            assert_eq!(r.examples, schedule.examples(r.rung));
        }
        assert_eq!(
            value,
            rungs[last].0.metrics["probe/score"].as_f64().unwrap()
        );
        // Exactly the examples of the rungs reached, each once.
        let mut scored = SCORED.lock().unwrap().clone();
        assert_eq!(scored, prefix(last), "level {level}: scored in rung order");
        scored.sort_unstable();
        scored.dedup();
        assert_eq!(scored.len(), schedule.examples(last));
        total += scored.len();
    }
    // 3 complete × 30 + 4 pruned at rung 0 × 4 + 2 pruned at rung 1 × 10.
    assert_eq!(total, 126);
}

#[test]
fn a_trial_interrupted_between_rungs_resumes_without_scoring_an_example_again() {
    static SCORED: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let (harnesses, schedule) = probe_setup(&SCORED);
    // Uninterrupted: one trial goes through all three rungs (it is alone at each).
    let (all, out) = run_trial(
        0.6,
        &harnesses,
        &schedule,
        &mut Ladder::new(3),
        Resumed::default(),
        None,
    );
    let full = out.unwrap();
    assert_eq!((all.len(), full.1), (3, false));
    // Interrupted after rung 1 was stored (the process died while scoring rung 2).
    SCORED.lock().unwrap().clear();
    let mut ladder = Ladder::new(3);
    let (stored, out) = run_trial(
        0.6,
        &harnesses,
        &schedule,
        &mut ladder,
        Resumed::default(),
        Some(1),
    );
    assert!(out.unwrap_err().contains("killed"));
    assert_eq!(stored.len(), 2);
    let before: Vec<usize> = SCORED.lock().unwrap().clone();
    assert_eq!(before.len(), 10);
    // Resumed from what was stored: only rung 2's 20 examples are scored, and the outcome
    // is the uninterrupted one.
    SCORED.lock().unwrap().clear();
    let resumed = Resumed {
        rungs: stored.iter().map(|(r, _)| r.clone()).collect(),
        scores: stored.iter().map(|(r, s)| (r.rung, s.clone())).collect(),
    };
    let (rest, out) = run_trial(0.6, &harnesses, &schedule, &mut ladder, resumed, None);
    assert_eq!(out.unwrap(), full);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0.rung, 2);
    let after: Vec<usize> = SCORED.lock().unwrap().clone();
    assert_eq!(after, schedule.added(2, 0));
    assert!(after.iter().all(|i| !before.contains(i)));
    // A trial whose last stored rung was a pruning is finished from storage alone.
    SCORED.lock().unwrap().clear();
    let mut pruned = stored[0].0.clone();
    pruned.promoted = false;
    let (none, out) = run_trial(
        0.6,
        &harnesses,
        &schedule,
        &mut ladder,
        Resumed {
            rungs: vec![pruned.clone()],
            scores: vec![(0, stored[0].1.clone())],
        },
        None,
    );
    assert!(none.is_empty());
    assert_eq!(
        out.unwrap(),
        (pruned.metrics["probe/score"].as_f64().unwrap(), true)
    );
    assert!(SCORED.lock().unwrap().is_empty());
    // Scores that do not match the stored rungs are an error, never a rescoring.
    let (_, out) = run_trial(
        0.6,
        &harnesses,
        &schedule,
        &mut ladder,
        Resumed {
            rungs: vec![stored[0].0.clone()],
            scores: vec![],
        },
        None,
    );
    assert!(out.unwrap_err().contains("missing"));
}

/// The demo-like study of `common::study` with successive halving (rungs at 12 / 36 / 48
/// examples per task) and no baseline (they are not what is tested here).
fn pruned_study(name: &str, trials: usize) -> String {
    common::study::study_yaml(name, "cmaes", trials)
        + "pruner: {type: successive_halving, min_fraction: 0.25, reduction_factor: 3}\nbaselines: []\n"
}

/// Every stored rung, in the order they were reported: (trial, rung, examples, metrics,
/// scalar, violation, promoted).
type RungRow = (u64, usize, usize, String, f64, f64, bool);

fn rung_rows(db: &std::path::Path) -> Vec<RungRow> {
    try_rung_rows(db).unwrap()
}

/// [`rung_rows`], or the error of a database still being created.
fn try_rung_rows(db: &std::path::Path) -> rusqlite::Result<Vec<RungRow>> {
    let c = rusqlite::Connection::open(db)?;
    let mut stmt = c.prepare(
        "SELECT trial, rung, examples, metrics, scalar, violation, promoted FROM rungs
         ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)? as u64,
            r.get::<_, i64>(1)? as usize,
            r.get::<_, i64>(2)? as usize,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    rows.collect()
}

/// The stored decisions are the rule replayed over the rungs in the order they were
/// reported; each trial's state and metrics follow from its last rung.
fn check_rungs(dir: &std::path::Path) -> Vec<mergesearch::study::Trial> {
    use mergesearch::study::{SqliteStorage, Storage, TrialState};
    let rows = rung_rows(&dir.join("study.db"));
    let mut ladder = Ladder::new(3);
    for (id, rung, _, _, scalar, violation, promoted) in &rows {
        let want = *rung < 2 && ladder.promote(*rung, (*violation, *scalar));
        assert_eq!(*promoted, want, "trial {id} rung {rung}");
    }
    let trials = SqliteStorage::open_read_only(&dir.join("study.db"), "sh")
        .unwrap()
        .trials()
        .unwrap();
    for t in &trials {
        let last = t.rungs.last().expect("every trial reports rungs");
        assert_eq!(
            t.rungs.iter().map(|r| r.rung).collect::<Vec<_>>(),
            (0..=last.rung).collect::<Vec<_>>()
        );
        assert_eq!(last.examples, [48, 144, 192][last.rung], "trial {}", t.id);
        let state = if last.rung == 2 {
            TrialState::Complete
        } else {
            TrialState::Pruned
        };
        assert_eq!(t.state, state, "trial {}", t.id);
        assert_eq!(t.metrics.as_ref(), Some(&last.metrics), "trial {}", t.id);
        assert_eq!(t.scalar, Some(last.scalar), "trial {}", t.id);
    }
    trials
}

#[test]
fn a_pruned_study_follows_the_rule_and_its_complete_trials_equal_a_full_evaluation() {
    use mergesearch::study::TrialState;
    let ws = common::study::workspace();
    std::fs::write(ws.path().join("sh.yaml"), pruned_study("sh", 12)).unwrap();
    let out = common::study::run_ok(ws.path(), &["search", "sh.yaml", "--out", "sh"]);
    let dir = ws.path().join("sh");
    let trials = check_rungs(&dir);
    assert_eq!(trials.len(), 12);
    let pruned = trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .count();
    assert!(pruned > 0 && pruned < 12, "{pruned} of 12 pruned");
    assert!(
        out.contains("pruned) in") && out.contains("examples scored: "),
        "{out}"
    );
    // trials.csv: the state, the last rung and the examples scored.
    for row in common::study::read_trials(&dir) {
        let t = &trials[row["trial"].parse::<usize>().unwrap() - 1];
        let last = t.rungs.last().unwrap();
        assert_eq!(row["state"], t.state.as_str());
        assert_eq!(row["rung"], last.rung.to_string());
        assert_eq!(row["examples"], last.examples.to_string());
    }
    // A complete trial was scored rung by rung in the seeded order; its metrics are those
    // of one full evaluation of its recipe, exactly.
    let t = trials
        .iter()
        .find(|t| t.state == TrialState::Complete)
        .unwrap();
    std::fs::write(ws.path().join("recipe.yaml"), &t.recipe).unwrap();
    let full = common::eval_metrics(ws.path(), "recipe.yaml", "zoo/evals.yaml", "search");
    let stored: std::collections::BTreeMap<String, f64> = t
        .metrics
        .as_ref()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect();
    assert_eq!(stored, full, "trial {}", t.id);
    // Three trials at a time: rungs reach the driver in whatever order the threads finish
    // them, and each is judged against the rungs reported before it.
    common::study::run_ok(
        ws.path(),
        &["search", "sh.yaml", "--out", "sh3", "--parallel", "3"],
    );
    assert_eq!(check_rungs(&ws.path().join("sh3")).len(), 12);
}

#[test]
fn a_study_killed_between_two_rungs_resumes_without_rescoring() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let ws = common::study::workspace();
    std::fs::write(ws.path().join("sh.yaml"), pruned_study("sh", 30)).unwrap();
    let dir = ws.path().join("sh");
    let db = dir.join("study.db");
    // Trials running with at least one stored rung (a study killed between two rungs).
    let mid_trial = || -> Vec<RungRow> {
        if !db.exists() {
            return Vec::new();
        }
        let c = rusqlite::Connection::open(&db).unwrap();
        let running: Vec<i64> = c
            .prepare("SELECT id FROM trials WHERE state = 'running'")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()
            })
            .unwrap_or_default();
        try_rung_rows(&db)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| running.contains(&(r.0 as i64)))
            .collect()
    };
    let mut caught = Vec::new();
    for attempt in 0..5 {
        let mut args = vec!["search", "sh.yaml", "--out", "sh"];
        if attempt > 0 {
            args.push("--resume");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
            .current_dir(ws.path())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while mid_trial().is_empty() && t0.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // The trial may have finished between the look and the kill: try again.
        caught = mid_trial();
        if !caught.is_empty() {
            break;
        }
    }
    assert!(!caught.is_empty(), "never killed a trial between two rungs");
    let out = common::study::run_ok(ws.path(), &["search", "sh.yaml", "--out", "sh", "--resume"]);
    assert!(out.contains("30 trials"), "{out}");
    // The rungs stored before the kill are still there, unchanged, and the resumed run
    // stored only the rungs after them (storing one again is refused, so a rescored rung
    // would have failed the resume).
    let after = rung_rows(&db);
    for row in &caught {
        assert!(
            after.contains(row),
            "rung {} of trial {} changed",
            row.1,
            row.0
        );
    }
    let trials = check_rungs(&dir);
    assert_eq!(trials.len(), 30);
    assert!(trials.iter().all(|t| t.state.is_finished()));
}
