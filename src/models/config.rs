//! The subset of an HF `config.json` that the llama-family forward pass needs.

use std::path::Path;

use serde::Deserialize;

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
    /// Maps an HF `model_type` (`llama`, `mistral`, `qwen2`, `qwen3`) to a variant.
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        match model_type.to_ascii_lowercase().as_str() {
            "llama" | "mistral" => Some(Variant::Llama),
            "qwen2" => Some(Variant::Qwen2),
            "qwen3" => Some(Variant::Qwen3),
            _ => None,
        }
    }

    /// Maps an HF architecture name (`LlamaForCausalLM`, `Qwen2ForCausalLM`, ...) to a variant.
    pub fn from_architecture(arch: &str) -> Option<Self> {
        let arch = arch.to_ascii_lowercase();
        if arch.starts_with("qwen3") && !arch.starts_with("qwen3moe") {
            Some(Variant::Qwen3)
        } else if arch.starts_with("qwen2") && !arch.starts_with("qwen2moe") {
            Some(Variant::Qwen2)
        } else if arch.starts_with("llama") || arch.starts_with("mistral") {
            Some(Variant::Llama)
        } else {
            None
        }
    }

    /// Whether the q, k and v projections have a bias.
    pub fn qkv_bias(self) -> bool {
        self == Variant::Qwen2
    }

    /// Whether q and k go through a per-head RMSNorm before RoPE.
    pub fn qk_norm(self) -> bool {
        self == Variant::Qwen3
    }
}

/// The raw fields read from `config.json` (unknown fields are ignored: HF configs carry many).
#[derive(Debug, Clone, Deserialize)]
struct RawConfig {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: f64,
    rope_theta: Option<f64>,
    vocab_size: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    model_type: Option<String>,
    architectures: Option<Vec<String>>,
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
    /// RoPE base frequency; defaults to 10000.
    pub rope_theta: f64,
    /// Vocabulary size (rows of the embedding and of the LM head).
    pub vocab_size: usize,
    /// Whether the LM head reuses the token embedding.
    pub tie_word_embeddings: bool,
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
                if self.variant.qkv_bias() {
                    v.push((format!("{p}.self_attn.{name}.bias"), vec![rows]));
                }
            }
            v.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
            if self.variant.qk_norm() {
                v.push((format!("{p}.self_attn.q_norm.weight"), vec![d]));
                v.push((format!("{p}.self_attn.k_norm.weight"), vec![d]));
            }
            v.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            v.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
            v.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
            v.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
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

    /// Parses and validates config JSON; `path` only names the source in errors.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| Error::config(path, e.to_string()))?;
        let variant = raw
            .model_type
            .as_deref()
            .and_then(Variant::from_model_type)
            .or_else(|| {
                raw.architectures
                    .iter()
                    .flatten()
                    .find_map(|a| Variant::from_architecture(a))
            })
            .ok_or_else(|| {
                Error::config(
                    path,
                    format!(
                        "model_type {:?} / architectures {:?}: expected llama, mistral, qwen2 or qwen3",
                        raw.model_type, raw.architectures
                    ),
                )
            })?;
        let heads = raw.num_attention_heads;
        let kv_heads = raw.num_key_value_heads.unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
            return Err(Error::config(
                path,
                format!("num_attention_heads {heads} must be a positive multiple of num_key_value_heads {kv_heads}"),
            ));
        }
        let head_dim = match raw.head_dim {
            Some(d) => d,
            None if raw.hidden_size % heads == 0 => raw.hidden_size / heads,
            None => {
                return Err(Error::config(
                    path,
                    format!(
                        "hidden_size {} is not divisible by num_attention_heads {heads}",
                        raw.hidden_size
                    ),
                ))
            }
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(Error::config(
                path,
                format!("head_dim {head_dim} must be even and positive (RoPE)"),
            ));
        }
        Ok(LlamaConfig {
            variant,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            rms_norm_eps: raw.rms_norm_eps,
            rope_theta: raw.rope_theta.unwrap_or(10_000.0),
            vocab_size: raw.vocab_size,
            tie_word_embeddings: raw.tie_word_embeddings,
        })
    }
}
