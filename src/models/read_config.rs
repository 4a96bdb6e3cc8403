//! Reading an HF `config.json` into a [`LlamaConfig`], as transformers reads it (the
//! `LlamaConfig`, `MistralConfig`, `Qwen2Config` and `Qwen3Config` classes and
//! `modeling_rope_utils.py` of transformers 5; transformers 4's layout too).
//!
//! Keys read, with where transformers defines them:
//!
//! | key | meaning | transformers |
//! |---|---|---|
//! | `model_type`, `architectures` | llama / mistral / qwen2 / qwen3 | `PreTrainedConfig` |
//! | `hidden_size`, `intermediate_size`, `num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`, `head_dim`, `rms_norm_eps`, `vocab_size`, `tie_word_embeddings` | shape | each model's config class |
//! | `hidden_act` | must be `silu` | each model's config class |
//! | `rope_theta` (4), `rope_scaling` (4), `rope_parameters` (5) | RoPE base and scaling: `rope_type` (or `type`) `default`, `linear`, `dynamic`, `llama3`, `yarn` with their keys | `modeling_rope_utils.py` (`RotaryEmbeddingConfigMixin`) |
//! | `partial_rotary_factor` | must be 1 | `modeling_rope_utils.py` |
//! | `max_position_embeddings`, `original_max_position_embeddings` | dynamic / llama3 / yarn | `modeling_rope_utils.py` |
//! | `attention_bias` | llama, qwen3: q/k/v/o biases | `LlamaConfig`, `Qwen3Config` |
//! | `mlp_bias` | llama: MLP biases | `LlamaConfig` |
//! | `sliding_window` | mistral: every layer (default 4096, `null` = none) | `MistralConfig` |
//! | `use_sliding_window`, `sliding_window`, `max_window_layers`, `layer_types` | qwen2, qwen3: sliding layers | `Qwen2Config`, `Qwen3Config` |
//!
//! Keys of other architectures that change the math (soft-capping, µP multipliers, experts,
//! chunked attention, interleaved RoPE, ...) are refused when set, naming the key, its value
//! and the file; so is any key of a RoPE dictionary that its `rope_type` does not use.

use std::path::Path;

use serde_json::{Map, Value};

use super::config::{LlamaConfig, Variant};
use super::rope::{yarn_mscale, Rope, RopeScaling};
use crate::{Error, Result};

/// Keys other architectures use that change the forward pass; refused unless neutral.
const UNSUPPORTED: &[&str] = &[
    "attn_logit_softcapping",
    "final_logit_softcapping",
    "query_pre_attn_scalar",
    "logits_scaling",
    "embedding_multiplier",
    "residual_multiplier",
    "attention_multiplier",
    "num_experts",
    "num_local_experts",
    "n_routed_experts",
    "attention_chunk_size",
    "no_rope_layers",
    "use_qk_norm",
    "rope_interleave",
];

/// A config file being read.
pub(super) struct Reader<'a> {
    pub raw: &'a Map<String, Value>,
    pub path: &'a Path,
}

