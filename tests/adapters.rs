//! The eval adapters: `HfTokenizer` over a tiny WordLevel `tokenizer.json`, and `LlamaLm`,
//! whose per-sequence logits for a right-padded batch equal single-sequence runs (the
//! model's padding mask at work) and are trimmed to each sequence's length.

mod common;

use std::path::Path;

use common::{write_model, ModelSpec, VOCAB};
use mergesearch::eval::{HfTokenizer, LlamaLm};
use mergesearch_evals::{CausalLm, TextTokenizer};

/// The test vocabulary: `<unk>`, `</s>` and 14 words, one id per row of the test models.
const WORDS: [&str; VOCAB] = [
    "<unk>", "</s>", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
];

/// Writes a WordLevel tokenizer (whitespace pre-tokenizer) into `dir`.
fn write_tokenizer(dir: &Path) -> std::path::PathBuf {
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), i.into()))
        .collect();
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    });
    let p = dir.join("tokenizer.json");
    std::fs::write(&p, json.to_string()).unwrap();
    p
}

#[test]
fn tokenizer_round_trips_and_finds_eos() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = HfTokenizer::from_file(&write_tokenizer(tmp.path())).unwrap();
    assert_eq!(tok.vocab_size(), VOCAB);
    let ids = tok.encode("a c  n b").unwrap();
    assert_eq!(ids, vec![2, 4, 15, 3]);
    assert_eq!(tok.decode(&ids).unwrap(), "a c n b");
    assert_eq!(
        tok.encode("a zzz").unwrap(),
        vec![2, 0],
        "unknown word → <unk>"
    );
    assert_eq!(tok.eos_id(), Some(1), "`</s>` found in the vocabulary");

    // tokenizer_config.json's eos_token wins, and a missing one is an error naming it.
    std::fs::write(
        tmp.path().join("tokenizer_config.json"),
        r#"{"eos_token": {"content": "n"}}"#,
    )
    .unwrap();
    assert_eq!(
        HfTokenizer::from_dir(tmp.path()).unwrap().eos_id(),
        Some(15)
    );
    std::fs::write(
        tmp.path().join("tokenizer_config.json"),
        r#"{"eos_token": "<|nope|>"}"#,
    )
    .unwrap();
    let err = HfTokenizer::from_dir(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("<|nope|>"), "{err}");
}

#[test]
fn bad_tokenizer_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("tokenizer.json");
    std::fs::write(&p, "{not json").unwrap();
    let err = HfTokenizer::from_file(&p).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

#[test]
fn padded_batch_logits_equal_single_sequence_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model(&dir, &ModelSpec::new(1).layers(2));
    let lm = LlamaLm::from_dir(&dir).unwrap();
    assert_eq!(lm.vocab_size(), VOCAB);
    let batch = vec![vec![2u32, 7, 9, 1, 15], vec![3, 3], vec![], vec![14, 0, 5]];
    let out = lm.logits(&batch).unwrap();
    assert_eq!(out.len(), batch.len());
    for (seq, got) in batch.iter().zip(&out) {
        assert_eq!(got.len(), seq.len() * VOCAB);
        if seq.is_empty() {
            continue;
        }
        let alone = &lm.logits(std::slice::from_ref(seq)).unwrap()[0];
        for (i, (a, b)) in got.iter().zip(alone).enumerate() {
            assert!((a - b).abs() <= 1e-5, "{seq:?}[{i}]: batch {a}, alone {b}");
        }
    }
    assert!(lm.logits(&[]).unwrap().is_empty());
    let err = lm.logits(&[vec![2, VOCAB as u32]]).unwrap_err().to_string();
    assert!(err.contains(&VOCAB.to_string()), "{err}");
}
