//! The conformance checks every searcher must pass (STYLE.md §6, after optuna's
//! `BasicSamplerTestCase`): stays in bounds; same seed → same asks, another seed → other asks;
//! failed, NaN and malformed outcomes do no harm; snapshot round trip with pending trials →
//! identical next asks; out-of-order tells with several trials pending (and gaps in the ids)
//! stay in bounds and match a twin told in the same order; unknown ids, double tells and
//! double asks are errors that leave the state unchanged. Each check runs on a one-objective
//! problem and on a two-objective problem (one maximized) with a constraint. The checks for
//! gradient searchers are in [`gradient`].

#![allow(dead_code)]

pub mod gradient;

use mergesearch_searchers::{
    functions, AnySearcher, Bounds, Outcome, Problem, SearchError, Searcher, Sense,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A lopsided box, so coordinates with different widths are exercised.
pub fn test_box(d: usize) -> Bounds {
    let lo: Vec<f64> = (0..d).map(|i| -1.0 - i as f64).collect();
    let hi: Vec<f64> = (0..d).map(|i| 2.0 + 0.5 * i as f64).collect();
    Bounds::new(lo, hi).unwrap()
}

/// One minimized objective over `test_box(d)`.
pub fn single(d: usize) -> Problem {
    Problem::single(test_box(d))
}

/// Two objectives over `test_box(d)` — the sphere (minimized) and `1 − sphere of x − 1`
/// (maximized) — and one constraint `x₀ ≥ 0`.
pub fn constrained(d: usize) -> Problem {
    Problem::new(
        test_box(d),
        vec![Sense::Minimize, Sense::Maximize],
        vec![1.0, 0.5],
        Some(vec![100.0, -100.0]),
        1,
    )
    .unwrap()
}

/// The outcome of trial `trial` at `x` for `problem` (one of [`single`], [`constrained`]):
/// failed for every 7th trial, a NaN objective for every 11th, otherwise scored.
pub fn outcome(problem: &Problem, x: &[f64], trial: u64) -> Outcome {
    if trial % 7 == 3 {
        return Outcome::Failed;
    }
    let mut objectives = vec![functions::sphere(x)];
    if problem.objectives() == 2 {
        let shifted: Vec<f64> = x.iter().map(|v| v - 1.0).collect();
        objectives.push(1.0 - functions::sphere(&shifted));
    }
    if trial % 11 == 5 {
        objectives[0] = f64::NAN;
    }
    let violations = (0..problem.constraints).map(|_| (-x[0]).max(0.0)).collect();
    Outcome::Scored {
        objectives,
        violations,
    }
}

/// Asks trials `ids` in that order; returns their points.
pub fn ask_ids<S: Searcher + ?Sized>(s: &mut S, ids: &[u64]) -> Vec<Vec<f64>> {
    ids.iter()
        .map(|&t| s.ask(t).unwrap_or_else(|e| panic!("ask {t}: {e}")))
        .collect()
}

/// Tells trials `ids` (with points `xs`) their [`outcome`], in the order of `order`
/// (indices into `ids`).
pub fn tell_ids<S: Searcher + ?Sized>(s: &mut S, ids: &[u64], xs: &[Vec<f64>], order: &[usize]) {
    let problem = s.problem().clone();
    for &k in order {
        let o = outcome(&problem, &xs[k], ids[k]);
        s.tell(ids[k], &o)
            .unwrap_or_else(|e| panic!("tell {}: {e}", ids[k]));
    }
}

/// Asks the next `n` trials (ids `*next..`) and tells them in order; returns their points.
pub fn step<S: Searcher + ?Sized>(s: &mut S, next: &mut u64, n: usize) -> Vec<Vec<f64>> {
    let ids: Vec<u64> = (*next..*next + n as u64).collect();
    *next += n as u64;
    let xs = ask_ids(s, &ids);
    tell_ids(s, &ids, &xs, &(0..n).collect::<Vec<_>>());
    xs
}

/// Runs `rounds` of ask(batch)/tell-in-order from trial id `*next` on; returns every point.
pub fn drive<S: Searcher + ?Sized>(
    s: &mut S,
    next: &mut u64,
    rounds: usize,
    batch: usize,
) -> Vec<Vec<f64>> {
    let mut all = Vec::new();
    for _ in 0..rounds {
        all.extend(step(s, next, batch));
    }
    all
}

/// A seeded permutation of `0..n`.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    p
}

