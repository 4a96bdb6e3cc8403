//! The shared llama-family decoder: attention (GQA, RoPE), gated MLP, decoder layer and model.
//!
//! Tensor names mirror HF `LlamaForCausalLM` (`model.layers.{i}.self_attn.q_proj`, ...), so
//! `llama`, `mistral`, `qwen2` and `qwen3` checkpoints load through one [`VarBuilder`].
//!
//! ## References
//! - Touvron et al. 2023, "LLaMA: Open and Efficient Foundation Language Models" (pre-norm,
//!   RMSNorm, SwiGLU MLP, rotary embeddings), <https://arxiv.org/abs/2302.13971>.
//! - Su et al. 2021, "RoFormer" (rotary position embedding, see `layers`),
//!   <https://arxiv.org/abs/2104.09864>.
//! - Ainslie et al. 2023, "GQA" (grouped-query attention), <https://arxiv.org/abs/2305.13245>.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};

use super::config::LlamaConfig;
pub(crate) use super::layers::attention_bias;
pub use super::layers::ForwardMode;
use super::layers::{apply_rope, rope_tables, RmsNorm};

/// Self-attention with grouped-query heads, optional q/k/v biases and optional q/k norms.
#[derive(Debug, Clone)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(cfg: &LlamaConfig, vb: VarBuilder) -> Result<Self> {
        let (h, d) = (cfg.hidden_size, cfg.head_dim);
        let bias = cfg.qkv_bias();
        let (q_norm, k_norm) = if cfg.variant.qk_norm() {
            (
                Some(RmsNorm::load(d, cfg.rms_norm_eps, vb.pp("q_norm"))?),
                Some(RmsNorm::load(d, cfg.rms_norm_eps, vb.pp("k_norm"))?),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            q_proj: candle_nn::linear_b(h, cfg.num_attention_heads * d, bias, vb.pp("q_proj"))?,
            k_proj: candle_nn::linear_b(h, cfg.num_key_value_heads * d, bias, vb.pp("k_proj"))?,
            v_proj: candle_nn::linear_b(h, cfg.num_key_value_heads * d, bias, vb.pp("v_proj"))?,
            o_proj: candle_nn::linear_b(
                cfg.num_attention_heads * d,
                h,
                cfg.attention_bias,
                vb.pp("o_proj"),
            )?,
            q_norm,
            k_norm,
            heads: cfg.num_attention_heads,
            kv_heads: cfg.num_key_value_heads,
            head_dim: d,
        })
    }

    /// `x`: `[b, t, hidden]`; `bias`: `[b, 1, t, t_cache + t]`; returns `[b, t, hidden]`.
    /// With a `cache`, the new keys and values are appended to it and the queries attend to
    /// everything it holds.
    fn forward(
        &self,
        x: &Tensor,
        rope: &(Tensor, Tensor),
        bias: &Tensor,
        mode: ForwardMode,
        cache: Option<&mut LayerCache>,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let d = self.head_dim;
        let q = self.q_proj.forward(x)?.reshape((b, t, self.heads, d))?;
        let k = self.k_proj.forward(x)?.reshape((b, t, self.kv_heads, d))?;
        let v = self.v_proj.forward(x)?.reshape((b, t, self.kv_heads, d))?;
        let q = match &self.q_norm {
            Some(n) => n.forward(&q, mode)?,
            None => q,
        };
        let k = match &self.k_norm {
            Some(n) => n.forward(&k, mode)?,
            None => k,
        };
        let q = apply_rope(&q.transpose(1, 2)?, &rope.0, &rope.1, mode)?;
        let k = apply_rope(&k.transpose(1, 2)?, &rope.0, &rope.1, mode)?;
        let v = v.transpose(1, 2)?;
        let (k, v) = match cache {
            None => (k.contiguous()?, v.contiguous()?),
            Some(c) => c.append(&k.contiguous()?, &v.contiguous()?)?,
        };
        // Grouped-query attention without copying keys and values per query head: the
        // `n_rep` query heads sharing a key/value head (HF's `repeat_kv` maps head j to
        // key/value head j / n_rep) are stacked along the rows of one matmul.
        let (kvh, n_rep) = (self.kv_heads, self.heads / self.kv_heads);
        let tk = k.dim(2)?;
        let q = q.contiguous()?.reshape((b, kvh, n_rep * t, d))?;
        let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?
            .reshape((b, kvh, n_rep, t, tk))?
            .broadcast_add(&bias.unsqueeze(1)?)?;
        let probs = match mode {
            ForwardMode::Fast => candle_nn::ops::softmax_last_dim(&scores)?,
            ForwardMode::Differentiable => candle_nn::ops::softmax(&scores, D::Minus1)?,
        };
        let out = probs
            .reshape((b, kvh, n_rep * t, tk))?
            .matmul(&v)?
            .reshape((b, self.heads, t, d))?
            .transpose(1, 2)?
            .reshape((b, t, self.heads * d))?;
        self.o_proj.forward(&out)
    }
}

