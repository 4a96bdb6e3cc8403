//! Unconstrained minimization by L-BFGS (argmin's solver with a More–Thuente line search),
//! for smooth objectives with analytic gradients: GP hyperparameter fitting and acquisition
//! maximization (the latter through a box reparametrization, see [`crate::acquisition`]).
//!
//! argmin drives the objective here, inside one searcher step; it never drives the study
//! (STYLE.md §1).
//!
//! ## References
//!
//! - J. Nocedal, S. J. Wright, "Numerical Optimization", 2nd ed., Springer 2006: L-BFGS
//!   (Algorithm 7.5) and the strong Wolfe conditions (eq. 3.7).
//! - J. J. Moré, D. J. Thuente, "Line search algorithms with guaranteed sufficient decrease",
//!   ACM TOMS 20(3):286–307, 1994.

use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

/// History length of the inverse-Hessian approximation (Nocedal & Wright suggest 3–20).
const HISTORY: usize = 10;

/// A smooth objective: `Some((f(x), ∇f(x)))`, or `None` where it cannot be evaluated (a
/// singular kernel matrix, an overflow); the line search then backs off.
pub trait Smooth {
    /// Value and gradient at `x`.
    fn value_grad(&self, x: &[f64]) -> Option<(f64, Vec<f64>)>;
}

impl<F: Fn(&[f64]) -> Option<(f64, Vec<f64>)>> Smooth for F {
    fn value_grad(&self, x: &[f64]) -> Option<(f64, Vec<f64>)> {
        self(x)
    }
}

/// Cost returned for a point where the objective is undefined: large enough that the line
/// search rejects the step, finite so argmin's arithmetic stays well-defined.
const UNDEFINED: f64 = 1e300;

struct Problem<'a, S: Smooth>(&'a S);

impl<S: Smooth> CostFunction for Problem<'_, S> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Self::Param) -> Result<f64, Error> {
        Ok(self.0.value_grad(x).map_or(UNDEFINED, |(f, _)| f))
    }
}

impl<S: Smooth> Gradient for Problem<'_, S> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, x: &Self::Param) -> Result<Vec<f64>, Error> {
        Ok(self
            .0
            .value_grad(x)
            .map_or_else(|| vec![0.0; x.len()], |(_, g)| g))
    }
}

/// When L-BFGS stops: after `max_iters` iterations, or when the gradient norm falls below
/// `tol_grad`, or the cost changes by less than `tol_cost` in one iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    /// Most iterations.
    pub max_iters: u64,
    /// Gradient-norm tolerance.
    pub tol_grad: f64,
    /// Absolute cost-change tolerance.
    pub tol_cost: f64,
}

impl Stop {
    /// `max_iters` iterations with tight tolerances (1e-7 on the gradient, 1e-12 on the cost).
    pub fn iters(max_iters: u64) -> Self {
        Self {
            max_iters,
            tol_grad: 1e-7,
            tol_cost: 1e-12,
        }
    }
}

/// Minimizes `f` from `x0` until `stop`; returns the best point seen and its value, or `None`
/// when `f` is undefined at `x0`.
pub fn minimize<S: Smooth>(f: &S, x0: Vec<f64>, stop: Stop) -> Option<(Vec<f64>, f64)> {
    let (f0, _) = f.value_grad(&x0)?;
    if !f0.is_finite() {
        return None;
    }
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), HISTORY)
        .with_tolerance_grad(stop.tol_grad)
        .ok()?
        .with_tolerance_cost(stop.tol_cost)
        .ok()?;
    let start = x0.clone();
    let run = Executor::new(Problem(f), solver)
        .configure(|state| state.param(start).max_iters(stop.max_iters))
        .run();
    let best = run.ok().and_then(|r| {
        let state = r.state();
        let cost = state.get_best_cost();
        state
            .get_best_param()
            .cloned()
            .filter(|_| cost.is_finite() && cost < UNDEFINED)
            .map(|p| (p, cost))
    });
    match best {
        Some((p, c)) if c <= f0 => Some((p, c)),
        _ => Some((x0, f0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        // Rosenbrock's minimum is 0 at (1, 1) (H. H. Rosenbrock, Computer J. 3(3), 1960).
        let f = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
            let g = vec![
                -400.0 * a * (b - a * a) - 2.0 * (1.0 - a),
                200.0 * (b - a * a),
            ];
            Some((v, g))
        };
        let (x, v) = minimize(&f, vec![-1.2, 1.0], Stop::iters(200)).unwrap();
        assert!(v < 1e-10, "{v}");
        assert!(
            (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
            "{x:?}"
        );
    }

    #[test]
    fn undefined_regions_are_avoided() {
        // f = (x - 2)² defined only for x < 3: the minimum 0 at 2 is still found.
        let f = |x: &[f64]| (x[0] < 3.0).then(|| ((x[0] - 2.0).powi(2), vec![2.0 * (x[0] - 2.0)]));
        let (x, v) = minimize(&f, vec![-5.0], Stop::iters(100)).unwrap();
        assert!(v < 1e-12 && (x[0] - 2.0).abs() < 1e-6, "{x:?} {v}");
        assert!(minimize(&f, vec![4.0], Stop::iters(100)).is_none());
    }
}
