//! Standard test problems with known optima, for sample-efficiency benchmarks of the
//! Bayesian-optimization searchers: single-objective functions with their global minimum
//! ([`single_objective_suite`]) and multi-objective ones with the hypervolume of their true
//! Pareto front ([`multi_objective_suite`]). Everything is minimized.
//!
//! A benchmark reports [`TestProblem::simple_regret`] (best value seen minus the optimum) or
//! [`MultiObjectiveProblem::hypervolume_regret`] (front hypervolume minus that of the points
//! seen) against the number of evaluations.
//!
//! ## References
//! - S. Surjanovic, D. Bingham, "Virtual Library of Simulation Experiments: Test Functions
//!   and Datasets" (VLSE), Simon Fraser University, sfu.ca/~ssurjano: definitions, constants
//!   and optima of Branin, Hartmann-6, Ackley and Rosenbrock.
//! - L. C. W. Dixon, G. P. Szegő, "The global optimization problem: an introduction", in
//!   Towards Global Optimisation 2, North-Holland, 1978 (Branin and Hartmann functions).
//! - D. H. Ackley, "A connectionist machine for genetic hillclimbing", Kluwer, 1987.
//! - E. Zitzler, K. Deb, L. Thiele, "Comparison of multiobjective evolutionary algorithms:
//!   empirical results", Evol. Comput. 8(2):173–195, 2000 (ZDT1 and ZDT2, their `T₁`, `T₂`).
//! - K. Deb, L. Thiele, M. Laumanns, E. Zitzler, "Scalable multi-objective optimization test
//!   problems", IEEE CEC 2002, pp. 825–830 (DTLZ2).
//! - D. Eriksson, M. Pearce, J. Gardner, R. D. Turner, M. Poloczek, "Scalable global
//!   optimization via local Bayesian optimization" (TuRBO), NeurIPS 2019 (Ackley and
//!   Rosenbrock on `[−5, 10]^d`, the boxes used here).

mod multi;
mod single;

pub use multi::{dtlz2, zdt1, zdt2};
pub use single::{ackley, branin, hartmann6, HARTMANN6_MIN, HARTMANN6_XSTAR};

use crate::functions::{rosenbrock, TestFn};
use crate::pareto::hypervolume;
use crate::{Bounds, Problem, Sense};

/// A single-objective test problem with a known global minimum.
#[derive(Debug, Clone)]
pub struct TestProblem {
    /// Short name for tables (`branin`, `hartmann6`, `ackley10`, `rosenbrock10`).
    pub name: &'static str,
    /// The search box.
    pub bounds: Bounds,
    /// The function, minimized.
    pub f: TestFn,
    /// Its global minimum over the box.
    pub optimum: f64,
    /// Points where the minimum is attained (all of them, where there are finitely many).
    pub optimizers: Vec<Vec<f64>>,
}

impl TestProblem {
    /// `best_seen − optimum`: how far the best value found is from the global minimum.
    pub fn simple_regret(&self, best_seen: f64) -> f64 {
        best_seen - self.optimum
    }

    /// The problem as a searcher sees it: the box and one minimized objective.
    pub fn problem(&self) -> Problem {
        Problem::single(self.bounds.clone())
    }
}

/// A multi-objective test problem (all objectives minimized) with a known Pareto front.
#[derive(Debug, Clone)]
pub struct MultiObjectiveProblem {
    /// Short name for tables (`zdt1`, `zdt2`, `dtlz2`).
    pub name: &'static str,
    /// The search box.
    pub bounds: Bounds,
    /// The objectives at `x`, all minimized.
    pub f: fn(&[f64]) -> Vec<f64>,
    /// Number of objectives.
    pub objectives: usize,
    /// Hypervolume reference point: 1.1 per objective.
    pub reference: Vec<f64>,
    /// Hypervolume of the true Pareto front with respect to `reference`, in closed form.
    pub front_hypervolume: f64,
    /// Maps a position `t ∈ [0, 1]^(objectives − 1)` along the front and the dimension to a
    /// Pareto-optimal `x` (see [`MultiObjectiveProblem::pareto_optimal_x`]).
    pareto_set: fn(&[f64], usize) -> Vec<f64>,
}