impl Reader<'_> {
    fn err(&self, key: &str, msg: impl std::fmt::Display) -> Error {
        Error::config(self.path, format!("`{key}`: {msg}"))
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key).filter(|v| !v.is_null())
    }

    fn usize_in(&self, map: &Map<String, Value>, key: &str) -> Result<Option<usize>> {
        match map.get(key).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| self.err(key, format!("{v} is not a non-negative integer"))),
        }
    }

    fn f64_in(&self, map: &Map<String, Value>, key: &str) -> Result<Option<f64>> {
        match map.get(key).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(key, format!("{v} is not a finite number"))),
        }
    }

    fn bool_in(&self, map: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
        match map.get(key).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.err(key, format!("{v} is not true or false"))),
        }
    }

    fn usize(&self, key: &str) -> Result<Option<usize>> {
        self.usize_in(self.raw, key)
    }

    fn required(&self, key: &str) -> Result<usize> {
        self.usize(key)?
            .ok_or_else(|| self.err(key, "missing (a llama-family config needs it)"))
    }

    /// The model family: `llama`, `mistral`, `qwen2` or `qwen3`.
    fn family(&self) -> Result<&'static str> {
        let model_type = self.raw.get("model_type").and_then(Value::as_str);
        let from_type = model_type.and_then(|t| match t.to_ascii_lowercase().as_str() {
            "llama" => Some("llama"),
            "mistral" => Some("mistral"),
            "qwen2" => Some("qwen2"),
            "qwen3" => Some("qwen3"),
            _ => None,
        });
        let archs: Vec<&str> = self
            .raw
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let from_arch = || {
            archs.iter().find_map(|a| {
                let a = a.to_ascii_lowercase();
                if a.starts_with("qwen3") && !a.starts_with("qwen3moe") {
                    Some("qwen3")
                } else if a.starts_with("qwen2") && !a.starts_with("qwen2moe") {
                    Some("qwen2")
                } else if a.starts_with("mistral") {
                    Some("mistral")
                } else if a.starts_with("llama") {
                    Some("llama")
                } else {
                    None
                }
            })
        };
        from_type.or_else(from_arch).ok_or_else(|| {
            Error::config(
                self.path,
                format!(
                    "model_type {model_type:?} / architectures {archs:?}: expected llama, mistral, qwen2 or qwen3"
                ),
            )
        })
    }

    /// Refuses the keys of [`UNSUPPORTED`] unless null, false, 0 or 1, and a `hidden_act`
    /// other than SiLU.
    fn refuse_unsupported(&self) -> Result<()> {
        for key in UNSUPPORTED {
            let neutral = match self.raw.get(*key) {
                None | Some(Value::Null) | Some(Value::Bool(false)) => true,
                Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x == 0.0 || x == 1.0),
                _ => false,
            };
            if !neutral {
                return Err(self.err(
                    key,
                    format!(
                        "{} changes the forward pass and mergesearch does not implement it",
                        self.raw[*key]
                    ),
                ));
            }
        }
        if let Some(act) = self.get("hidden_act") {
            if act.as_str() != Some("silu") {
                return Err(self.err(
                    "hidden_act",
                    format!("{act}: only \"silu\" (SwiGLU) is implemented"),
                ));
            }
        }
        Ok(())
    }

    /// Reads the whole config.
    pub fn config(&self) -> Result<LlamaConfig> {
        self.refuse_unsupported()?;
        let family = self.family()?;
        let variant = match family {
            "qwen2" => Variant::Qwen2,
            "qwen3" => Variant::Qwen3,
            _ => Variant::Llama,
        };
        let hidden_size = self.required("hidden_size")?;
        let heads = self.required("num_attention_heads")?;
        let kv_heads = self.usize("num_key_value_heads")?.unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 {
            return Err(Error::config(
                self.path,
                format!("num_attention_heads {heads} must be a positive multiple of num_key_value_heads {kv_heads}"),
            ));
        }
        let head_dim = match self.usize("head_dim")? {
            Some(d) => d,
            None if hidden_size % heads == 0 => hidden_size / heads,
            None => {
                return Err(Error::config(
                    self.path,
                    format!(
                        "hidden_size {hidden_size} is not divisible by num_attention_heads {heads}"
                    ),
                ))
            }
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(Error::config(
                self.path,
                format!("head_dim {head_dim} must be even and positive (RoPE)"),
            ));
        }
        let layers = self.required("num_hidden_layers")?;
        let rms_norm_eps = self
            .f64_in(self.raw, "rms_norm_eps")?
            .ok_or_else(|| self.err("rms_norm_eps", "missing"))?;
        let flag =
            |key: &str| -> Result<bool> { Ok(self.bool_in(self.raw, key)?.unwrap_or(false)) };
        Ok(LlamaConfig {
            variant,
            hidden_size,
            intermediate_size: self.required("intermediate_size")?,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            num_key_value_heads: kv_heads,
            head_dim,
            rms_norm_eps,
            rope: self.rope()?,
            vocab_size: self.required("vocab_size")?,
            tie_word_embeddings: flag("tie_word_embeddings")?,
            // transformers' Qwen2 and Mistral attention have no such switch (qwen2's q/k/v
            // always carry a bias, mistral's never): the key is read where it exists.
            attention_bias: matches!(family, "llama" | "qwen3") && flag("attention_bias")?,
            mlp_bias: family == "llama" && flag("mlp_bias")?,
            sliding_window: self.windows(family, layers)?,
        })
    }

    /// The sliding window of each layer.
    fn windows(&self, family: &str, layers: usize) -> Result<Vec<Option<usize>>> {
        let window = || -> Result<Option<usize>> {
            // transformers' default when the key is absent; `null` turns it off.
            match self.raw.get("sliding_window") {
                None => Ok(Some(4096)),
                Some(Value::Null) => Ok(None),
                Some(_) => match self.usize("sliding_window")? {
                    Some(0) => Err(self.err("sliding_window", "0 would let a token see nothing")),
                    w => Ok(w),
                },
            }
        };
        let types: Option<Vec<&str>> = match self.get("layer_types") {
            None => None,
            Some(Value::Array(a)) => {
                let t: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
                let t = t.filter(|t| {
                    t.len() == layers
                        && t.iter()
                            .all(|x| *x == "full_attention" || *x == "sliding_attention")
                });
                Some(t.ok_or_else(|| {
                    self.err(
                        "layer_types",
                        format!("expected {layers} entries, each \"full_attention\" or \"sliding_attention\""),
                    )
                })?)
            }
            Some(v) => return Err(self.err("layer_types", format!("{v} is not a list"))),
        };
        match family {
            "mistral" => Ok(vec![window()?; layers]),
            "qwen2" | "qwen3" => {
                if !self
                    .bool_in(self.raw, "use_sliding_window")?
                    .unwrap_or(false)
                {
                    return Ok(vec![None; layers]);
                }
                let Some(w) = window()? else {
                    return Ok(vec![None; layers]);
                };
                let first = self.usize("max_window_layers")?.unwrap_or(28);
                Ok((0..layers)
                    .map(|i| {
                        let sliding = match &types {
                            Some(t) => t[i] == "sliding_attention",
                            None => i >= first,
                        };
                        sliding.then_some(w)
                    })
                    .collect())
            }
            _ => {
                if types
                    .as_ref()
                    .is_some_and(|t| t.contains(&"sliding_attention"))
                {
                    return Err(self.err(
                        "layer_types",
                        "sliding layers in a llama config: transformers' llama has no sliding window",
                    ));
                }
                Ok(vec![None; layers])
            }
        }
    }

    /// RoPE base and scaling from `rope_parameters` (transformers 5) or `rope_theta` and
    /// `rope_scaling` (transformers 4).
    fn rope(&self) -> Result<Rope> {
        let (key, params) = match (self.get("rope_parameters"), self.get("rope_scaling")) {
            (Some(Value::Object(p)), _) => ("rope_parameters", p.clone()),
            (Some(v), _) => {
                return Err(self.err("rope_parameters", format!("{v} is not an object")))
            }
            (None, Some(Value::Object(p))) => ("rope_scaling", p.clone()),
            (None, Some(v)) => {
                return Err(self.err("rope_scaling", format!("{v} is not an object")))
            }
            (None, None) => ("rope_scaling", Map::new()),
        };
        if params.values().any(Value::is_object) {
            return Err(self.err(
                key,
                "RoPE parameters per layer type are not supported (one dictionary for every layer is)",
            ));
        }
        let theta = match self.f64_in(&params, "rope_theta")? {
            Some(t) => t,
            None => self.f64_in(self.raw, "rope_theta")?.unwrap_or(10_000.0),
        };
        if theta <= 1.0 {
            return Err(self.err("rope_theta", format!("{theta} must be greater than 1")));
        }
        for (map, k) in [
            (&params, format!("{key}.partial_rotary_factor")),
            (self.raw, "partial_rotary_factor".into()),
        ] {
            if let Some(f) = self.f64_in(map, "partial_rotary_factor")? {
                if f != 1.0 {
                    return Err(self.err(
                        &k,
                        format!("{f}: only a RoPE over the whole head (1.0) is implemented"),
                    ));
                }
            }
        }
        let rope_type = params
            .get("rope_type")
            .or_else(|| params.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let allowed: &[&str] = match rope_type.as_str() {
            "default" => &[],
            "linear" | "dynamic" => &["factor"],
            "llama3" => &[
                "factor",
                "low_freq_factor",
                "high_freq_factor",
                "original_max_position_embeddings",
            ],
            "yarn" => &[
                "factor",
                "original_max_position_embeddings",
                "attention_factor",
                "beta_fast",
                "beta_slow",
                "mscale",
                "mscale_all_dim",
                "truncate",
            ],
            other => {
                return Err(self.err(
                    &format!("{key}.rope_type"),
                    format!(
                    "{other:?} is not implemented (default, linear, dynamic, llama3 and yarn are)"
                ),
                ))
            }
        };
        let common = ["rope_type", "type", "rope_theta", "partial_rotary_factor"];
        if let Some(k) = params
            .keys()
            .find(|k| !common.contains(&k.as_str()) && !allowed.contains(&k.as_str()))
        {
            return Err(self.err(
                &format!("{key}.{k}"),
                format!(
                    "{} is not a parameter of rope_type {rope_type:?}",
                    params[k]
                ),
            ));
        }
        let num = |k: &str| -> Result<Option<f64>> {
            self.f64_in(&params, k).map_err(|_| {
                self.err(
                    &format!("{key}.{k}"),
                    format!("{} is not a finite number", params[k]),
                )
            })
        };
        let need = |k: &str| -> Result<f64> {
            num(k)?.ok_or_else(|| {
                self.err(
                    &format!("{key}.{k}"),
                    format!("missing (rope_type {rope_type:?} needs it)"),
                )
            })
        };
        let max_pos = || -> Result<usize> {
            self.usize("max_position_embeddings")?.ok_or_else(|| {
                self.err(
                    "max_position_embeddings",
                    format!("missing (rope_type {rope_type:?} needs it)"),
                )
            })
        };
        // transformers gives a top-level original_max_position_embeddings (Phi-3 style)
        // priority over the one in the RoPE dictionary, and falls back to max_position_embeddings.
        let original = || -> Result<f64> {
            match self.f64_in(self.raw, "original_max_position_embeddings")? {
                Some(o) => Ok(o),
                None => match num("original_max_position_embeddings")? {
                    Some(o) => Ok(o),
                    None => Ok(max_pos()? as f64),
                },
            }
        };
        let scaling = match rope_type.as_str() {
            "default" => RopeScaling::Default,
            "linear" => RopeScaling::Linear {
                factor: need("factor")?,
            },
            "dynamic" => RopeScaling::Dynamic {
                factor: need("factor")?,
                max_position_embeddings: max_pos()?,
            },
            "llama3" => RopeScaling::Llama3 {
                factor: need("factor")?,
                low_freq_factor: need("low_freq_factor")?,
                high_freq_factor: need("high_freq_factor")?,
                original_max_position_embeddings: original()?,
            },
            _ => {
                let old = original()?;
                // transformers requires `factor` for yarn (a KeyError when missing).
                let factor = need("factor")?;
                let attention_factor = match num("attention_factor")? {
                    Some(a) => a,
                    None => match (num("mscale")?, num("mscale_all_dim")?) {
                        (Some(m), Some(all)) if m != 0.0 && all != 0.0 => {
                            yarn_mscale(factor, m) / yarn_mscale(factor, all)
                        }
                        _ => yarn_mscale(factor, 1.0),
                    },
                };
                // transformers: `beta_fast or 32`, `beta_slow or 1` (0 counts as unset).
                let or = |v: Option<f64>, d: f64| v.filter(|x| *x != 0.0).unwrap_or(d);
                RopeScaling::Yarn {
                    factor,
                    original_max_position_embeddings: old,
                    attention_factor,
                    beta_fast: or(num("beta_fast")?, 32.0),
                    beta_slow: or(num("beta_slow")?, 1.0),
                    truncate: self.bool_in(&params, "truncate")?.unwrap_or(true),
                }
            }
        };
        Ok(Rope { theta, scaling })
    }
}
