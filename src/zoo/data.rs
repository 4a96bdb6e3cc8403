//! The zoo's eval data: per-task `search` and `heldout` JSONL splits and two eval suites.

use std::collections::HashSet;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::tasks::{Example, Task};
use super::{mix, Preset};
use crate::error::{Error, Result};

/// Most tokens any answer needs, plus the end-of-sequence token.
const MAX_NEW_TOKENS: usize = 6;

/// Draws `n` distinct examples of `task` whose prompts are not in `exclude`.
fn distinct(task: Task, n: usize, seed: u64, exclude: &HashSet<String>) -> Vec<Example> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let ex = task.sample(&mut rng);
        if !exclude.contains(&ex.prompt) && seen.insert(ex.prompt.clone()) {
            out.push(ex);
        }
    }
    out
}

/// Writes `lines` to `path` atomically.
fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    crate::atomic::write(path, text.as_bytes())
}

/// Writes every split of every task into `out/data`, and `evals.yaml` / `evals-all.yaml`.
/// Held-out prompts never occur in the search split.
pub fn write_all(out: &Path, preset: &Preset, seed: u64) -> Result<()> {
    let data = out.join("data");
    std::fs::create_dir_all(&data).map_err(|e| Error::io(&data, e))?;
    for task in Task::ALL {
        let name = task.name();
        let search = distinct(
            task,
            preset.search_examples,
            mix(seed, &format!("{name} search")),
            &HashSet::new(),
        );
        let used: HashSet<String> = search.iter().map(|e| e.prompt.clone()).collect();
        let heldout = distinct(
            task,
            preset.heldout_examples,
            mix(seed, &format!("{name} heldout")),
            &used,
        );
        for (split, examples) in [("search", &search), ("heldout", &heldout)] {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, &format!("{name} {split} mc")));
            let plain: Vec<String> = examples
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "prompt": e.prompt, "answer": e.answer,
                        "text": format!("{} {}", e.prompt, e.answer), "continuation": e.answer,
                    })
                    .to_string()
                })
                .collect();
            let mc: Vec<String> = examples
                .iter()
                .map(|e| {
                    let mut choices = task.distractors(e, &mut rng);
                    choices.push(e.answer.clone());
                    choices.shuffle(&mut rng);
                    let answer = choices.iter().position(|c| *c == e.answer).unwrap_or(0);
                    serde_json::json!({"prompt": e.prompt, "choices": choices, "answer": answer})
                        .to_string()
                })
                .collect();
            write_lines(&data.join(format!("{name}.{split}.jsonl")), &plain)?;
            write_lines(&data.join(format!("{name}.mc.{split}.jsonl")), &mc)?;
        }
    }
    write_suites(out, "data")
}

/// The suite files: `evals.yaml` (exact-match accuracy per task, what searches optimize) and
/// `evals-all.yaml` (all four model harnesses per task). `data_dir` is relative to `out`.
pub fn write_suites(out: &Path, data_dir: &str) -> Result<()> {
    let splits = |file: &str| {
        format!(
            "{{search: {data_dir}/{file}.search.jsonl, heldout: {data_dir}/{file}.heldout.jsonl}}"
        )
    };
    let mut em = String::from(
        "# Exact-match accuracy of greedy answers on each zoo task (written by `mergesearch zoo`).\nharnesses:\n",
    );
    let mut all = String::from(
        "# Every model harness on every zoo task (written by `mergesearch zoo`).\nharnesses:\n",
    );
    for task in Task::ALL {
        let n = task.name();
        let entry = format!(
            "  - type: exact_match\n    name: {n}\n    data: {}\n    max_new_tokens: {MAX_NEW_TOKENS}\n",
            splits(n)
        );
        em.push_str(&entry);
        all.push_str(&entry);
        all.push_str(&format!(
            "  - type: multiple_choice\n    name: {n}-mc\n    data: {}\n",
            splits(&format!("{n}.mc"))
        ));
        all.push_str(&format!(
            "  - type: perplexity\n    name: {n}-ppl\n    data: {}\n",
            splits(n)
        ));
        all.push_str(&format!(
            "  - type: entropy\n    name: {n}-entropy\n    data: {}\n",
            splits(n)
        ));
    }
    for (file, text) in [("evals.yaml", em), ("evals-all.yaml", all)] {
        crate::atomic::write(&out.join(file), text.as_bytes())?;
    }
    Ok(())
}
