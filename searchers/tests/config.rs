//! Building searchers from config, and validation errors that name the field.

use mergesearch_searchers::{build, AnySearcher, Bounds, Problem, SearchError, SearcherConfig};

fn unit(d: usize) -> Problem {
    Problem::single(Bounds::new(vec![0.0; d], vec![1.0; d]).unwrap())
}

fn err(config: &str, x0: Option<Vec<f64>>) -> String {
    let c: SearcherConfig = serde_json::from_str(config).unwrap();
    match build(&c, unit(3), x0, 0, None) {
        Err(SearchError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn cmaes_config_defaults_and_validation() {
    let c: SearcherConfig = serde_json::from_str(r#"{"type":"cmaes"}"#).unwrap();
    let AnySearcher::Cmaes(es) = build(&c, unit(10), None, 0, None).unwrap() else {
        panic!("expected CMA-ES");
    };
    assert_eq!(es.popsize(), 4 + (3.0 * 10f64.ln()).floor() as usize); // 10
    assert_eq!(es.popsize(), 10);
    assert!((es.sigma() - 1.0 / 6.0).abs() < 1e-15);
    assert_eq!(es.mean(), vec![0.5; 10]);

    assert!(err(r#"{"type":"cmaes","sigma0":0.0}"#, None).contains("sigma0"));
    assert!(err(r#"{"type":"cmaes","sigma0":1.5}"#, None).contains("sigma0"));
    assert!(err(r#"{"type":"cmaes","popsize":1}"#, None).contains("popsize"));
    // Used to abort on a 56 GB allocation at the first ask.
    for huge in [
        r#"{"type":"cmaes","popsize":1000000000}"#,
        r#"{"type":"nsga2","popsize":1000000000}"#,
    ] {
        assert!(err(huge, None).contains("searcher.popsize"), "{huge}");
    }
    assert!(err(r#"{"type":"cmaes","max_restarts":1000000000}"#, None)
        .contains("searcher.max_restarts"));
    assert!(err(r#"{"type":"cmaes"}"#, Some(vec![0.5, 2.0, 0.5])).contains("x0"));
    assert!(err(r#"{"type":"cmaes"}"#, Some(vec![0.5])).contains("x0"));
    assert!(err(r#"{"type":"random"}"#, Some(vec![-1.0, 0.0, 0.0])).contains("x0"));
    assert!(serde_json::from_str::<SearcherConfig>(r#"{"type":"cmaes","sigma":0.2}"#).is_err());
    assert!(serde_json::from_str::<SearcherConfig>(r#"{"type":"nelder_mead"}"#).is_err());

    let c: SearcherConfig =
        serde_json::from_str(r#"{"type":"cmaes","sigma0":0.3,"popsize":6,"max_restarts":2}"#)
            .unwrap();
    let AnySearcher::Cmaes(es) = build(&c, unit(3), Some(vec![0.1, 0.2, 0.3]), 0, None).unwrap()
    else {
        panic!("expected CMA-ES");
    };
    assert_eq!(es.popsize(), 6);
    assert_eq!(es.sigma(), 0.3);
    assert_eq!(es.mean(), vec![0.1, 0.2, 0.3]);
}

#[test]
fn snapshot_names_the_searcher_kind() {
    let c: SearcherConfig = serde_json::from_str(r#"{"type":"cmaes"}"#).unwrap();
    let s = build(&c, unit(2), None, 0, None).unwrap();
    let v: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(v["type"], "cmaes");
}

#[test]
fn adamerging_is_not_built_as_an_ask_tell_searcher() {
    // The main crate dispatches `type: adamerging` to its gradient loop before calling build.
    let expected = "adamerging is a gradient searcher: the study runs it with its gradient \
                    loop, not through ask/tell";
    assert_eq!(err(r#"{"type":"adamerging","steps":5}"#, None), expected);
    // Even with an x0 outside the box, the kind is what is wrong.
    assert_eq!(
        err(r#"{"type":"adamerging"}"#, Some(vec![2.0; 3])),
        expected
    );
}