fn snapshot(s: &AnySearcher) -> String {
    serde_json::to_string(s).unwrap()
}

/// The shared checks; `make(problem, seed)` builds a fresh searcher for `problem`. Every
/// check runs on [`single`]`(4)` and on [`constrained`]`(4)`.
pub fn conformance(make: impl Fn(Problem, u64) -> AnySearcher) {
    for problem in [single(4), constrained(4)] {
        conformance_on(&problem, |seed| make(problem.clone(), seed));
    }
}

fn conformance_on(problem: &Problem, make: impl Fn(u64) -> AnySearcher) {
    let b = &problem.bounds;
    assert_eq!(make(1).problem(), problem);
    assert_eq!(make(1).dim(), b.dim());

    // In bounds, with odd batch sizes that straddle generations.
    let mut s = make(1);
    let mut next = 0;
    for batch in [1, 3, 7, 2, 13, 5] {
        for x in drive(&mut s, &mut next, 4, batch) {
            assert!(b.contains(&x), "{x:?} outside the box");
        }
    }
    assert!(s.pending().is_empty());

    // Same seed → same asks; another seed → other asks.
    let run = |seed| drive(&mut make(seed), &mut 0, 10, 6);
    let a = run(42);
    assert_eq!(a, run(42));
    assert_ne!(a, run(43));

    // Nothing but failures, NaNs and malformed outcomes: asks go on, finite and in the box.
    let mut s = make(5);
    let m = problem.objectives();
    let junk = [
        Outcome::Failed,
        Outcome::Scored {
            objectives: vec![f64::NAN; m],
            violations: vec![0.0; problem.constraints],
        },
        Outcome::Scored {
            objectives: vec![1.0; m],
            violations: vec![f64::INFINITY; problem.constraints],
        },
        Outcome::Scored {
            objectives: vec![1.0; m + 1],
            violations: vec![0.0; problem.constraints],
        },
        Outcome::Scored {
            objectives: vec![f64::NEG_INFINITY; m],
            violations: vec![0.0; problem.constraints],
        },
    ];
    for t in 0..200u64 {
        let x = s.ask(t).unwrap();
        assert!(b.contains(&x) && x.iter().all(|v| v.is_finite()), "{x:?}");
        s.tell(t, &junk[t as usize % junk.len()]).unwrap();
    }

    // Snapshot round trip with trials pending (asked past a generation, none told) →
    // identical future asks, and the same pending ids.
    let mut s = make(7);
    let mut next = 0;
    drive(&mut s, &mut next, 5, 4);
    let ids: Vec<u64> = (next..next + 23).collect();
    next += 23;
    let xs = ask_ids(&mut s, &ids);
    let mut r: AnySearcher = serde_json::from_str(&snapshot(&s)).unwrap();
    assert_eq!(r.pending(), ids);
    let order = shuffled(ids.len(), 1);
    tell_ids(&mut s, &ids, &xs, &order);
    tell_ids(&mut r, &ids, &xs, &order);
    let mut next_r = next;
    assert_eq!(
        drive(&mut s, &mut next, 20, 5),
        drive(&mut r, &mut next_r, 20, 5)
    );
    assert_eq!(snapshot(&s), snapshot(&r));

    // Out-of-order tells with several trials pending, ids with gaps and asked in no
    // particular order: still in bounds, `pending` tracks the ids, and a twin told in the
    // same order asks the same points.
    let (mut s, mut t) = (make(11), make(11));
    for round in 0..6u64 {
        let mut ids: Vec<u64> = (0..30u64).map(|k| 1000 * round + 3 * k + 7).collect();
        ids.reverse();
        ids.swap(3, 17);
        let xs = ask_ids(&mut s, &ids);
        assert_eq!(xs, ask_ids(&mut t, &ids));
        for x in &xs {
            assert!(b.contains(x), "{x:?} outside the box");
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(s.pending(), sorted);
        // Tell all but the last 4 (in shuffled order); they stay pending into the next round.
        let order = shuffled(ids.len(), round);
        let (now, later) = order.split_at(ids.len() - 4);
        tell_ids(&mut s, &ids, &xs, now);
        tell_ids(&mut t, &ids, &xs, now);
        let mut left: Vec<u64> = later.iter().map(|&k| ids[k]).collect();
        left.sort_unstable();
        assert_eq!(s.pending(), left);
        tell_ids(&mut s, &ids, &xs, later);
        tell_ids(&mut t, &ids, &xs, later);
        assert!(s.pending().is_empty());
    }
    assert_eq!(snapshot(&s), snapshot(&t));

    // Unknown ids, double tells and double asks are errors that change nothing.
    let mut s = make(13);
    let mut next = 0;
    drive(&mut s, &mut next, 3, 5);
    let xs = ask_ids(&mut s, &[100, 101]);
    s.tell(100, &outcome(problem, &xs[0], 100)).unwrap();
    let before = snapshot(&s);
    let o = Outcome::Failed;
    assert!(matches!(s.tell(99, &o), Err(SearchError::UnknownTrial(99))));
    assert!(matches!(
        s.tell(100, &o),
        Err(SearchError::AlreadyTold(100))
    ));
    assert!(matches!(s.tell(3, &o), Err(SearchError::AlreadyTold(3))));
    assert!(matches!(s.ask(101), Err(SearchError::AlreadyAsked(101))));
    assert!(matches!(s.ask(100), Err(SearchError::AlreadyAsked(100))));
    assert!(matches!(s.ask(0), Err(SearchError::AlreadyAsked(0))));
    assert_eq!(snapshot(&s), before);
    assert_eq!(s.pending(), vec![101]);

    // Enqueued points (optuna's enqueue_trial): pending under their ids, told like any trial,
    // survive a snapshot; a point outside the box or a used id is refused, changing nothing.
    let mut s = make(17);
    let corner: Vec<f64> = b.lo.clone();
    let centre: Vec<f64> = (0..b.dim()).map(|i| 0.5 * (b.lo[i] + b.hi[i])).collect();
    s.enqueue(0, corner.clone()).unwrap();
    s.enqueue(1, centre.clone()).unwrap();
    let before = snapshot(&s);
    assert!(matches!(
        s.enqueue(1, centre.clone()),
        Err(SearchError::AlreadyAsked(1))
    ));
    let mut outside = centre.clone();
    outside[0] = b.hi[0] + 1.0;
    assert!(s.enqueue(2, outside).is_err());
    assert!(s.enqueue(2, vec![0.5]).is_err());
    assert!(matches!(s.ask(0), Err(SearchError::AlreadyAsked(0))));
    assert_eq!(snapshot(&s), before);
    assert_eq!(s.pending(), vec![0, 1]);
    let mut r: AnySearcher = serde_json::from_str(&snapshot(&s)).unwrap();
    for t in [&mut s, &mut r] {
        t.tell(1, &outcome(problem, &centre, 1)).unwrap();
        t.tell(0, &outcome(problem, &corner, 0)).unwrap();
        assert!(t.pending().is_empty());
    }
    let (mut n1, mut n2) = (2, 2);
    let xs = drive(&mut s, &mut n1, 6, 3);
    assert_eq!(xs, drive(&mut r, &mut n2, 6, 3));
    assert!(xs.iter().all(|x| b.contains(x)));
}

/// Asks the next `n` trials (ids `*next..`), scores each point with `f` and tells them in
/// ask order; returns the points. The ticket version of the old `ask(n)` / `tell(results)`.
pub fn batch<S: Searcher + ?Sized>(
    s: &mut S,
    next: &mut u64,
    n: usize,
    mut f: impl FnMut(&[f64]) -> Outcome,
) -> Vec<Vec<f64>> {
    let ids: Vec<u64> = (*next..*next + n as u64).collect();
    *next += n as u64;
    let xs = ask_ids(s, &ids);
    for (t, x) in ids.iter().zip(&xs) {
        let o = f(x);
        s.tell(*t, &o).unwrap_or_else(|e| panic!("tell {t}: {e}"));
    }
    xs
}
