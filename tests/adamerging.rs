//! AdaMerging: the differentiable merge's gradient against central finite differences, and
//! whole studies on the test zoo (learning beats the fixed task-arithmetic recipe, the
//! smoothed entropy falls, resume is exact, export writes the learned recipe).

mod common;

use std::path::{Path, PathBuf};

use common::study::{read_trials, run_ok};
use common::test_zoo;
use mergesearch::adamerging::Trainer;
use mergesearch::study::StudyConfig;
use mergesearch_evals::Suite;
use mergesearch_searchers::SearcherConfig;

/// A study file over the test zoo's four fine-tunes (paths relative to `zoo`).
fn study_yaml(name: &str, method: &str, fixed: &str, searcher: &str, zoo: &Path) -> String {
    let z = zoo.display();
    format!(
        "name: {name}
merge:
  method: {method}
  base_model: {z}/base
  models: [{z}/ft-add, {z}/ft-reverse, {z}/ft-sort, {z}/ft-count]
  parameters: {{{fixed}}}
search:
  parameters:
    weight: {{bounds: [0.0, 1.0], init: 0.3}}
evals: {z}/evals-all.yaml
objectives:
  - {{metric: add/accuracy}}
  - {{metric: sort/accuracy}}
searcher: {searcher}
seed: 0
"
    )
}

fn trainer(dir: &Path, yaml: &str) -> Trainer {
    let path = dir.join("study.yaml");
    std::fs::write(&path, yaml).unwrap();
    let cfg = StudyConfig::load(&path).unwrap();
    let space = cfg.space(&path).unwrap();
    let SearcherConfig::Adamerging(ada) = &cfg.searcher else {
        panic!("an adamerging study")
    };
    let suite = Suite::load(&cfg.evals).unwrap();
    let opts = mergesearch::merge::MergeOptions {
        seed: cfg.seed,
        ranks: None,
    };
    Trainer::new(&space, ada, &suite, opts, &path).unwrap()
}

/// The central difference `D(h) = (L(λ + h e_i) − L(λ − h e_i)) / 2h` of the same loss on the
/// same batches, Richardson-extrapolated: `(4 D(h/2) − D(h)) / 3` cancels the O(h²) term, so
/// its error is O(h⁴). The loss is computed in f32 (rounding ~1e-7 relative), so h must stay
/// large enough for the differences to dwarf it: h = 2e-2.
fn richardson(t: &Trainer, lambda: &[f64], i: usize, step: usize, h: f64) -> f64 {
    let d = |h: f64| {
        let (mut plus, mut minus) = (lambda.to_vec(), lambda.to_vec());
        plus[i] += h;
        minus[i] -= h;
        (t.loss(&plus, step).unwrap() - t.loss(&minus, step).unwrap()) / (2.0 * h)
    };
    (4.0 * d(h / 2.0) - d(h)) / 3.0
}

/// `∂loss/∂λ` from one backward pass equals the finite difference of the loss
/// ([`richardson`]), gene by gene. Expected: relative error ≤ 1e-3 (the bound),
/// measured as `‖fd − g‖₂ / ‖g‖₂` over the checked genes.
fn check_gradient(label: &str, t: &Trainer, genes: &[usize]) {
    let dim = t.merge.dim();
    // A point off the init so that the genes differ (and inside the box).
    let lambda: Vec<f64> = (0..dim).map(|i| 0.2 + 0.05 * (i % 7) as f64).collect();
    let step = 3;
    let r = t.step(&lambda, step).unwrap();
    assert!(r.loss.is_finite(), "{label}: loss {}", r.loss);
    let h = 2e-2;
    let (mut err2, mut norm2) = (0.0, 0.0);
    for &i in genes {
        let fd = richardson(t, &lambda, i, step, h);
        err2 += (fd - r.grad[i]).powi(2);
        norm2 += r.grad[i].powi(2);
        eprintln!(
            "{label} gene {i}: backward {:.6e}  central difference {fd:.6e}",
            r.grad[i]
        );
    }
    let rel = (err2 / norm2).sqrt();
    assert!(norm2 > 0.0, "{label}: zero gradient");
    assert!(rel <= 1e-3, "{label}: relative error {rel:.3e} > 1e-3");
}

