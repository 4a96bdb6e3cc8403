//! [`LlamaLm`]: a llama-family [`Model`] as a [`CausalLm`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use mergesearch_evals::{CausalLm, EvalError};

use crate::candidate::LazyCandidate;
use crate::checkpoint::{DType, ModelDir};
use crate::error::{Error, Result};
use crate::models::{ForwardMode, LlamaConfig, Model};

/// A loaded model that scores batches of token sequences (f32 on the CPU).
#[derive(Debug, Clone)]
pub struct LlamaLm {
    model: Model,
    vocab_size: usize,
    max_batch_tokens: usize,
}

impl LlamaLm {
    /// Wraps a built model of config `cfg`; its batches are sized by
    /// [`super::budget::max_batch_tokens`].
    pub fn new(model: Model, cfg: &LlamaConfig) -> Self {
        Self {
            model,
            vocab_size: cfg.vocab_size,
            max_batch_tokens: super::budget::max_batch_tokens(cfg),
        }
    }

    /// Loads an HF checkpoint directory (`config.json` + safetensors).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let cfg = LlamaConfig::from_file(&dir.join("config.json"))?;
        let vb = disk_var_builder(dir)?;
        let model = Model::load(&cfg, vb, ForwardMode::Fast)
            .map_err(|e| Error::model(dir.display().to_string(), e))?;
        Ok(Self::new(model, &cfg))
    }

    /// Builds the model of a lazy merge candidate: its config is the one `mergesearch merge`
    /// would write, and its tensors are merged on demand.
    pub fn from_candidate(candidate: LazyCandidate) -> Result<Self> {
        let cfg = candidate.llama_config()?;
        let what = format!("candidate ({})", candidate.plan().method.name);
        let model = Model::load(&cfg, candidate.var_builder(), ForwardMode::Fast)
            .map_err(|e| Error::model(what, e))?;
        Ok(Self::new(model, &cfg))
    }

    /// An error naming the first of `seqs` (each called `what` and its index) holding a
    /// token id outside the vocabulary.
    fn check_ids(&self, seqs: &[Vec<u32>], what: &str) -> std::result::Result<(), EvalError> {
        for (i, seq) in seqs.iter().enumerate() {
            if let Some(&id) = seq.iter().find(|&&id| id as usize >= self.vocab_size) {
                return Err(EvalError::Model(format!(
                    "{what} {i}: token id {id} is outside the vocabulary of {}",
                    self.vocab_size
                )));
            }
        }
        Ok(())
    }

    /// The wrapped model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn run(&self, batch: &[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let t = batch.iter().map(Vec::len).max().unwrap_or(0);
        if t == 0 {
            return Ok(batch.iter().map(|_| Vec::new()).collect());
        }
        // Right padding: pad ids are 0 and masked out, so real tokens never attend to them.
        let mut ids = Vec::with_capacity(batch.len() * t);
        let mut mask = Vec::with_capacity(batch.len() * t);
        for seq in batch {
            ids.extend(
                seq.iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, t - seq.len())),
            );
            mask.extend((0..t).map(|i| u8::from(i < seq.len())));
        }
        let ids = Tensor::from_vec(ids, (batch.len(), t), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (batch.len(), t), &Device::Cpu)?;
        let logits = self.model.forward(&ids, &mask)?;
        // Each sequence's rows copied out once (no intermediate copy of the whole batch).
        batch
            .iter()
            .enumerate()
            .map(|(b, seq)| {
                logits
                    .get(b)?
                    .narrow(0, 0, seq.len())?
                    .flatten_all()?
                    .to_vec1()
            })
            .collect()
    }
}

impl CausalLm for LlamaLm {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn max_batch_tokens(&self) -> usize {
        self.max_batch_tokens
    }

    fn logits(&self, batch: &[Vec<u32>]) -> std::result::Result<Vec<Vec<f32>>, EvalError> {
        self.check_ids(batch, "sequence")?;
        self.run(batch).map_err(|e| EvalError::Model(e.to_string()))
    }

    /// KV-cached batched greedy generation ([`crate::models::generate::greedy`]).
    fn greedy(
        &self,
        prompts: &[Vec<u32>],
        max_new_tokens: usize,
        stop: &mut dyn FnMut(usize, &[u32]) -> bool,
    ) -> std::result::Result<Vec<Vec<u32>>, EvalError> {
        self.check_ids(prompts, "prompt")?;
        crate::models::generate::greedy(&self.model, prompts, max_new_tokens, stop)
            .map_err(|e| EvalError::Model(e.to_string()))
    }
}

/// Every tensor of the checkpoint in `dir` (shards and index included) as a CPU tensor of
/// its stored dtype, read through the crate's own safetensors reader.
pub fn load_tensors(dir: &Path) -> Result<HashMap<String, Tensor>> {
    let m = ModelDir::open(dir)?;
    let mut tensors = HashMap::with_capacity(m.tensors.len());
    for (name, meta) in &m.tensors {
        let dtype = match meta.dtype {
            DType::F32 => candle_core::DType::F32,
            DType::F16 => candle_core::DType::F16,
            DType::BF16 => candle_core::DType::BF16,
        };
        let t = Tensor::from_raw_buffer(m.bytes(meta), dtype, &meta.shape, &Device::Cpu)
            .map_err(|e| Error::checkpoint(dir, format!("tensor {name}: {e}")))?;
        tensors.insert(name.clone(), t);
    }
    Ok(tensors)
}

/// A `VarBuilder` (f32, CPU) over every tensor of the checkpoint in `dir`.
pub fn disk_var_builder(dir: &Path) -> Result<VarBuilder<'static>> {
    Ok(VarBuilder::from_tensors(
        load_tensors(dir)?,
        candle_core::DType::F32,
        &Device::Cpu,
    ))
}
