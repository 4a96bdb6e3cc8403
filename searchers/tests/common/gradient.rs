//! The conformance checks every [`GradientSearcher`] must pass (STYLE.md §6, the gradient
//! sibling of [`super::conformance`]): starts at its start point with no steps taken; every
//! asked point lies in the box, also when the gradient pushes against it; one successful tell
//! is one step; a wrong-length gradient or a non-finite loss or gradient entry is refused and
//! changes nothing; a serde_json snapshot round trip followed by identical tells gives
//! identical asks; two instances fed the same tells follow bit-identical trajectories. Each
//! check runs on [`super::test_box`]`(4)` from its centre and from a corner.

use mergesearch_searchers::{Bounds, GradientSearcher};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::test_box;

/// The loss and gradient told at step `k` at `x`: a sphere centred at `c` (partly outside the
/// box, so the projection is exercised) with seeded noise, and every 13th gradient large.
pub fn loss_and_grad(x: &[f64], bounds: &Bounds, k: u64) -> (f64, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(k);
    let c: Vec<f64> = (0..x.len())
        .map(|i| {
            if i % 2 == 0 {
                bounds.hi[i] + 1.0
            } else {
                0.5 * (bounds.lo[i] + bounds.hi[i])
            }
        })
        .collect();
    let scale = if k.is_multiple_of(13) { 1e3 } else { 1.0 };
    let grad: Vec<f64> = x
        .iter()
        .zip(&c)
        .map(|(v, c)| scale * (2.0 * (v - c) + rng.random_range(-0.5..0.5)))
        .collect();
    let loss = x.iter().zip(&c).map(|(v, c)| (v - c).powi(2)).sum();
    (loss, grad)
}

/// Runs `n` tells of [`loss_and_grad`] (steps `*k..`) and returns every point asked before them.
pub fn run<S: GradientSearcher + ?Sized>(s: &mut S, k: &mut u64, n: usize) -> Vec<Vec<f64>> {
    let mut xs = Vec::with_capacity(n);
    for _ in 0..n {
        let x = s.ask();
        let (loss, grad) = loss_and_grad(&x, s.bounds(), *k);
        s.tell(loss, &grad)
            .unwrap_or_else(|e| panic!("tell at step {k}: {e}"));
        *k += 1;
        xs.push(x);
    }
    xs
}

/// One point as bit patterns.
pub fn point_bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// The points as bit patterns, so that equality means bit-identical (and NaN-safe).
pub fn bits(xs: &[Vec<f64>]) -> Vec<Vec<u64>> {
    xs.iter().map(|x| point_bits(x)).collect()
}

fn snapshot<S: Serialize>(s: &S) -> String {
    serde_json::to_string(s).unwrap()
}

/// The shared checks; `make(bounds, x0)` builds a fresh searcher starting at `x0`.
pub fn gradient_conformance<S>(make: impl Fn(Bounds, Vec<f64>) -> S)
where
    S: GradientSearcher + Serialize + DeserializeOwned,
{
    let b = test_box(4);
    let centre: Vec<f64> = (0..4).map(|i| 0.5 * (b.lo[i] + b.hi[i])).collect();
    let corner: Vec<f64> = (0..4)
        .map(|i| if i % 2 == 0 { b.hi[i] } else { b.lo[i] })
        .collect();
    for x0 in [centre, corner] {
        gradient_conformance_from(&b, &x0, || make(b.clone(), x0.clone()));
    }
}

fn gradient_conformance_from<S>(b: &Bounds, x0: &[f64], make: impl Fn() -> S)
where
    S: GradientSearcher + Serialize + DeserializeOwned,
{
    // Starts where it was put, with no steps taken; asking changes nothing.
    let mut s = make();
    assert_eq!(s.bounds(), b);
    assert_eq!(s.steps_taken(), 0);
    assert_eq!(point_bits(&s.ask()), point_bits(x0));
    assert_eq!(point_bits(&s.ask()), point_bits(&s.ask()));

    // In bounds and finite at every step; one tell = one step.
    let mut k = 0;
    for (n, x) in run(&mut s, &mut k, 300).iter().enumerate() {
        assert!(
            b.contains(x) && x.iter().all(|v| v.is_finite()),
            "step {n}: {x:?}"
        );
    }
    assert_eq!(s.steps_taken(), 300);
    assert!(b.contains(&s.ask()), "{:?}", s.ask());

    // Malformed tells are refused and change nothing.
    let before = snapshot(&s);
    let x = s.ask();
    let (loss, grad) = loss_and_grad(&x, b, k);
    let d = grad.len();
    let mut bad: Vec<(f64, Vec<f64>)> = vec![
        (loss, Vec::new()),
        (loss, grad[..d - 1].to_vec()),
        (loss, [grad.clone(), vec![0.0]].concat()),
        (f64::NAN, grad.clone()),
        (f64::INFINITY, grad.clone()),
        (f64::NEG_INFINITY, grad.clone()),
    ];
    for (i, v) in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        let mut g = grad.clone();
        g[(i + 1) % d] = v;
        bad.push((loss, g));
    }
    for (l, g) in &bad {
        assert!(
            s.tell(*l, g).is_err(),
            "accepted loss {l} and gradient {g:?}"
        );
        assert_eq!(point_bits(&s.ask()), point_bits(&x));
        assert_eq!(s.steps_taken(), 300);
        assert_eq!(snapshot(&s), before);
    }
    // …and the searcher goes on as a twin that never saw them.
    let mut twin = make();
    let mut k_twin = 0;
    run(&mut twin, &mut k_twin, 300);
    assert_eq!(
        bits(&run(&mut s, &mut k.clone(), 50)),
        bits(&run(&mut twin, &mut k_twin, 50))
    );

    // Snapshot round trip → identical future asks after identical tells.
    let mut s = make();
    let mut k = 0;
    run(&mut s, &mut k, 37);
    let mut r: S = serde_json::from_str(&snapshot(&s)).unwrap();
    assert_eq!(r.steps_taken(), 37);
    assert_eq!(point_bits(&r.ask()), point_bits(&s.ask()));
    let mut k_r = k;
    assert_eq!(
        bits(&run(&mut s, &mut k, 200)),
        bits(&run(&mut r, &mut k_r, 200))
    );
    assert_eq!(snapshot(&s), snapshot(&r));

    // Deterministic: two instances with the same inputs give bit-identical trajectories.
    let (mut s, mut t) = (make(), make());
    let (mut ks, mut kt) = (0, 0);
    assert_eq!(
        bits(&run(&mut s, &mut ks, 400)),
        bits(&run(&mut t, &mut kt, 400))
    );
    assert_eq!(snapshot(&s), snapshot(&t));
}
