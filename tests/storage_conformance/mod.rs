//! The conformance suite every [`Storage`] backend passes (optuna's `StorageTestCase` in
//! spirit): ids, states, snapshot + outcome atomicity, concurrent writers, reopen. A backend's
//! test file calls [`conformance`] with a function that opens a fresh handle on one empty
//! study storage (each call another handle on the same storage).

use mergesearch::study::{MetricMap, NewTrial, Rung, Storage, Trial, TrialState};
use mergesearch::Error;

/// A proposal for trial `id`: genotype `[id, -id]`, snapshot `snap-{id}`.
pub fn proposal(id: u64) -> NewTrial {
    NewTrial {
        genotype: vec![id as f64, -(id as f64)],
        recipe: format!("recipe {id}"),
        seed: 7,
        snapshot: format!("snap-{id}"),
    }
}

/// `t` finished as complete with metric `m = id / 10`.
pub fn completed(t: &Trial) -> Trial {
    let mut t = t.clone();
    let mut m = MetricMap::new();
    m.insert("h/m".into(), (t.id as f64 / 10.0).into());
    t.state = TrialState::Complete;
    t.metrics = Some(m);
    t.objectives = Some(vec![t.id as f64 / 10.0]);
    t.scalar = Some(-(t.id as f64) / 10.0);
    t.feasible = Some(true);
    t.hypervolume = Some(0.5);
    t.seconds = Some(1.5);
    t
}

fn create(s: &mut dyn Storage) -> Trial {
    s.create_trial(&mut |id| Ok(proposal(id))).unwrap()
}

/// Runs every check on the storage that `open` opens.
pub fn conformance(open: &(dyn Fn() -> Box<dyn Storage> + Sync)) {
    let mut s = open();
    // A study that does not exist yet: nothing to read, no trial can be created.
    assert!(!s.exists().unwrap());
    assert_eq!(s.snapshot().unwrap(), None);
    assert!(s.create_trial(&mut |id| Ok(proposal(id))).is_err());
    s.create_study(&[("config", "c: 1".into())], "snap-0")
        .unwrap();
    assert!(s.exists().unwrap());
    assert!(s.create_study(&[], "x").is_err(), "a study is created once");
    assert_eq!(s.meta("config").unwrap().as_deref(), Some("c: 1"));
    assert_eq!(s.meta("absent").unwrap(), None);
    s.set_meta("config", "c: 2").unwrap();
    assert_eq!(s.meta("config").unwrap().as_deref(), Some("c: 2"));
    assert_eq!(s.snapshot().unwrap().as_deref(), Some("snap-0"));

    // Ids: assigned by the storage, 1, 2, 3 …; the snapshot is the one given with the trial.
    let t1 = create(s.as_mut());
    let t2 = create(s.as_mut());
    assert_eq!((t1.id, t2.id), (1, 2));
    assert_eq!(t2.state, TrialState::Running);
    assert_eq!(t2.genotype, vec![2.0, -2.0]);
    assert_eq!(s.snapshot().unwrap().as_deref(), Some("snap-2"));
    // A proposal that fails stores nothing and leaves the snapshot as it was.
    let failed = s.create_trial(&mut |_| Err(Error::model("test", "refused")));
    assert!(failed.is_err());
    assert_eq!(s.trials().unwrap().len(), 2);
    assert_eq!(s.snapshot().unwrap().as_deref(), Some("snap-2"));

    // States: running → complete / failed, once; a finished trial is never overwritten.
    let done = completed(&t1);
    s.finish_trial(&done, "snap-after-1").unwrap();
    assert_eq!(s.snapshot().unwrap().as_deref(), Some("snap-after-1"));
    let again = s.finish_trial(&done, "snap-bad");
    assert!(again.is_err(), "finishing a finished trial is refused");
    assert_eq!(
        s.snapshot().unwrap().as_deref(),
        Some("snap-after-1"),
        "a refused outcome leaves the snapshot as it was (one transaction)"
    );
    assert!(s.restart_trial(1).is_err(), "only running trials restart");
    s.restart_trial(2).unwrap();
    let mut f2 = t2.clone();
    f2.state = TrialState::Failed;
    f2.error = Some("boom".into());
    s.finish_trial(&f2, "snap-after-2").unwrap();
    let mut ghost = completed(&t2);
    ghost.id = 99;
    assert!(s.finish_trial(&ghost, "snap-x").is_err(), "unknown trial");
    assert!(
        s.finish_trial(&t2, "snap-x").is_err(),
        "a running trial is not an outcome"
    );
    let mut held = MetricMap::new();
    held.insert("h/m".into(), 0.25.into());
    s.set_heldout(1, &held).unwrap();
    let stored = s.trials().unwrap();
    assert_eq!(stored.len(), 2);
    let mut want = done.clone();
    want.heldout = Some(held);
    want.started_at = stored[0].started_at;
    assert_eq!(stored[0], want, "a complete trial round-trips");
    assert_eq!(stored[1].state, TrialState::Failed);
    assert_eq!(stored[1].error.as_deref(), Some("boom"));

    // Rungs (successive halving): stored for a running trial with its per-example scores,
    // never overwritten; the outcome of a pruned trial keeps its partial metrics and rungs,
    // and drops the scores (they only serve to resume a running trial).
    let t3 = create(s.as_mut());
    assert_eq!(s.rung_scores(3).unwrap(), vec![]);
    let rung = |k: usize, promoted: bool| Rung {
        rung: k,
        examples: 10 * (k + 1),
        metrics: completed(&t3).metrics.unwrap(),
        scalar: -0.1 * k as f64,
        violation: 0.0,
        promoted,
    };
    s.report_rung(3, &rung(0, true), "[0]").unwrap();
    assert!(
        s.report_rung(3, &rung(0, false), "[9]").is_err(),
        "a rung is stored once"
    );
    s.report_rung(3, &rung(1, false), "[1]").unwrap();
    assert!(
        s.report_rung(1, &rung(0, true), "[0]").is_err(),
        "a finished trial gets no rung"
    );
    assert_eq!(
        s.rung_scores(3).unwrap(),
        vec![(0, "[0]".to_string()), (1, "[1]".to_string())]
    );
    let mut p3 = completed(&t3);
    p3.state = TrialState::Pruned;
    s.finish_trial(&p3, "snap-after-3").unwrap();
    assert_eq!(s.rung_scores(3).unwrap(), vec![]);
    let stored = s.trials().unwrap();
    assert_eq!(stored[2].state, TrialState::Pruned);
    assert_eq!(stored[2].rungs, vec![rung(0, true), rung(1, false)]);
    assert_eq!(stored[2].metrics, p3.metrics);
    assert!(stored[0].rungs.is_empty());

    // Concurrent writers: two handles creating and finishing trials at once get distinct,
    // consecutive ids and lose nothing.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut h = open();
                for _ in 0..25 {
                    let t = create(h.as_mut());
                    let snap = format!("snap-after-{}", t.id);
                    h.finish_trial(&completed(&t), &snap).unwrap();
                }
            });
        }
    });
    let ids: Vec<u64> = s.trials().unwrap().iter().map(|t| t.id).collect();
    assert_eq!(ids, (1..=53).collect::<Vec<_>>());
    assert!(s.trials().unwrap()[3..]
        .iter()
        .all(|t| t.state == TrialState::Complete));

    // Reopen: a new handle sees the same study, trials and snapshot.
    drop(s);
    let r = open();
    assert!(r.exists().unwrap());
    assert_eq!(r.trials().unwrap().len(), 53);
    assert!(r.snapshot().unwrap().unwrap().starts_with("snap-after-"));
}
