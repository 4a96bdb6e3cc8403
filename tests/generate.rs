//! KV-cached batched greedy generation (`LlamaLm::greedy`) against transformers' greedy
//! `generate` (tokens stored by `tests/fixtures/transformers/make_golden.py`) and against the
//! no-cache reference (`greedy_without_cache`: every step rescored in full): the same tokens,
//! for prompts of mixed lengths (left padding) with sequences stopping early, on every
//! transformers-made variant (RoPE scalings, biases, q/k norms, sliding windows shorter than
//! the sequences) and on the test zoo.

mod common;

use std::path::Path;

use mergesearch::eval::{HfTokenizer, LlamaLm};
use mergesearch_evals::{greedy_without_cache, CausalLm, TextTokenizer};

/// The prompts and transformers' greedy tokens stored by `make_golden.py` for `name`.
fn transformers_generate(dir: &Path) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("logits.json")).unwrap()).unwrap();
    let g = &v["generate"];
    (
        serde_json::from_value(g["prompts"].clone()).unwrap(),
        serde_json::from_value(g["tokens"].clone()).unwrap(),
    )
}

/// Sequence i stops after `3 + 2i` tokens, or at token 7 (an "end token").
fn stop(i: usize, generated: &[u32]) -> bool {
    generated.len() >= 3 + 2 * i || generated.last() == Some(&7)
}

#[test]
fn cached_generation_equals_transformers_generate_and_full_recomputation() {
    for dir in common::transformers_fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let lm = LlamaLm::from_dir(&dir).unwrap();
        // Prompts of 5, 1, 13, 8 and 3 tokens, 20 new tokens: past every sliding window (6
        // and 8) and, for llama-dynamic, past max_position_embeddings (16).
        let (p, want) = transformers_generate(&dir);
        let cached = lm.greedy(&p, 20, &mut |_, _| false).unwrap();
        assert_eq!(cached, want, "{name}: transformers' generate");
        let name = name.as_str();
        if name == "llama-dynamic" {
            // Past max_position_embeddings the dynamic base grows with the length: a cache
            // keeps each key rotated as it was when cached (as transformers' generate does),
            // while a full recomputation re-rotates every key. They agree up to there.
            let short = lm.greedy(&p, 3, &mut |_, _| false).unwrap();
            let full = greedy_without_cache(&lm, &p, 3, &mut |_, _| false).unwrap();
            assert_eq!(short, full, "{name} within max_position_embeddings");
            continue;
        }
        let full = greedy_without_cache(&lm, &p, 20, &mut |_, _| false).unwrap();
        assert_eq!(cached, full, "{name}: full recomputation");
        let cached = lm.greedy(&p, 20, &mut stop).unwrap();
        let full = greedy_without_cache(&lm, &p, 20, &mut stop).unwrap();
        assert_eq!(cached, full, "{name} with early stops");
        for (i, g) in cached.iter().enumerate() {
            assert!(
                stop(i, g) && !stop(i, &g[..g.len() - 1]),
                "{name}: sequence {i} ran past its stop"
            );
        }
    }
}

#[test]
fn zoo_answers_are_the_same_with_and_without_the_cache() {
    let zoo = common::test_zoo();
    let dir = zoo.join("ft-add");
    let lm = LlamaLm::from_dir(&dir).unwrap();
    let tok = HfTokenizer::from_dir(&dir).unwrap();
    let eos = tok.eos_id();
    let text = std::fs::read_to_string(zoo.join("data/add.search.jsonl")).unwrap();
    let prompts: Vec<Vec<u32>> = text
        .lines()
        .take(16)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            tok.encode(v["prompt"].as_str().unwrap()).unwrap()
        })
        .collect();
    let mut at_eos = |_: usize, g: &[u32]| g.last().copied() == eos;
    let cached = lm.greedy(&prompts, 6, &mut at_eos).unwrap();
    let mut at_eos = |_: usize, g: &[u32]| g.last().copied() == eos;
    let full = greedy_without_cache(&lm, &prompts, 6, &mut at_eos).unwrap();
    assert_eq!(cached, full);
    // The fine-tune answers its own task: most generations end with the end token.
    let ended = cached.iter().filter(|g| g.last().copied() == eos).count();
    assert!(ended >= 12, "{ended} of 16 ended at EOS");
}