#[test]
fn gradient_matches_central_differences_at_every_granularity() {
    let zoo = test_zoo();
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("task", "task_arithmetic", ""),
        ("layer", "task_arithmetic", ""),
        ("tensor", "task_arithmetic", ""),
    ];
    // AdaMerging++ (TIES) is not in this list: its sign election flips wherever a weighted
    // sum of task vectors crosses zero, so a finite difference over the whole model sums the
    // jumps of thousands of flips, not the derivative. Its kernel derivative is checked
    // exactly in `merge_vjp_equals_differences_of_the_kernel`, on inputs whose margins keep
    // the signs fixed.
    for (granularity, method, fixed) in cases {
        let searcher = format!("{{type: adamerging, granularity: {granularity}, batch_size: 4}}");
        let yaml = study_yaml("fd", method, fixed, &searcher, &zoo);
        let t = trainer(tmp.path(), &yaml);
        let dim = t.merge.dim();
        // Every gene, except for per-tensor coefficients (4 models × 39 tensors): a spread.
        let genes: Vec<usize> = if dim > 40 {
            (0..dim).step_by(dim / 24).collect()
        } else {
            (0..dim).collect()
        };
        check_gradient(&format!("{method}/{granularity}"), &t, &genes);
    }
}

fn zoo_workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = common::repo_like_workspace();
    let p = tmp.path().to_path_buf();
    (tmp, p)
}

