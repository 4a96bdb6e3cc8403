//! Llama-family decoder forward passes built with candle from an HF `config.json`.
//!
//! One shared implementation ([`llama::Model`]) covers `llama`, `mistral`, `qwen2` (biased q/k/v
//! projections) and `qwen3` (per-head RMSNorm on q and k). Unlike candle-transformers' models,
//! [`llama::Model::forward`] returns logits for the **full sequence**, honours a right-padding
//! attention mask and has a [`ForwardMode::Differentiable`] mode whose ops all carry
//! gradients (candle-nn's fused `rms_norm`, `softmax_last_dim` and `rope` silently cut them).
//! Model code mirrors HF tensor names through `VarBuilder::pp`, so any backend (a safetensors
//! file, a `VarMap`, a lazy merge candidate) can feed it.

pub mod config;
pub mod generate;
mod layers;
pub mod llama;
mod read_config;
pub mod rope;

pub use config::{LlamaConfig, Variant};
pub use llama::{ForwardMode, KvCache, Model};
