//! The raw mergekit YAML, mirrored field for field; unknown keys are rejected.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::setting::Setting;
use crate::error::{Error, Result};

/// Named parameter settings (`weight`, `density`, `t`, ...).
pub type Parameters = BTreeMap<String, Setting>;

/// A mergekit merge configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Merge method name (`ties`, `slerp`, ...).
    pub merge_method: String,
    /// The base model directory, for methods that merge task vectors or need an anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// Whole models to merge (exclusive with `slices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<InputModel>>,
    /// Output slices built from layer ranges of the inputs (exclusive with `models`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Vec<OutputSlice>>,
    /// Global parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
    /// Dtype inputs are cast to before merging (mergekit semantics); merging itself is f32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Dtype of the written tensors (defaults to `dtype`, else the base tensor's dtype).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_dtype: Option<String>,
    /// Where tokenizer files come from: `base` or a model directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer_source: Option<String>,
}

/// One entry of `models:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputModel {
    /// Model directory.
    pub model: String,
    /// Per-model parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

/// One entry of `slices:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSlice {
    /// The inputs merged into this slice; all cover the same number of layers.
    pub sources: Vec<InputSlice>,
    /// Base model for this slice (defaults to the global one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// Slice-level parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

/// One source of a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSlice {
    /// Model directory.
    pub model: String,
    /// Half-open layer range `[start, end)`.
    pub layer_range: [usize; 2],
    /// Per-source parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

impl MergeConfig {
    /// Parses YAML text; `path` only labels errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<MergeConfig> {
        serde_saphyr::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg
                .trim_start_matches("error: ")
                .replace("<input>", &path.display().to_string());
            Error::config(path, msg)
        })
    }

    /// Reads and parses a YAML file.
    pub fn load(path: &Path) -> Result<MergeConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_yaml(&text, path)
    }

    /// Serializes back to mergekit YAML (written as `mergekit_config.yml`).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# unserializable config: {e}\n"))
    }
}
