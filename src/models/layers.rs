//! Building blocks with a fast and a differentiable path: RMSNorm, RoPE and the attention bias.
//!
//! candle-nn's fused `rms_norm`, `softmax_last_dim` and `rope` have no backward pass (they
//! silently cut gradients), so each block here also has a path made of basic tensor ops.
//!
//! ## References
//! - Zhang & Sennrich 2019, "Root Mean Square Layer Normalization",
//!   <https://arxiv.org/abs/1910.07467>.
//! - Su et al. 2021, "RoFormer" (rotary position embedding; HF `rotate_half` layout),
//!   <https://arxiv.org/abs/2104.09864>.

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::VarBuilder;

/// Which kernels the forward pass uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    /// candle-nn's fused `rms_norm`, `softmax_last_dim` and `rope`: fast, but they record no
    /// gradient.
    Fast,
    /// Only ops with a backward pass (generic `softmax`, RMSNorm and RoPE from basic tensor
    /// ops), so `loss.backward()` reaches every weight.
    Differentiable,
}

/// RMSNorm `x / sqrt(mean(x^2) + eps) * weight` over the last dimension.
#[derive(Debug, Clone)]
pub(crate) struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub(crate) fn load(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(dim, "weight")?,
            eps,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        match mode {
            ForwardMode::Fast => {
                candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps as f32)
            }
            ForwardMode::Differentiable => {
                let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
                x.broadcast_div(&(ms + self.eps)?.sqrt()?)?
                    .broadcast_mul(&self.weight)
            }
        }
    }
}

/// RoPE tables `cos`/`sin` of shape `[t, head_dim / 2]` for positions `0..t` (see
/// [`rope_tables_at`]).
pub(crate) fn rope_tables(
    t: usize,
    head_dim: usize,
    rope: &super::rope::Rope,
    dev: &Device,
) -> Result<(Tensor, Tensor)> {
    let positions: Vec<u32> = (0..t as u32).collect();
    let (cos, sin) = rope_tables_at(&positions, t, head_dim, rope)?;
    Ok((cos.to_device(dev)?, sin.to_device(dev)?))
}

/// RoPE tables `[n, head_dim / 2]` (CPU) for arbitrary `positions` (one row each), with the
/// frequencies of `rope` for a batch of `seq_len` positions and its factor on cos and sin.
/// Frequencies are computed in f64 and rounded once; the angles are f32 products, as in
/// transformers' rotary embedding.
pub(crate) fn rope_tables_at(
    positions: &[u32],
    seq_len: usize,
    head_dim: usize,
    rope: &super::rope::Rope,
) -> Result<(Tensor, Tensor)> {
    let (inv_freq, scale) = rope.inv_freq(head_dim, seq_len);
    let inv_freq: Vec<f32> = inv_freq.iter().map(|&f| f as f32).collect();
    let dev = Device::Cpu;
    let inv_freq = Tensor::from_vec(inv_freq, (1, head_dim / 2), &dev)?;
    let pos: Vec<f32> = positions.iter().map(|&p| p as f32).collect();
    let pos = Tensor::from_vec(pos, (positions.len(), 1), &dev)?;
    let freqs = pos.broadcast_mul(&inv_freq)?;
    if scale == 1.0 {
        Ok((freqs.cos()?, freqs.sin()?))
    } else {
        Ok(((freqs.cos()? * scale)?, (freqs.sin()? * scale)?))
    }
}

/// Applies RoPE (HF `rotate_half`, non-interleaved) to `x` of shape `[b, heads, t, head_dim]`;
/// `cos`/`sin` are `[t, head_dim / 2]` (shared positions) or `[b, t, head_dim / 2]`.
pub(crate) fn apply_rope(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    mode: ForwardMode,
) -> Result<Tensor> {
    match mode {
        ForwardMode::Fast => candle_nn::rotary_emb::rope(&x.contiguous()?, cos, sin),
        ForwardMode::Differentiable => {
            let half = x.dim(D::Minus1)? / 2;
            let rotated = Tensor::cat(
                &[
                    &x.narrow(D::Minus1, half, half)?.neg()?,
                    &x.narrow(D::Minus1, 0, half)?,
                ],
                D::Minus1,
            )?;
            // Per-sequence tables `[b, t, d/2]` broadcast over the heads.
            let (cos, sin) = if cos.rank() == 3 {
                (cos.unsqueeze(1)?, sin.unsqueeze(1)?)
            } else {
                (cos.clone(), sin.clone())
            };
            let cos = Tensor::cat(&[&cos, &cos], D::Minus1)?;
            let sin = Tensor::cat(&[&sin, &sin], D::Minus1)?;
            x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
        }
    }
}

/// Additive attention bias `[b, 1, s, t]` for queries at the last `s` of `t` columns
/// (`s = t` for a whole sequence, 1 for a generation step): 0 where query `q` may see key `k`
/// (causal, `k` a real token per `attention_mask` (`[b, t]`, 1 = real, so right and left
/// padding alike) and, with a sliding `window`, `q − k < window`, as transformers'
/// `sliding_window_overlay`), `-inf` elsewhere. The diagonal always stays open so padded query
/// rows never softmax over an empty set (their outputs are garbage but finite, and never read).
pub(crate) fn attention_bias(
    attention_mask: &Tensor,
    queries: usize,
    window: Option<usize>,
) -> Result<Tensor> {
    let (b, t) = attention_mask.dims2()?;
    let mask = attention_mask.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    let window = window.unwrap_or(usize::MAX);
    let first = t - queries.min(t);
    let s = t - first;
    let mut bias = vec![0f32; b * s * t];
    for (bi, row) in mask.iter().enumerate() {
        for (qi, q) in (first..t).enumerate() {
            for k in 0..t {
                if k > q || (k != q && (row[k] == 0.0 || q - k >= window)) {
                    bias[(bi * s + qi) * t + k] = f32::NEG_INFINITY;
                }
            }
        }
    }
    Tensor::from_vec(bias, (b, 1, s, t), attention_mask.device())
}
