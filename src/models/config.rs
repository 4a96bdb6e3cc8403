//! The subset of an HF `config.json` that the llama-family forward pass needs (read by
//! [`super::read_config`], which lists every key and where transformers defines it).

use std::path::Path;

use serde_json::{Map, Value};

use super::read_config::Reader;
pub use super::rope::{Rope, RopeScaling};

use crate::{Error, Result};

/// Which member of the llama family a config describes; selects biases and q/k norms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `llama` and `mistral`: no biases, no q/k norms.
    Llama,
    /// `qwen2`: the q, k and v projections carry a bias.
    Qwen2,
    /// `qwen3`: RMSNorm over `head_dim` applied per head to q and k before RoPE.
    Qwen3,
}

impl Variant {
    /// Whether the q, k and v projections have a bias.
    pub fn qkv_bias(self) -> bool {
        self == Variant::Qwen2
    }

    /// Whether q and k go through a per-head RMSNorm before RoPE.
    pub fn qk_norm(self) -> bool {
        self == Variant::Qwen3
    }
}

/// A validated llama-family config with the HF defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// The variant selected by `model_type` (or, failing that, `architectures`).
    pub variant: Variant,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the gated MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention); defaults to the query heads.
    pub num_key_value_heads: usize,
    /// Per-head width; defaults to `hidden_size / num_attention_heads`.
    pub head_dim: usize,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// RoPE base and scaling (`rope_theta` / `rope_scaling`, or transformers 5's
    /// `rope_parameters`).
    pub rope: Rope,
    /// Vocabulary size (rows of the embedding and of the LM head).
    pub vocab_size: usize,
    /// Whether the LM head reuses the token embedding.
    pub tie_word_embeddings: bool,
    /// `attention_bias` (llama, qwen3): q, k, v **and** o projections carry a bias.
    pub attention_bias: bool,
    /// `mlp_bias` (llama): gate, up and down projections carry a bias.
    pub mlp_bias: bool,
    /// Per layer: the sliding attention window (a query sees itself and the `w − 1` keys
    /// before it), or `None` for full causal attention.
    pub sliding_window: Vec<Option<usize>>,
}

impl LlamaConfig {
    /// Every tensor [`crate::models::Model::load`] reads for this config: HF names and shapes
    /// (q/k/v biases for `qwen2`, q/k norms for `qwen3`, `lm_head` unless tied).
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (h, i, d) = (self.hidden_size, self.intermediate_size, self.head_dim);
        let (q, kv) = (self.num_attention_heads * d, self.num_key_value_heads * d);
        let mut v = vec![(
            "model.embed_tokens.weight".to_string(),
            vec![self.vocab_size, h],
        )];
        for l in 0..self.num_hidden_layers {
            let p = format!("model.layers.{l}");
            v.push((format!("{p}.input_layernorm.weight"), vec![h]));
            for (name, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
                v.push((format!("{p}.self_attn.{name}.weight"), vec![rows, h]));
                if self.qkv_bias() {
                    v.push((format!("{p}.self_attn.{name}.bias"), vec![rows]));
                }
            }
            v.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
            if self.attention_bias {
                v.push((format!("{p}.self_attn.o_proj.bias"), vec![h]));
            }
            if self.variant.qk_norm() {
                v.push((format!("{p}.self_attn.q_norm.weight"), vec![d]));
                v.push((format!("{p}.self_attn.k_norm.weight"), vec![d]));
            }
            v.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            for (name, shape) in [
                ("gate_proj", [i, h]),
                ("up_proj", [i, h]),
                ("down_proj", [h, i]),
            ] {
                v.push((format!("{p}.mlp.{name}.weight"), shape.to_vec()));
                if self.mlp_bias {
                    v.push((format!("{p}.mlp.{name}.bias"), vec![shape[0]]));
                }
            }
        }
        v.push(("model.norm.weight".to_string(), vec![h]));
        if !self.tie_word_embeddings {
            v.push(("lm_head.weight".to_string(), vec![self.vocab_size, h]));
        }
        v
    }

    /// Reads and validates `config.json` at `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_str(&text, path)
    }

    /// Whether the q, k and v projections carry a bias (always for qwen2, with
    /// `attention_bias` for llama and qwen3).
    pub fn qkv_bias(&self) -> bool {
        self.variant.qkv_bias() || self.attention_bias
    }

    /// Parses and validates config JSON; `path` only names the source in errors. Every key
    /// read is listed in [`crate::models::config`]'s module docs; a key that would change the
    /// math and is not supported is an error naming it.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let raw: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| Error::config(path, e.to_string()))?;
        Reader { raw: &raw, path }.config()
    }
}