/// Held-out accuracy of a checkpoint or merge config on the zoo suite, by task.
fn heldout(cwd: &Path, target: &str) -> Vec<f64> {
    let out = run_ok(
        cwd,
        &[
            "eval",
            target,
            "--evals",
            "configs/evals/zoo.yaml",
            "--split",
            "heldout",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    ["add", "reverse", "sort", "count"]
        .iter()
        .map(|t| v["metrics"][format!("{t}/accuracy")].as_f64().unwrap())
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Runs `configs/NAME.yaml` in the repo-like workspace `cwd`, with `steps` and `log_every`
/// replaced when given; returns its trials.
fn run_config(
    cwd: &Path,
    name: &str,
    cut: Option<(usize, usize)>,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let path = cwd.join(format!("configs/{name}.yaml"));
    if let Some((steps, every)) = cut {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("  steps: 100\n") && text.contains("  log_every: 10\n"));
        let text = text
            .replace("  steps: 100\n", &format!("  steps: {steps}\n"))
            .replace("  log_every: 10\n", &format!("  log_every: {every}\n"));
        std::fs::write(&path, text).unwrap();
    }
    run_ok(cwd, &["search", &format!("configs/{name}.yaml")]);
    read_trials(&cwd.join("results").join(name))
}

/// Every adamerging file of `configs/` runs on the (test) zoo: the layer-wise entropy study
/// in full, its smoothed entropy falling; the task-wise, ++ and cross-entropy ones cut to 20
/// steps (3 trials).
#[test]
fn adamerging_configs_run_and_the_entropy_falls() {
    let (_tmp, cwd) = zoo_workspace();
    let trials = run_config(&cwd, "adamerging", None);
    assert_eq!(trials.len(), 11, "steps 0, 10, ..., 90 and the final point");
    let entropy: Vec<f64> = trials
        .iter()
        .map(|r| r["metric:adamerging/entropy"].parse().unwrap())
        .collect();
    eprintln!("smoothed entropy per logged step: {entropy:?}");
    // Averaged over the 10 steps before each trial, so batch noise is smoothed out: the last
    // is below the first, and the second half lies below the first half on average.
    assert!(
        entropy[10] < entropy[0],
        "entropy did not fall: {entropy:?}"
    );
    assert!(mean(&entropy[6..]) < mean(&entropy[..5]), "{entropy:?}");
    // `report` draws the training curve of a gradient study.
    run_ok(&cwd, &["report", "results/adamerging"]);
    let svg = std::fs::read_to_string(cwd.join("results/adamerging/plots/training.svg")).unwrap();
    assert!(svg.contains("adamerging/entropy") && svg.contains("add/accuracy"));
    for name in ["adamerging-task", "adamerging-plus", "adamerging-ce"] {
        let t = run_config(&cwd, name, Some((20, 10)));
        assert_eq!(t.len(), 3, "{name}");
        assert!(t.iter().all(|r| r["state"] == "complete"), "{name}");
    }
}

/// The supervised variant (`configs/adamerging-ce.yaml`, as shipped) learns a merge whose
/// average held-out accuracy over the four tasks beats task arithmetic with λ = 0.3 (the
/// recipe AdaMerging starts from), both scored by `mergesearch eval` on the held-out split.
#[test]
fn supervised_adamerging_beats_task_arithmetic() {
    let (_tmp, cwd) = zoo_workspace();
    let trials = run_config(&cwd, "adamerging-ce", None);
    let last = trials.last().unwrap()["trial"].clone();
    run_ok(
        &cwd,
        &["export", "results/adamerging-ce", "--trial", &last, "out"],
    );
    let learned = heldout(&cwd, "out");
    std::fs::write(
        cwd.join("ta.yaml"),
        "merge_method: task_arithmetic
base_model: results/zoo/base
models:
  - {model: results/zoo/ft-add, parameters: {weight: 0.3}}
  - {model: results/zoo/ft-reverse, parameters: {weight: 0.3}}
  - {model: results/zoo/ft-sort, parameters: {weight: 0.3}}
  - {model: results/zoo/ft-count, parameters: {weight: 0.3}}
dtype: float32
",
    )
    .unwrap();
    let ta = heldout(&cwd, "ta.yaml");
    eprintln!("held-out accuracy: adamerging {learned:?}, task arithmetic 0.3 {ta:?}");
    assert!(
        mean(&learned) > mean(&ta) + 0.02,
        "AdaMerging {:.4} did not beat task arithmetic λ = 0.3 ({:.4}) by 0.02",
        mean(&learned),
        mean(&ta)
    );
}

/// The merge kernel's vector–Jacobian product against the kernel itself, differenced: for
/// task arithmetic, TIES (trim + sign election), DARE-TIES and breadcrumbs, with and without
/// `normalize`, `Σ_i g_i (θ_i(w + h e_k) − θ_i(w − h e_k)) / 2h` equals `gta_vjp`'s entry k.
/// Inputs are multiples of 1/8, weights and h dyadic, so without `normalize` the kernel's f32
/// arithmetic is exact and so is the difference (the output is linear in w between sign
/// flips, and every weighted sum's margin, ≥ 1/32, is far above h = 2⁻¹²): expected error
/// ≤ 1e-9 relative. With `normalize` the quotient, and with DARE the L1 rescale factor, are
/// rounded to f32 (~6e-8 relative), which the difference divides by 2h, so there h = 2⁻⁸
/// (still below every margin; the quotient's curvature adds O(h²)): ≤ 1e-3 relative.
#[test]
fn merge_vjp_equals_differences_of_the_kernel() {
    use mergesearch::merge::methods::task_arithmetic::{gta, gta_vjp, preset_of};
    use mergesearch::merge::{
        fill_defaults, method, MergeOptions, Params, TensorInputs, TensorJob,
    };
    let n = 64;
    let base: Vec<f32> = (0..n).map(|i| (i as f32 - 32.0) / 8.0).collect();
    // Three fine-tunes: δ = small integers / 8 of mixed signs (conflicts for the election).
    let models: Vec<Vec<f32>> = (1..=3)
        .map(|k| {
            (0..n)
                .map(|i| base[i] + (((i * 7 + k * 13) % 11) as f32 - 5.0) / 8.0)
                .collect()
        })
        .collect();
    let g: Vec<f32> = (0..n).map(|i| ((i * 5 % 9) as f32 - 4.0) / 4.0).collect();
    let weights = [0.5, 0.25, 0.75];
    for name in ["task_arithmetic", "ties", "dare_ties", "breadcrumbs"] {
        for normalize in [false, true] {
            let def = method(name).unwrap();
            let job_at = |w: &[f64]| {
                let mut per_model = vec![Params::default()];
                for &wk in w {
                    let mut p = Params::from_pairs(&[("weight", wk)]);
                    if name != "task_arithmetic" {
                        p.0.insert("density", 0.5);
                    }
                    per_model.push(p);
                }
                let mut job = TensorJob::in_memory(
                    "model.layers.0.mlp.up_proj.weight",
                    &[8, 8],
                    Some(0),
                    per_model,
                    Params::from_pairs(&[("normalize", normalize as u8 as f64)]),
                );
                fill_defaults(def, &mut job);
                job
            };
            let refs: Vec<&[f32]> = std::iter::once(base.as_slice())
                .chain(models.iter().map(|m| m.as_slice()))
                .collect();
            let inputs = TensorInputs::from_f32(&refs, &[8, 8]);
            let opts = MergeOptions::default();
            let preset = preset_of(name).unwrap();
            let out = |w: &[f64]| {
                let mut bytes = vec![0u8; n * 4];
                gta(&job_at(w), &inputs, &opts, &mut bytes, preset).unwrap();
                mergesearch::merge::inputs::decode(mergesearch::checkpoint::DType::F32, &bytes)
            };
            let vjp = gta_vjp(&job_at(&weights), &inputs, &opts, preset, &g).unwrap();
            let rounded = normalize || name == "dare_ties";
            let h = if rounded { 1.0 / 256.0 } else { 1.0 / 4096.0 };
            for k in 0..3 {
                let (mut plus, mut minus) = (weights.to_vec(), weights.to_vec());
                plus[k] += h;
                minus[k] -= h;
                let (a, b) = (out(&plus), out(&minus));
                let fd: f64 = (0..n)
                    .map(|i| g[i] as f64 * (a[i] as f64 - b[i] as f64) / (2.0 * h))
                    .sum();
                let tol = if rounded { 1e-3 } else { 1e-9 };
                let scale = vjp.iter().map(|v| v.abs()).fold(1e-3, f64::max);
                assert!(
                    (fd - vjp[k]).abs() <= tol * scale,
                    "{name} normalize={normalize} model {k}: vjp {} vs difference {fd}",
                    vjp[k]
                );
            }
        }
    }
}

/// A small adamerging study file over the test zoo workspace (`zoo` links to the test zoo).
fn small_study(name: &str, steps: usize, log_every: usize) -> String {
    format!(
        "name: {name}
merge:
  method: task_arithmetic
  base_model: zoo/base
  models: [zoo/ft-add, zoo/ft-sort]
search:
  layer_granularity: 2
  parameters:
    weight: {{bounds: [0.0, 1.0], init: 0.3}}
evals: zoo/evals-all.yaml
objectives:
  - {{metric: add/accuracy}}
  - {{metric: sort/accuracy}}
searcher: {{type: adamerging, steps: {steps}, lr: 0.01, batch_size: 8, log_every: {log_every}}}
seed: 3
"
    )
}

/// A study SIGKILLed mid-run and resumed ends with exactly the trials of an uninterrupted
/// run: the same coefficients at every logged step, the same metrics, ids 1..=n.
#[test]
fn killed_adamerging_study_resumes_exactly() {
    let ws = common::study::workspace();
    let cwd = ws.path();
    // 40 steps, a trial every 5: steps 0, 5, ..., 35 and the final point = 9 trials.
    std::fs::write(cwd.join("a.yaml"), small_study("a", 40, 5)).unwrap();
    std::fs::write(cwd.join("b.yaml"), small_study("b", 40, 5)).unwrap();
    run_ok(cwd, &["search", "b.yaml"]);
    // Somewhere between logged steps (or inside one): the snapshot is the last trial's.
    common::study::search_killed_after(
        cwd,
        "a.yaml",
        &cwd.join("results/a"),
        3,
        std::time::Duration::from_millis(150),
    );
    assert!(
        common::study::trial_rows(&cwd.join("results/a")) < 9,
        "killed before the end"
    );
    run_ok(cwd, &["search", "a.yaml", "--resume"]);
    let (a, b) = (
        read_trials(&cwd.join("results/a")),
        read_trials(&cwd.join("results/b")),
    );
    assert_eq!(a.len(), 9);
    let ids: Vec<String> = a.iter().map(|r| r["trial"].clone()).collect();
    assert_eq!(ids, (1..=9).map(|i| i.to_string()).collect::<Vec<_>>());
    let values = |rows: &[std::collections::BTreeMap<String, String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .filter(|(k, _)| k.starts_with("gene:") || k.starts_with("metric:"))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .collect()
    };
    assert_eq!(
        values(&a),
        values(&b),
        "resumed run differs from the uninterrupted one"
    );
}

/// What adamerging cannot learn is refused before anything runs, naming the key.
#[test]
fn bad_adamerging_studies_are_refused_with_the_key() {
    let ws = common::study::workspace();
    let cwd = ws.path();
    let base = small_study("bad", 4, 2);
    let cases = [
        (
            base.replace("method: task_arithmetic", "method: linear"),
            "merge.method",
        ),
        (
            base.replace(
                "weight: {bounds: [0.0, 1.0], init: 0.3}",
                "weight: {bounds: [0.0, 1.0], init: 0.3}\n    density: {bounds: [0.1, 1.0]}",
            )
            .replace("method: task_arithmetic", "method: ties"),
            "search.parameters.density",
        ),
        (
            base.replace("batch_size: 8", "batch_size: 8, tasks: {nope: 1}"),
            "searcher.tasks",
        ),
        (base.clone() + "budget: {trials: 5}\n", "budget.trials"),
        (
            base.clone() + "pruner: {type: successive_halving}\n",
            "pruner: an adamerging study",
        ),
        (
            base.replace("steps: 4", "steps: 4, granularity: task"),
            "granularity `task`",
        ),
        (base.replace("lr: 0.01", "lr: -1"), "lr"),
    ];
    for (i, (yaml, key)) in cases.iter().enumerate() {
        let file = format!("bad{i}.yaml");
        std::fs::write(cwd.join(&file), yaml).unwrap();
        let o = common::mergesearch(cwd, &["search", &file]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "case {i} was accepted");
        assert!(err.contains(key), "case {i}: `{key}` not named in: {err}");
        assert!(!cwd.join("results/bad").exists(), "case {i} wrote a study");
    }
}
