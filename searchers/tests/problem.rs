//! The problem description: validation, and the scalar and vector views searchers rank.

use mergesearch_searchers::{Bounds, Outcome, Problem, SearchError, Sense, PENALTY};

fn unit() -> Bounds {
    Bounds::new(vec![0.0; 2], vec![1.0; 2]).unwrap()
}

fn problem_err(senses: Vec<Sense>, weights: Vec<f64>, reference: Option<Vec<f64>>) -> String {
    match Problem::new(unit(), senses, weights, reference, 0) {
        Err(SearchError::Problem(m)) => m,
        other => panic!("expected a problem error, got {other:?}"),
    }
}

#[test]
fn validation_names_the_field() {
    use Sense::*;
    assert!(problem_err(vec![], vec![], None).contains("senses"));
    assert!(problem_err(vec![Minimize], vec![1.0, 1.0], None).contains("weights"));
    assert!(problem_err(vec![Minimize], vec![-1.0], None).contains("weights[0]"));
    assert!(
        problem_err(vec![Minimize, Maximize], vec![1.0, f64::NAN], None).contains("weights[1]")
    );
    assert!(problem_err(vec![Minimize], vec![1.0], Some(vec![1.0, 2.0])).contains("reference"));
    assert!(
        problem_err(vec![Minimize], vec![1.0], Some(vec![f64::INFINITY])).contains("reference[0]")
    );
    let p = Problem::new(
        unit(),
        vec![Minimize, Maximize],
        vec![0.0, 2.0],
        Some(vec![1.0, 0.0]),
        2,
    )
    .unwrap();
    assert_eq!(p.objectives(), 2);
    let s = Problem::single(unit());
    assert_eq!(
        (s.objectives(), s.constraints, s.weights.clone()),
        (1, 0, vec![1.0])
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.contains(r#""senses":["minimize","maximize"]"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Problem>(&json).unwrap(), p);
}

#[test]
fn views_minimize_weight_and_penalize() {
    let p = Problem::new(
        unit(),
        vec![Sense::Minimize, Sense::Maximize],
        vec![1.0, 0.5],
        None,
        2,
    )
    .unwrap();
    assert_eq!(PENALTY, 10.0);
    assert_eq!(p.minimized(&[3.0, 4.0]), vec![3.0, -4.0]);
    assert_eq!(p.scalar(&[3.0, 4.0]), 3.0 - 2.0);
    let feasible = Outcome::Scored {
        objectives: vec![3.0, 4.0],
        violations: vec![0.0, 0.0],
    };
    assert_eq!(p.penalized_scalar(&feasible), Some(1.0));
    assert_eq!(p.penalized_vector(&feasible), Some(vec![3.0, -4.0]));
    // Violations 0.25 + 0.5 (a negative one counts as satisfied): + 10 · 0.75.
    let infeasible = Outcome::Scored {
        objectives: vec![3.0, 4.0],
        violations: vec![0.25, 0.5],
    };
    assert_eq!(p.penalized_scalar(&infeasible), Some(1.0 + 7.5));
    assert_eq!(p.penalized_vector(&infeasible), Some(vec![10.5, 3.5]));
    let negative = Outcome::Scored {
        objectives: vec![3.0, 4.0],
        violations: vec![-5.0, 0.5],
    };
    assert_eq!(p.penalized_scalar(&negative), Some(6.0));
    // Failed, non-finite and malformed outcomes have no view.
    for bad in [
        Outcome::Failed,
        Outcome::Scored {
            objectives: vec![f64::NAN, 4.0],
            violations: vec![0.0, 0.0],
        },
        Outcome::Scored {
            objectives: vec![3.0, 4.0],
            violations: vec![f64::INFINITY, 0.0],
        },
        Outcome::Scored {
            objectives: vec![3.0],
            violations: vec![0.0, 0.0],
        },
        Outcome::Scored {
            objectives: vec![3.0, 4.0],
            violations: vec![0.0],
        },
        Outcome::Scored {
            objectives: vec![f64::MAX, -f64::MAX],
            violations: vec![0.0, 0.0],
        },
    ] {
        assert_eq!(p.penalized_scalar(&bad), None, "{bad:?}");
    }
    assert_eq!(p.penalized_vector(&Outcome::Failed), None);
    // A feasible value keeps its exact bits (-0.0 stays -0.0).
    let s = Problem::single(unit());
    assert!(s
        .penalized_scalar(&Outcome::scored(vec![-0.0]))
        .unwrap()
        .is_sign_negative());
}