/// The SwiGLU MLP `down(silu(gate(x)) * up(x))`.
#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    fn load(cfg: &LlamaConfig, vb: VarBuilder) -> Result<Self> {
        let (h, i, b) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        Ok(Self {
            gate_proj: candle_nn::linear_b(h, i, b, vb.pp("gate_proj"))?,
            up_proj: candle_nn::linear_b(h, i, b, vb.pp("up_proj"))?,
            down_proj: candle_nn::linear_b(i, h, b, vb.pp("down_proj"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gated = (self.gate_proj.forward(x)?.silu()? * self.up_proj.forward(x)?)?;
        self.down_proj.forward(&gated)
    }
}

/// A pre-norm decoder layer: `x + attn(norm(x))`, then `x + mlp(norm(x))`.
#[derive(Debug, Clone)]
struct DecoderLayer {
    /// Its sliding attention window, if any.
    window: Option<usize>,
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    fn load(cfg: &LlamaConfig, layer: usize, vb: VarBuilder) -> Result<Self> {
        let eps = cfg.rms_norm_eps;
        Ok(Self {
            window: cfg.sliding_window.get(layer).copied().flatten(),
            input_layernorm: RmsNorm::load(cfg.hidden_size, eps, vb.pp("input_layernorm"))?,
            self_attn: Attention::load(cfg, vb.pp("self_attn"))?,
            post_attention_layernorm: RmsNorm::load(
                cfg.hidden_size,
                eps,
                vb.pp("post_attention_layernorm"),
            )?,
            mlp: Mlp::load(cfg, vb.pp("mlp"))?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        rope: &(Tensor, Tensor),
        bias: &Tensor,
        mode: ForwardMode,
        cache: Option<&mut LayerCache>,
    ) -> Result<Tensor> {
        let h = self.self_attn.forward(
            &self.input_layernorm.forward(x, mode)?,
            rope,
            bias,
            mode,
            cache,
        )?;
        let x = (x + h)?;
        let h = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&x, mode)?)?;
        x + h
    }
}

/// A llama-family causal LM (`llama`, `mistral`, `qwen2`, `qwen3`) returning full-sequence logits.
#[derive(Debug, Clone)]
pub struct Model {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: Linear,
    head_dim: usize,
    rope: super::rope::Rope,
    mode: ForwardMode,
}

impl Model {
    /// Builds the model from `cfg`, reading HF-named tensors through `vb`. The LM head is the
    /// token embedding when `tie_word_embeddings` is set or `lm_head.weight` is absent.
    pub fn load(cfg: &LlamaConfig, vb: VarBuilder, mode: ForwardMode) -> Result<Self> {
        let vm = vb.pp("model");
        let embed_tokens =
            candle_nn::embedding(cfg.vocab_size, cfg.hidden_size, vm.pp("embed_tokens"))?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| DecoderLayer::load(cfg, i, vm.pp(format!("layers.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(cfg.hidden_size, cfg.rms_norm_eps, vm.pp("norm"))?;
        let lm_head = if cfg.tie_word_embeddings || !vb.contains_tensor("lm_head.weight") {
            Linear::new(embed_tokens.embeddings().clone(), None)
        } else {
            candle_nn::linear_no_bias(cfg.hidden_size, cfg.vocab_size, vb.pp("lm_head"))?
        };
        Ok(Self {
            embed_tokens,
            layers,
            norm,
            lm_head,
            head_dim: cfg.head_dim,
            rope: cfg.rope.clone(),
            mode,
        })
    }

    /// The kernels [`Model::forward`] uses.
    pub fn mode(&self) -> ForwardMode {
        self.mode
    }

    /// Switches between the fast and the differentiable kernels (the weights are shared).
    pub fn set_mode(&mut self, mode: ForwardMode) {
        self.mode = mode;
    }

    /// Logits `[b, t, vocab]` (f32) for every position of `input_ids` (`[b, t]`, u32).
    /// `attention_mask` (`[b, t]`, u8 or f32, 1 = real token) marks right padding: padded keys
    /// are never attended to, so the logits of real tokens do not depend on the padding.
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let (_, t) = input_ids.dims2()?;
        let dev = input_ids.device();
        let rope = rope_tables(t, self.head_dim, &self.rope, dev)?;
        let rope = (
            rope.0.to_dtype(self.dtype())?,
            rope.1.to_dtype(self.dtype())?,
        );
        let biases = self.biases(|w| attention_bias(attention_mask, t, w))?;
        let x = self.hidden(input_ids, &rope, &biases, None)?;
        self.logits(&x)
    }

    /// The dtype of the weights (and of every activation).
    pub(crate) fn dtype(&self) -> DType {
        self.embed_tokens.embeddings().dtype()
    }

    /// Per-head width.
    pub(crate) fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// The RoPE of the model.
    pub(crate) fn rope(&self) -> &super::rope::Rope {
        &self.rope
    }

    /// Number of decoder layers (the length of a [`KvCache`]).
    pub(crate) fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// One attention bias per distinct sliding window of the layers (`None`: full causal
    /// attention), built by `bias` and cast to the model's dtype.
    pub(crate) fn biases(
        &self,
        bias: impl Fn(Option<usize>) -> Result<Tensor>,
    ) -> Result<Vec<(Option<usize>, Tensor)>> {
        let mut out: Vec<(Option<usize>, Tensor)> = Vec::new();
        for layer in &self.layers {
            if !out.iter().any(|(w, _)| *w == layer.window) {
                out.push((layer.window, bias(layer.window)?.to_dtype(self.dtype())?));
            }
        }
        Ok(out)
    }

    /// The final hidden states (before the last norm) of `input_ids`, each layer attending
    /// with the bias of its window; with a `cache`, keys and values are appended to it.
    pub(crate) fn hidden(
        &self,
        input_ids: &Tensor,
        rope: &(Tensor, Tensor),
        biases: &[(Option<usize>, Tensor)],
        mut cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let mut x = self.embed_tokens.forward(input_ids)?;
        for (i, layer) in self.layers.iter().enumerate() {
            let bias = biases
                .iter()
                .find(|(w, _)| *w == layer.window)
                .map(|(_, b)| b)
                .ok_or_else(|| candle_core::Error::Msg("no attention bias for a window".into()))?;
            let slot = cache.as_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(&x, rope, bias, self.mode, slot)?;
        }
        Ok(x)
    }

    /// Logits (f32) of hidden states `[b, t, hidden]`: final norm, then the LM head.
    pub(crate) fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.norm.forward(x, self.mode)?;
        self.lm_head.forward(&x)?.to_dtype(DType::F32)
    }
}

/// The keys and values of every layer for the tokens seen so far (`[b, kv_heads, t, d]`,
/// after RoPE), so that generation feeds one new token per step. Each layer's are written
/// into buffers with room for the whole generation, so a step copies only its new column.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<LayerCache>,
}

/// One layer's cached keys and values.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerCache {
    /// `[b, kv_heads, capacity, d]` buffers, filled up to `len`.
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
    capacity: usize,
}

impl LayerCache {
    /// Appends `k` and `v` (`[b, kv_heads, n, d]`, contiguous) and returns views of all the
    /// keys and values so far.
    fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, kvh, n, d) = k.dims4()?;
        let need = self.len + n;
        let grow = match &self.buffers {
            None => true,
            Some(_) => need > self.capacity,
        };
        if grow {
            let capacity = need.max(self.capacity).max(2 * self.len);
            let alloc = || Tensor::zeros((b, kvh, capacity, d), k.dtype(), k.device());
            let (nk, nv) = (alloc()?, alloc()?);
            if let Some((ok, ov)) = &self.buffers {
                nk.slice_set(&ok.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                nv.slice_set(&ov.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
            self.buffers = Some((nk, nv));
            self.capacity = capacity;
        }
        let Some((bk, bv)) = &self.buffers else {
            candle_core::bail!("the key/value cache has no buffers")
        };
        bk.slice_set(k, 2, self.len)?;
        bv.slice_set(v, 2, self.len)?;
        self.len = need;
        Ok((bk.narrow(2, 0, need)?, bv.narrow(2, 0, need)?))
    }
}

impl KvCache {
    /// An empty cache for `model`, with room for `capacity` tokens per sequence (it grows
    /// beyond if needed).
    pub fn new(model: &Model, capacity: usize) -> Self {
        Self {
            layers: vec![
                LayerCache {
                    buffers: None,
                    len: 0,
                    capacity,
                };
                model.num_layers()
            ],
        }
    }

    /// Keeps only the batch rows `rows` (sequences still generating).
    pub fn keep_rows(&mut self, rows: &Tensor) -> Result<()> {
        for c in &mut self.layers {
            if let Some((k, v)) = &mut c.buffers {
                *k = k.index_select(rows, 0)?;
                *v = v.index_select(rows, 0)?;
            }
        }
        Ok(())
    }
}