impl MultiObjectiveProblem {
    /// A Pareto-optimal point of the box at position `t ∈ [0, 1]^(objectives − 1)` along the
    /// front: ZDT's `x₁ = t₁` with every other coordinate 0; DTLZ2's position variables
    /// `x_1..x_{m−1} = t` with every distance variable 0.5.
    pub fn pareto_optimal_x(&self, t: &[f64]) -> Vec<f64> {
        (self.pareto_set)(t, self.bounds.dim())
    }

    /// `front_hypervolume − HV(points)` with respect to `reference` (minimized objective
    /// vectors; points beyond the reference count nothing): 0 for a perfect front, and about
    /// the HV lost to gaps for a good finite one. Exact for 2 and 3 objectives.
    pub fn hypervolume_regret(&self, points: &[Vec<f64>]) -> f64 {
        self.front_hypervolume - hypervolume(points, &self.reference)
    }

    /// The problem as a searcher sees it: the box, every objective minimized with weight 1,
    /// and the reference point.
    pub fn problem(&self) -> Problem {
        Problem {
            bounds: self.bounds.clone(),
            senses: vec![Sense::Minimize; self.objectives],
            weights: vec![1.0; self.objectives],
            reference: Some(self.reference.clone()),
            constraints: 0,
        }
    }
}

/// The box `[lo, hi]^d` (valid by construction: `lo < hi` are finite constants here).
fn cube(lo: f64, hi: f64, d: usize) -> Bounds {
    Bounds {
        lo: vec![lo; d],
        hi: vec![hi; d],
    }
}

/// Branin on `[−5, 10] × [0, 15]`, Hartmann-6 on `[0, 1]^6`, Ackley and Rosenbrock in
/// `d = 10` on `[−5, 10]^10`, with their global minima (VLSE; Ackley's and Rosenbrock's
/// boxes as in TuRBO).
pub fn single_objective_suite() -> Vec<TestProblem> {
    let pi = std::f64::consts::PI;
    vec![
        TestProblem {
            name: "branin",
            bounds: Bounds {
                lo: vec![-5.0, 0.0],
                hi: vec![10.0, 15.0],
            },
            f: branin,
            // 5/(4π) = s·t: the bracket vanishes and cos x₁ = −1 at all three minimizers.
            optimum: 5.0 / (4.0 * pi),
            optimizers: vec![vec![-pi, 12.275], vec![pi, 2.275], vec![3.0 * pi, 2.475]],
        },
        TestProblem {
            name: "hartmann6",
            bounds: cube(0.0, 1.0, 6),
            f: hartmann6,
            optimum: HARTMANN6_MIN,
            optimizers: vec![HARTMANN6_XSTAR.to_vec()],
        },
        TestProblem {
            name: "ackley10",
            bounds: cube(-5.0, 10.0, 10),
            f: ackley,
            optimum: 0.0,
            optimizers: vec![vec![0.0; 10]],
        },
        TestProblem {
            name: "rosenbrock10",
            bounds: cube(-5.0, 10.0, 10),
            f: rosenbrock,
            optimum: 0.0,
            optimizers: vec![vec![1.0; 10]],
        },
    ]
}

/// ZDT1 and ZDT2 with `d = 30` on `[0, 1]^30`, DTLZ2 with 3 objectives and `d = 12` on
/// `[0, 1]^12`, reference point 1.1 per objective, with the closed-form hypervolume of each
/// true front (derivations in `testbed/multi.rs`).
pub fn multi_objective_suite() -> Vec<MultiObjectiveProblem> {
    vec![
        MultiObjectiveProblem {
            name: "zdt1",
            bounds: cube(0.0, 1.0, 30),
            f: zdt1,
            objectives: 2,
            reference: vec![1.1; 2],
            front_hypervolume: multi::ZDT1_HV,
            pareto_set: multi::zdt_pareto_x,
        },
        MultiObjectiveProblem {
            name: "zdt2",
            bounds: cube(0.0, 1.0, 30),
            f: zdt2,
            objectives: 2,
            reference: vec![1.1; 2],
            front_hypervolume: multi::ZDT2_HV,
            pareto_set: multi::zdt_pareto_x,
        },
        MultiObjectiveProblem {
            name: "dtlz2",
            bounds: cube(0.0, 1.0, 12),
            f: multi::dtlz2_3,
            objectives: 3,
            reference: vec![1.1; 3],
            front_hypervolume: multi::DTLZ2_3_HV,
            pareto_set: multi::dtlz2_pareto_x,
        },
    ]
}
