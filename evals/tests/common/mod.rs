//! Test doubles: a bigram model from a hand-written probability table and a one-char-per-token
//! tokenizer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mergesearch_evals::{CausalLm, EvalError, TextTokenizer};

/// Logits at position i are `ln p(v | token_i)` from `table[token_i]`, so `log_softmax` of a
/// row gives back `ln p` exactly (the rows sum to 1).
pub struct Bigram {
    pub table: Vec<Vec<f64>>,
}

impl CausalLm for Bigram {
    fn vocab_size(&self) -> usize {
        self.table.len()
    }

    fn logits(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EvalError> {
        Ok(batch
            .iter()
            .map(|seq| {
                seq.iter()
                    .flat_map(|&t| self.table[t as usize].iter().map(|p| p.ln() as f32))
                    .collect()
            })
            .collect())
    }
}

/// One token per character of `alphabet`; `eos` (if any) is the id of an end token.
pub struct Chars {
    pub alphabet: Vec<char>,
    pub eos: Option<u32>,
}

impl Chars {
    pub fn new(alphabet: &str, eos: Option<u32>) -> Self {
        Self {
            alphabet: alphabet.chars().collect(),
            eos,
        }
    }
}

impl TextTokenizer for Chars {
    fn encode(&self, text: &str) -> Result<Vec<u32>, EvalError> {
        text.chars()
            .map(|c| {
                self.alphabet
                    .iter()
                    .position(|&a| a == c)
                    .map(|i| i as u32)
                    .ok_or_else(|| EvalError::Tokenizer(format!("unknown char {c:?}")))
            })
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EvalError> {
        Ok(ids.iter().map(|&i| self.alphabet[i as usize]).collect())
    }

    fn eos_id(&self) -> Option<u32> {
        self.eos
    }
}

/// Two-token model over "ab": p(·|a) = [0.5, 0.5], p(·|b) = [0.25, 0.75].
pub fn ab_model() -> (Bigram, Chars) {
    let model = Bigram {
        table: vec![vec![0.5, 0.5], vec![0.25, 0.75]],
    };
    (model, Chars::new("ab", None))
}

/// Writes `lines` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}
