//! Synthetic llama-shaped checkpoints for benchmarks: deterministic pseudo-random weights,
//! genuine HF layout (config.json + model.safetensors).

use std::path::Path;

use anyhow::Result;
use rayon::prelude::*;

use crate::checkpoint::{DType, PlannedTensor};
use crate::models::{LlamaConfig, Variant};

/// Dimensions of a llama-family model.
#[derive(Debug, Clone, Copy)]
pub struct LlamaShape {
    /// Vocabulary size.
    pub vocab: usize,
    /// Hidden size.
    pub hidden: usize,
    /// MLP intermediate size.
    pub intermediate: usize,
    /// Decoder layers.
    pub layers: usize,
}

impl LlamaShape {
    /// Vocab 32000, 16 layers, intermediate = 2.75 × hidden, hidden (a multiple of 64) chosen
    /// to approach `params`. 271 M gives hidden 1024 / intermediate 2816, the issue's reference.
    pub fn for_params(params: u64) -> LlamaShape {
        let (vocab, layers) = (32000usize, 16usize);
        // params ≈ 2·vocab·h + layers·(4h² + 3·2.75h²) = 2·vocab·h + 12.25·layers·h².
        let a = 12.25 * layers as f64;
        let b = 2.0 * vocab as f64;
        let h = (-b + (b * b + 4.0 * a * params as f64).sqrt()) / (2.0 * a);
        let hidden = ((h / 64.0).round() as usize).max(1) * 64;
        LlamaShape {
            vocab,
            hidden,
            intermediate: hidden * 11 / 4,
            layers,
        }
    }

    /// Parameter count.
    pub fn params(&self) -> usize {
        let (h, i) = (self.hidden, self.intermediate);
        2 * self.vocab * h + h + self.layers * (4 * h * h + 3 * h * i + 2 * h)
    }

    /// The llama config of this shape with `(num_attention_heads, num_key_value_heads)` =
    /// `heads` (`hidden` must be a multiple of the query heads).
    pub fn config(&self, heads: (usize, usize)) -> LlamaConfig {
        LlamaConfig {
            variant: Variant::Llama,
            hidden_size: self.hidden,
            intermediate_size: self.intermediate,
            num_hidden_layers: self.layers,
            num_attention_heads: heads.0,
            num_key_value_heads: heads.1,
            head_dim: self.hidden / heads.0,
            rms_norm_eps: 1e-5,
            rope: crate::models::config::Rope::plain(10000.0),
            vocab_size: self.vocab,
            tie_word_embeddings: false,
            attention_bias: false,
            mlp_bias: false,
            sliding_window: vec![None; self.layers],
        }
    }

    /// Every tensor's (name, shape), HF llama naming, no biases, as many key/value heads as
    /// query heads.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        self.config((1, 1)).tensor_shapes()
    }
}

/// Writes a model: variant 0 is the base; others add a small variant-specific perturbation.
/// bf16, one key/value head per query head, head_dim 64.
pub fn write_model(dir: &Path, shape: &LlamaShape, variant: u64) -> Result<()> {
    let heads = (shape.hidden / 64).max(1);
    write_model_as(dir, shape, (heads, heads), DType::BF16, variant)
}

/// [`write_model`] with `(num_attention_heads, num_key_value_heads)` = `heads` and the weights
/// stored as `dtype`. The config carries `max_position_embeddings` (4096, candle-transformers'
/// default) so other llama implementations read it too.
pub fn write_model_as(
    dir: &Path,
    shape: &LlamaShape,
    heads: (usize, usize),
    dtype: DType,
    variant: u64,
) -> Result<()> {
    let tensors = shape
        .config(heads)
        .tensor_shapes()
        .into_iter()
        .enumerate()
        .map(|(ti, (name, dims))| {
            let planned = PlannedTensor {
                name,
                dtype,
                shape: dims,
            };
            let fill = move |v: &mut [f32]| {
                v.par_chunks_mut(1 << 16).enumerate().for_each(|(c, ch)| {
                    for (j, x) in ch.iter_mut().enumerate() {
                        let i = (c << 16) + j;
                        let base = hash01(ti as u64, i as u64, 0) - 0.5;
                        let delta = if variant == 0 {
                            0.0
                        } else {
                            hash01(ti as u64, i as u64, variant) - 0.5
                        };
                        *x = 0.04 * base + 0.002 * delta;
                    }
                });
            };
            (planned, Box::new(fill) as super::Filler)
        })
        .collect();
    super::write_tensors(dir, tensors)?;
    let torch_dtype = match dtype {
        DType::F32 => "float32",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
    };
    let cfg = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": heads.0,
        "num_key_value_heads": heads.1,
        "vocab_size": shape.vocab,
        "rms_norm_eps": 1e-5,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": false,
        "torch_dtype": torch_dtype,
    });
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg)?)?;
    Ok(())
}

/// A stateless 64-bit hash of (a, b, c): the SplitMix64 finalizer over a mixed sum.
pub fn mix64(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(b.wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add(c.wrapping_mul(0x94d0_49bb_1331_11eb));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// [`mix64`] of (a, b, c) mapped to [0, 1).
fn hash01(a: u64, b: u64, c: u64) -> f32 {
    (mix64(a, b, c) >> 40) as f32 / (1u64 << 24) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_shape_matches_the_issue() {
        // The issue's 271M model: vocab 32000, hidden 1024, 16 layers.
        let s = LlamaShape::for_params(271_000_000);
        assert_eq!((s.hidden, s.intermediate, s.layers), (1024, 2816, 16));
        assert!((s.params() as f64 - 271e6).abs() / 271e6 < 0.01);
    }
}
