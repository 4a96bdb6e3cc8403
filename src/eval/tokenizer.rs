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
        Ok(Self {
            inner,
            eos,
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
}
