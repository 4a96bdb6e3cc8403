//! The toy zoo: the merging problem is real (accuracy matrix), every harness ranks each
//! fine-tune above the base on its own task, checkpoints are genuine HF format and reused
//! when rebuilt, the data is correct and disjoint, training is deterministic, and every
//! file in `configs/` runs on the zoo.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use common::{eval_metrics, mergesearch, repo_like_workspace, test_zoo};
use mergesearch::zoo::{train, vocab, Task};

const TASKS: [&str; 4] = ["add", "reverse", "sort", "count"];

/// `accuracy.csv` as model → task → accuracy.
fn read_matrix(path: &Path) -> BTreeMap<String, BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, ["model", "add", "reverse", "sort", "count", "mean"]);
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let row = header[1..]
                .iter()
                .zip(&cells[1..])
                .map(|(h, c)| (h.to_string(), c.parse::<f64>().unwrap()))
                .collect();
            (cells[0].to_string(), row)
        })
        .collect()
}

#[test]
fn accuracy_matrix_shows_the_merging_problem() {
    let zoo = test_zoo();
    // Cached models: this only scores the matrix.
    let o = mergesearch(&zoo, &["zoo", zoo.to_str().unwrap(), "--preset", "test"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("0 model(s) trained, 5 reused"),
        "a rebuild with the same seed reuses every model:\n{stdout}"
    );
    let m = read_matrix(&zoo.join("accuracy.csv"));
    assert_eq!(m.len(), 6, "base, four fine-tunes and the baseline merge");
    for row in m.values() {
        assert!(row.values().all(|a| (0.0..=1.0).contains(a)), "{row:?}");
    }
    let mut own = Vec::new();
    for task in TASKS {
        let ft = m[&format!("ft-{task}")][task];
        own.push(ft);
        assert!(ft >= 0.75, "ft-{task} learns its task: {ft}");
        for (model, row) in &m {
            if *model != format!("ft-{task}") {
                assert!(
                    ft >= row[task] + 0.15,
                    "ft-{task} ({ft}) is clearly best on {task}; {model} has {}",
                    row[task]
                );
            }
        }
    }
    let own_mean = own.iter().sum::<f64>() / own.len() as f64;
    let ta = m["task_arithmetic(0.3)"]["mean"];
    assert!(
        ta <= own_mean - 0.3,
        "task arithmetic (λ = 0.3) averages {ta}, clearly below the fine-tunes' {own_mean}"
    );
}

#[test]
fn every_harness_ranks_each_finetune_above_the_base_on_its_task() {
    let zoo = test_zoo();
    let suite = zoo.join("evals-all.yaml");
    let score = |model: &str| {
        eval_metrics(
            &zoo,
            zoo.join(model).to_str().unwrap(),
            suite.to_str().unwrap(),
            "heldout",
        )
    };
    let base = score("base");
    for task in TASKS {
        let ft = score(&format!("ft-{task}"));
        for m in [&base, &ft] {
            for (k, v) in m {
                if k.ends_with("/perplexity") {
                    assert!(*v >= 1.0, "{k} = {v}");
                } else if k.contains("acc") {
                    assert!((0.0..=1.0).contains(v), "{k} = {v}");
                } else if k.ends_with("/entropy") {
                    assert!(*v >= 0.0, "{k} = {v}");
                }
            }
        }
        let get = |m: &BTreeMap<String, f64>, k: &str| m[&k.replace("T", task)];
        for (metric, higher) in [
            ("T/accuracy", true),
            ("T-mc/acc", true),
            ("T-ppl/perplexity", false),
            ("T-entropy/entropy", false),
        ] {
            let (f, b) = (get(&ft, metric), get(&base, metric));
            let better = if higher { f > b } else { f < b };
            assert!(better, "ft-{task} beats the base on {metric}: {f} vs {b}");
        }
    }
}

#[test]
fn checkpoints_are_hugging_face_llama_directories() {
    let zoo = test_zoo();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(zoo.join("base/config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["architectures"][0], "LlamaForCausalLM");
    assert_eq!(cfg["model_type"], "llama");
    assert_eq!(cfg["vocab_size"], vocab::VOCAB_SIZE);
    assert!(cfg["num_key_value_heads"].as_u64() < cfg["num_attention_heads"].as_u64());
    for model in ["base", "ft-add", "ft-reverse", "ft-sort", "ft-count"] {
        let dir = zoo.join(model);
        let m = mergesearch::checkpoint::ModelDir::open(&dir).unwrap();
        assert!(m.tensors.contains_key("model.embed_tokens.weight"));
        assert!(m.tensors.contains_key("lm_head.weight"));
        assert!(m
            .tensors
            .contains_key("model.layers.3.mlp.down_proj.weight"));
        let tok = mergesearch::eval::HfTokenizer::from_dir(&dir).unwrap();
        use mergesearch_evals::TextTokenizer;
        let prompt = "rev c a f b e =";
        assert_eq!(tok.encode(prompt).unwrap(), vocab::encode(prompt));
        assert_eq!(
            tok.decode(&vocab::encode("e b f a c")).unwrap(),
            "e b f a c"
        );
        assert_eq!(tok.eos_id(), Some(vocab::id(vocab::EOS)));
    }
}

/// The answer to `prompt`, computed here from the task's definition.
fn solve(prompt: &str) -> String {
    let words: Vec<&str> = prompt.split(' ').collect();
    assert_eq!(words.last(), Some(&"="), "{prompt}");
    let body = &words[1..words.len() - 1];
    match words[0] {
        "add" => {
            let s: u32 = body.iter().map(|d| d.parse::<u32>().unwrap()).sum();
            format!("{} {}", s / 10, s % 10)
        }
        "rev" => body.iter().rev().copied().collect::<Vec<_>>().join(" "),
        "sort" => {
            let mut b = body.to_vec();
            b.sort();
            b.join(" ")
        }
        "count" => body.iter().filter(|w| **w == "a").count().to_string(),
        other => panic!("unknown task marker {other}"),
    }
}

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn data_splits_are_correct_and_disjoint() {
    let zoo = test_zoo();
    for task in TASKS {
        let mut prompts: Vec<HashSet<String>> = Vec::new();
        for split in ["search", "heldout"] {
            let plain = read_jsonl(&zoo.join(format!("data/{task}.{split}.jsonl")));
            assert!(
                plain.len() >= 40,
                "{task} {split}: {} examples",
                plain.len()
            );
            let mut seen = HashSet::new();
            for ex in &plain {
                let (p, a) = (
                    ex["prompt"].as_str().unwrap(),
                    ex["answer"].as_str().unwrap(),
                );
                assert_eq!(a, solve(p), "{task} {split}: {p}");
                assert_eq!(ex["text"].as_str().unwrap(), format!("{p} {a}"));
                assert_eq!(ex["continuation"].as_str().unwrap(), a);
                assert!(seen.insert(p.to_string()), "duplicate prompt {p}");
            }
            let mc = read_jsonl(&zoo.join(format!("data/{task}.mc.{split}.jsonl")));
            assert_eq!(mc.len(), plain.len());
            for q in &mc {
                let choices: Vec<&str> = q["choices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                let distinct: HashSet<&&str> = choices.iter().collect();
                assert_eq!((choices.len(), distinct.len()), (4, 4), "{q}");
                let right = choices[q["answer"].as_u64().unwrap() as usize];
                assert_eq!(right, solve(q["prompt"].as_str().unwrap()), "{q}");
            }
            prompts.push(seen);
        }
        assert!(
            prompts[0].is_disjoint(&prompts[1]),
            "{task}: held-out prompts never occur in the search split"
        );
    }
}

#[test]
fn task_generators_answer_correctly_and_distractors_are_wrong() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for task in Task::ALL {
        for _ in 0..500 {
            let ex = task.sample(&mut rng);
            assert_eq!(ex.answer, solve(&ex.prompt));
            let d = task.distractors(&ex, &mut rng);
            assert_eq!(d.len(), 3);
            assert!(d.iter().all(|x| *x != ex.answer), "{ex:?}: {d:?}");
            let lens: HashSet<usize> = d.iter().map(|x| x.split(' ').count()).collect();
            assert_eq!(lens, HashSet::from([ex.answer.split(' ').count()]), "{d:?}");
        }
    }
}

#[test]
fn training_is_deterministic_per_seed() {
    let cfg_json = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16,
        "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "rms_norm_eps": 1e-5, "vocab_size": vocab::VOCAB_SIZE,
    });
    let cfg =
        mergesearch::models::LlamaConfig::from_json_str(&cfg_json.to_string(), Path::new("t"))
            .unwrap();
    let run = |init_seed: u64, batch_seed: u64| {
        let init = train::init_weights(&cfg, init_seed).unwrap();
        let spec = train::TrainSpec {
            steps: 6,
            batch: 8,
            lr: 1e-2,
            weight_decay: 0.0,
            seed: batch_seed,
        };
        let mut losses = Vec::new();
        let w = train::train(&cfg, &init, &[(Task::Sort, 1.0)], &spec, None, |_, l| {
            losses.push(l)
        })
        .unwrap()
        .weights;
        let mut names: Vec<&String> = w.keys().collect();
        names.sort();
        let flat: Vec<f32> = names
            .iter()
            .flat_map(|n| w[*n].flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect();
        (flat, losses)
    };
    let (a, la) = run(1, 2);
    let (b, _) = run(1, 2);
    assert_eq!(a, b, "same seeds, same bytes");
    assert!(la[5] < la[0], "the loss falls: {la:?}");
    assert_ne!(a, run(1, 3).0, "another batch seed trains differently");
    assert_ne!(a, run(4, 2).0, "another init seed starts elsewhere");
}

#[test]
fn every_config_runs_on_the_zoo() {
    let ws = repo_like_workspace();
    let cwd = ws.path();
    let mut merges: Vec<_> = std::fs::read_dir(cwd.join("configs/merge"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    merges.sort();
    assert!(merges.len() >= 19);
    for cfg in &merges {
        let name = cfg.file_stem().unwrap().to_str().unwrap();
        let out = format!("out/{name}");
        let o = mergesearch(cwd, &["merge", cfg.to_str().unwrap(), &out]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // Every merged zoo model loads and scores (passthrough makes a 6-layer model).
        let m = eval_metrics(cwd, &out, "configs/evals/zoo.yaml", "search");
        assert_eq!(m.len(), 4, "{name}: {m:?}");
    }
    // The repository's suites score exactly what the zoo's own suites score.
    for (repo_suite, zoo_suite) in [
        ("configs/evals/zoo.yaml", "results/zoo/evals.yaml"),
        ("configs/evals/zoo-all.yaml", "results/zoo/evals-all.yaml"),
    ] {
        for split in ["search", "heldout"] {
            let a = eval_metrics(cwd, "results/zoo/ft-sort", repo_suite, split);
            let b = eval_metrics(cwd, "results/zoo/ft-sort", zoo_suite, split);
            assert_eq!(a, b, "{repo_suite} vs {zoo_suite}, {split}");
        }
    }
}

#[test]
fn zoo_bad_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let o = mergesearch(tmp.path(), &["zoo", "z", "--preset", "huge"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--preset") && err.contains("huge"), "{err}");

    // A tokenizer with more tokens than the model has embedding rows.
    let zoo = test_zoo();
    let dir = tmp.path().join("model");
    common::copy_dir(&zoo.join("ft-add"), &dir);
    let path = dir.join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for i in 0..8 {
        tok["model"]["vocab"][format!("w{i}")] = (vocab::VOCAB_SIZE + i).into();
    }
    std::fs::write(&path, tok.to_string()).unwrap();
    let suite = zoo.join("evals.yaml");
    let o = mergesearch(
        tmp.path(),
        &["eval", "model", "--evals", suite.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tokenizer.json") && err.contains("40 tokens") && err.contains("32"),
        "{err}"
    );
}
