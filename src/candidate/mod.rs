//! The lazy candidate: a merge [`Plan`] served as a candle `VarBuilder` backend.
//!
//! A model built from [`LazyCandidate::var_builder`] asks for its tensors by HF name; each
//! request runs the method's kernel for that one output tensor over the memory-mapped inputs
//! and hands back a CPU tensor. Nothing is written to disk, and the model code never knows it
//! is merged (candle's `SimpleBackend`, STYLE.md §5).
//!
//! Each tensor is merged in the plan's output dtype (`job.out_dtype`, exactly the bytes
//! `mergesearch merge` would write) and then widened to f32, so a lazily evaluated candidate
//! scores exactly like its exported checkpoint. Merged tensors are cached, so repeated
//! requests do not merge again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use crate::error::{Error, Result};
use crate::merge::{self, engine, MergeOptions, Plan};

/// A merge plan whose output tensors are merged on demand.
pub struct LazyCandidate {
    plan: Plan,
    opts: MergeOptions,
    /// Output tensor name → index into `plan.jobs`.
    index: HashMap<String, usize>,
    /// Merged tensors (f32, CPU) by output name.
    cache: Mutex<HashMap<String, Tensor>>,
    /// Kernel output in a narrower dtype than f32, reused from tensor to tensor (as the
    /// merge engine reuses its buffers) so each merge does not fault in fresh pages.
    scratch: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for LazyCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyCandidate")
            .field("method", &self.plan.method.name)
            .field("tensors", &self.plan.jobs.len())
            .field("opts", &self.opts)
            .finish()
    }
}

impl LazyCandidate {
    /// Wraps `plan`; `opts` seeds random masks exactly as `mergesearch merge` would.
    pub fn new(plan: Plan, opts: MergeOptions) -> Self {
        let index = plan.job_index();
        Self {
            plan,
            opts,
            index,
            cache: Mutex::new(HashMap::new()),
            scratch: Mutex::new(Vec::new()),
        }
    }

    /// The plan being served.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The `config.json` the merged checkpoint would have ([`crate::merge::Plan::output_config`],
    /// the one `merge` writes).
    pub fn config_json(&self) -> serde_json::Value {
        self.plan.output_config()
    }

    /// The merged model's llama-family config (see [`LazyCandidate::config_json`]).
    pub fn llama_config(&self) -> Result<crate::models::LlamaConfig> {
        let path = self.plan.models[self.plan.config_model]
            .path
            .join("config.json");
        crate::models::LlamaConfig::from_json_str(&self.config_json().to_string(), &path)
    }

    /// Whether the plan produces an output tensor called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The merged output tensor `name` as an f32 CPU tensor, or `None` if the plan does not
    /// produce it. Merges on the first request and caches the result.
    pub fn tensor(&self, name: &str) -> Result<Option<Tensor>> {
        let Some(&i) = self.index.get(name) else {
            return Ok(None);
        };
        if let Some(t) = self.lock().get(name) {
            return Ok(Some(t.clone()));
        }
        let t = self.merge_one(i)?;
        self.lock().insert(name.to_string(), t.clone());
        Ok(Some(t))
    }

    /// Number of tensors merged so far (cached).
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    /// A `VarBuilder` (f32, CPU) over this candidate, for `crate::models::Model::load`.
    pub fn var_builder(self) -> VarBuilder<'static> {
        Arc::new(self).shared_var_builder()
    }

    /// Like [`LazyCandidate::var_builder`], keeping a handle to the candidate (and its cache).
    pub fn shared_var_builder(self: Arc<Self>) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(Shared(self)), DType::F32, Device::Cpu)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tensor>> {
        // A panic while holding the lock cannot leave a half-inserted entry: recover the map.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Merges output tensor `i` into the f32 buffer that becomes the candle tensor: an f32
    /// output is written there by the kernel directly; a narrower one goes through the
    /// reused scratch buffer (rounded to its dtype, as `merge` writes it) and is widened in
    /// parallel. No other copy is made.
    fn merge_one(&self, i: usize) -> Result<Tensor> {
        let job = &self.plan.jobs[i];
        let inputs = engine::job_inputs(&self.plan, job);
        let kernel = self.plan.method.kernel;
        let mut values = vec![0f32; job.numel()];
        if job.out_dtype == crate::checkpoint::DType::F32 {
            kernel(
                job,
                &inputs,
                &self.opts,
                bytemuck::cast_slice_mut(&mut values),
            )?;
        } else {
            let n = job.numel() * job.out_dtype.size();
            let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
            if scratch.len() < n {
                scratch.resize(n, 0);
            }
            kernel(job, &inputs, &self.opts, &mut scratch[..n])?;
            merge::inputs::decode_to(job.out_dtype, &scratch[..n], &mut values);
        }
        Tensor::from_vec(values, job.shape.as_slice(), &Device::Cpu)
            .map_err(|e| Error::merge(&job.name, e.to_string()))
    }

    fn get_tensor(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let t = self
            .tensor(name)
            .map_err(candle_core::Error::wrap)?
            .ok_or_else(|| candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            })?;
        t.to_dtype(dtype)?.to_device(dev)
    }
}

/// `t` if it has the shape `s` the model asked for `name`, else candle's shape error.
pub(crate) fn expect_shape(name: &str, t: Tensor, s: Shape) -> candle_core::Result<Tensor> {
    if t.shape() != &s {
        return Err(candle_core::Error::UnexpectedShape {
            msg: format!("shape mismatch for merged tensor {name}"),
            expected: s,
            got: t.shape().clone(),
        });
    }
    Ok(t)
}

/// The backend handed to candle: shares the candidate so callers may keep a handle.
struct Shared(Arc<LazyCandidate>);

impl SimpleBackend for Shared {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        expect_shape(name, self.0.get_tensor(name, dtype, dev)?, s)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.get_tensor(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}
