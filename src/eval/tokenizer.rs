//! [`HfTokenizer`]: a Hugging Face `tokenizer.json` as a [`TextTokenizer`].

use std::path::{Path, PathBuf};

use mergesearch_evals::{EvalError, TextTokenizer};

use crate::error::{Error, Result};

/// End-of-sequence spellings tried when `tokenizer_config.json` names none.
const EOS_CANDIDATES: &[&str] = &[
    "</s>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<eos>",
    "<|im_end|>",
];

/// A `tokenizers` tokenizer read from a `tokenizer.json` file.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    eos: Option<u32>,
    unk: Option<u32>,
    path: PathBuf,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("path", &self.path)
            .field("eos", &self.eos)
            .finish()
    }
}

impl HfTokenizer {
    /// Reads `tokenizer.json` at `path`. The end-of-sequence token is `eos_token` of a
    /// `tokenizer_config.json` beside it, else the first of `</s>`, `<|endoftext|>`,
    /// `<|end_of_text|>`, `<eos>`, `<|im_end|>` the vocabulary has.
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner =
            tokenizers::Tokenizer::from_file(path).map_err(|e| Error::tokenizer(path, e))?;
        let named = path
            .parent()
            .map(|d| d.join("tokenizer_config.json"))
            .filter(|p| p.exists())
            .map(|p| -> Result<Option<String>> {
                let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
                let v: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| Error::tokenizer(&p, e))?;
                let eos = &v["eos_token"];
                Ok(eos
                    .as_str()
                    .or_else(|| eos["content"].as_str())
                    .map(str::to_string))
            })
            .transpose()?
            .flatten();
        let eos = match named {
            Some(tok) => Some(inner.token_to_id(&tok).ok_or_else(|| {
                Error::tokenizer(
                    path,
                    format!("eos_token `{tok}` of tokenizer_config.json is not in the vocabulary"),
                )
            })?),
            None => EOS_CANDIDATES.iter().find_map(|t| inner.token_to_id(t)),
        };
        let unk = unk_id(&inner);
        Ok(Self {
            inner,
            eos,
            unk,
            path: path.to_path_buf(),
        })
    }

    /// Reads `dir/tokenizer.json` (a model directory).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_file(&dir.join("tokenizer.json"))
    }

    /// The `tokenizer.json` this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tokens, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

impl TextTokenizer for HfTokenizer {
    fn encode(&self, text: &str) -> std::result::Result<Vec<u32>, EvalError> {
        self.inner
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| EvalError::Tokenizer(format!("{}: {e}", self.path.display())))
    }

    fn decode(&self, ids: &[u32]) -> std::result::Result<String, EvalError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| EvalError::Tokenizer(format!("{}: {e}", self.path.display())))
    }

    fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    fn unknown_words(&self, text: &str) -> Vec<String> {
        let Some(unk) = self.unk else {
            return Vec::new();
        };
        let Ok(enc) = self.inner.encode(text, false) else {
            return Vec::new();
        };
        enc.get_ids()
            .iter()
            .zip(enc.get_offsets())
            .filter(|(&id, _)| id == unk)
            .map(|(_, &(a, b))| text.get(a..b).unwrap_or("?").to_string())
            .collect()
    }
}

/// The id of the model's unknown token, for the models that have one (WordLevel, WordPiece,
/// BPE without byte fallback). A word that is not in the vocabulary encodes to it.
fn unk_id(t: &tokenizers::Tokenizer) -> Option<u32> {
    use tokenizers::models::ModelWrapper;
    let name = match t.get_model() {
        ModelWrapper::WordLevel(m) => Some(m.unk_token.clone()),
        ModelWrapper::WordPiece(m) => Some(m.unk_token.clone()),
        ModelWrapper::BPE(m) => m.unk_token.clone(),
        ModelWrapper::Unigram(_) => None,
    }?;
    t.token_to_id(&name)
}
