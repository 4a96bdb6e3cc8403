//! The zoo's word-level vocabulary and its Hugging Face `tokenizer.json`.
//!
//! Every token is a whitespace-separated word, so prompts and answers are readable text
//! (`rev c a f b e =` → `e b f a c`) and the tokenizer is a genuine `WordLevel` tokenizer
//! that `tokenizers` (and HF transformers) load unchanged.

use std::path::Path;

use crate::error::{Error, Result};

/// Unknown-word token (id 0; also the padding id the eval adapters use).
pub const UNK: &str = "<unk>";
/// End of sequence: every training sequence ends with it, generation stops at it.
pub const EOS: &str = "</s>";

/// Task markers and separators.
const WORDS: [&str; 5] = ["add", "rev", "sort", "count", "="];
/// Letters used by the letter tasks.
pub const LETTERS: [&str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
/// Digits used by the digit tasks.
pub const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Vocabulary size of the zoo's models (the words above, padded to a multiple of 8).
pub const VOCAB_SIZE: usize = 32;

/// All tokens in id order (padded with `<extra_N>` words nobody uses); built once, since
/// training encodes every example through it.
pub fn tokens() -> &'static [String] {
    static TOKENS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut v: Vec<String> = [UNK, EOS]
            .iter()
            .chain(WORDS.iter())
            .chain(DIGITS.iter())
            .chain(LETTERS.iter())
            .map(|s| s.to_string())
            .collect();
        let mut extra = 0;
        while v.len() < VOCAB_SIZE {
            v.push(format!("<extra_{extra}>"));
            extra += 1;
        }
        v
    })
}

/// The id of `word`.
///
/// # Panics
/// If `word` is not in the vocabulary (task generators only emit vocabulary words).
pub fn id(word: &str) -> u32 {
    tokens()
        .iter()
        .position(|t| t == word)
        .unwrap_or_else(|| panic!("`{word}` is not a zoo token")) as u32
}

/// Maps a space-separated text to ids (the same split the tokenizer makes).
pub fn encode(text: &str) -> Vec<u32> {
    text.split_whitespace().map(id).collect()
}

/// Writes `tokenizer.json` (WordLevel, whitespace pre-tokenizer, `<unk>` and `</s>` special)
/// and `tokenizer_config.json` (naming `</s>` as end of sequence) into `dir`.
pub fn write_tokenizer(dir: &Path) -> Result<()> {
    let toks = tokens();
    let vocab: serde_json::Map<String, serde_json::Value> = toks
        .iter()
        .enumerate()
        .map(|(i, w)| (w.clone(), i.into()))
        .collect();
    let special = |id: usize, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, UNK), special(1, EOS)],
        "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": UNK},
    });
    let config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": EOS, "unk_token": UNK,
        "pad_token": UNK, "model_max_length": 64, "clean_up_tokenization_spaces": false,
    });
    for (name, value) in [
        ("tokenizer.json", tokenizer),
        ("tokenizer_config.json", config),
    ] {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(&value).expect("JSON values serialize");
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
