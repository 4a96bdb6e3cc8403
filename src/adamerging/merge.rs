//! The differentiable merge: a study's recipe with its merge coefficients as one candle
//! variable, so a single backward pass gives `∂loss/∂λ` for every gene.
//!
//! Each merged tensor is one custom op on the coefficient vector `λ` (`[genes]`, f64). Its
//! forward runs the method's own kernel ([`crate::merge::methods::task_arithmetic::gta`])
//! with the weights read from `λ`, so the model trained here is bit for bit the model a
//! trial's recipe scores and `export` writes; its backward is the kernel's vector–Jacobian
//! product ([`gta_vjp`]), a dot product of the weight's gradient with each (sparsified,
//! sign-masked) task vector, read straight from the memory-mapped checkpoints. Base weights
//! and task vectors are therefore constants that never enter the graph: nothing is stored
//! for their gradients, and no per-model copy of a merged tensor's gradient is made.
//!
//! Which gene sets which weight of which tensor is read off the recipe itself: the genotype
//! `x_i = i` is decoded and planned, and each input's resolved weight is its gene's index
//! (weights are linear in the genes, so this is the whole Jacobian of the decoder). What is
//! learned is thus exactly what the stored recipe means under mergekit's rules
//! (`layer_granularity`, `filters`, first matching filter wins).
//!
//! ## References
//! - Yang et al., *AdaMerging: Adaptive Model Merging for Multi-Task Learning*, ICLR 2024,
//!   <https://arxiv.org/abs/2310.02575> (task-wise and layer-wise coefficients
//!   `θ = θ₀ + Σ_k λ_k τ_k`, learned by gradient descent).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use crate::error::{Error, Result};
use crate::merge::engine::job_inputs;
use crate::merge::methods::task_arithmetic::{gta, gta_vjp, preset_of, Preset};
use crate::merge::{MergeOptions, Plan};
use crate::models::{ForwardMode, LlamaConfig, Model};
use crate::space::SearchSpace;

/// The kernel preset of `method` if adamerging can learn its weights (a task-vector merge:
/// task_arithmetic, ties, dare, breadcrumbs, della — differentiable in the weights almost
/// everywhere), else an error naming `merge.method` in `file`.
pub fn learnable_method(method: &str, file: &Path) -> Result<Preset> {
    preset_of(method).ok_or_else(|| {
        Error::config(
            file,
            format!(
                "merge.method: adamerging learns the weights of task-vector merges (task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear), not `{method}`"
            ),
        )
    })
}

/// A study's merge with differentiable coefficients: the plan, and for each tensor and
/// input the gene that sets its weight.
pub struct DiffMerge {
    plan: Arc<Plan>,
    preset: Preset,
    opts: MergeOptions,
    /// Per job: per source, the gene of its weight (`None` for the base).
    genes: Vec<Vec<Option<usize>>>,
    /// Output tensor name → job index.
    index: HashMap<String, usize>,
    dim: usize,
    config: LlamaConfig,
}

impl std::fmt::Debug for DiffMerge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffMerge")
            .field("method", &self.plan.method.name)
            .field("tensors", &self.genes.len())
            .field("genes", &self.dim)
            .finish()
    }
}

impl DiffMerge {
    /// Plans `space`'s merge for learning its `weight` genes; `file` names the study file in
    /// errors. The method must be a task-arithmetic preset (task_arithmetic, ties, dare,
    /// breadcrumbs, della: their output is differentiable in the weights almost everywhere)
    /// and `weight` the only searched parameter.
    /// `opts` seeds random masks and shares the study's ranking cache, so TIES-style
    /// thresholds are found once per task vector, not in every forward and backward pass.
    pub fn new(space: &SearchSpace, opts: MergeOptions, file: &Path) -> Result<Self> {
        let err = |m: String| Error::config(file, m);
        let preset = learnable_method(&space.merge.method, file)?;
        if let Some(g) = space.genes.iter().find(|g| g.param != "weight") {
            return Err(err(format!(
                "search.parameters.{}: adamerging learns only `weight` by gradient; fix `{}` under merge.parameters",
                g.param, g.param
            )));
        }
        // The probe genotype x_i = i: each input's resolved weight is its gene's index.
        let probe: Vec<f64> = (0..space.dim()).map(|i| i as f64).collect();
        let plan = Plan::build(space.decode(&probe), file)?;
        let mut genes = Vec::with_capacity(plan.jobs.len());
        for job in &plan.jobs {
            let mut row = Vec::with_capacity(job.sources.len());
            for (k, s) in job.sources.iter().enumerate() {
                if Some(k) == job.base {
                    row.push(None);
                    continue;
                }
                let w = s.params.get("weight").ok_or_else(|| {
                    Error::merge(&job.name, format!("input {k} has no searched weight"))
                })?;
                let g = w.round();
                if (w - g).abs() > 1e-6 || g < 0.0 || g as usize >= space.dim() {
                    return Err(Error::merge(
                        &job.name,
                        format!("input {k}: the recipe's weight is not one gene (probe value {w})"),
                    ));
                }
                row.push(Some(g as usize));
            }
            genes.push(row);
        }
        let index = plan.job_index();
        let path = plan.models[plan.config_model].path.join("config.json");
        let config = LlamaConfig::from_json_str(&plan.output_config().to_string(), &path)?;
        Ok(Self {
            plan: Arc::new(plan),
            preset,
            opts,
            genes,
            index,
            dim: space.dim(),
            config,
        })
    }

    /// Number of coefficients (genes).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The merged model's config.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// A variable holding the coefficients `x`, whose gradient a backward pass fills.
    pub fn coefficients(&self, x: &[f64]) -> Result<Var> {
        if x.len() != self.dim {
            return Err(Error::model(
                "adamerging",
                format!("{} coefficients for {} genes", x.len(), self.dim),
            ));
        }
        Var::from_slice(x, self.dim, &Device::Cpu).map_err(|e| Error::model("adamerging", e))
    }

    /// The merged model at `lambda` (differentiable kernels): every weight is a function of
    /// `lambda` in the graph, merged now by the method's kernel.
    pub fn model(self: &Arc<Self>, lambda: &Var) -> Result<Model> {
        let backend = Backend {
            merge: self.clone(),
            lambda: lambda.as_tensor().clone(),
        };
        let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, Device::Cpu);
        Model::load(&self.config, vb, ForwardMode::Differentiable)
            .map_err(|e| Error::model(format!("adamerging ({})", self.plan.method.name), e))
    }

    /// The job with its weights set from the coefficients `lambda`.
    fn job_at(&self, j: usize, lambda: &[f64]) -> crate::merge::TensorJob {
        let mut job = self.plan.jobs[j].clone();
        for (s, g) in job.sources.iter_mut().zip(&self.genes[j]) {
            if let Some(g) = g {
                s.params.0.insert("weight", lambda[*g]);
            }
        }
        job
    }
}

/// Serves the merged tensors to the model, each as a [`MergeOp`] on the coefficients.
struct Backend {
    merge: Arc<DiffMerge>,
    lambda: Tensor,
}

impl Backend {
    fn tensor(&self, name: &str) -> candle_core::Result<Tensor> {
        let &job =
            self.merge
                .index
                .get(name)
                .ok_or_else(|| candle_core::Error::CannotFindTensor {
                    path: name.to_string(),
                })?;
        self.lambda.apply_op1(MergeOp {
            merge: self.merge.clone(),
            job,
        })
    }
}

impl SimpleBackend for Backend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _h: candle_nn::Init,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        crate::candidate::expect_shape(name, self.tensor(name)?, s)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.tensor(name)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.merge.index.contains_key(name)
    }
}

/// One merged tensor as a function of the coefficient vector.
struct MergeOp {
    merge: Arc<DiffMerge>,
    job: usize,
}

impl MergeOp {
    fn lambda(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Vec<f64>> {
        let all = storage.as_slice::<f64>()?;
        match layout.contiguous_offsets() {
            Some((a, b)) => Ok(all[a..b].to_vec()),
            None => Err(candle_core::Error::RequiresContiguous { op: "merge" }),
        }
    }
}

impl CustomOp1 for MergeOp {
    fn name(&self) -> &'static str {
        "merge"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let lambda = Self::lambda(storage, layout)?;
        let m = &self.merge;
        let job = m.job_at(self.job, &lambda);
        let inputs = job_inputs(&m.plan, &job);
        let mut bytes = vec![0u8; job.numel() * job.out_dtype.size()];
        gta(&job, &inputs, &m.opts, &mut bytes, m.preset).map_err(candle_core::Error::wrap)?;
        let values = crate::merge::inputs::decode(job.out_dtype, &bytes);
        Ok((CpuStorage::F32(values), Shape::from(job.shape.as_slice())))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let lambda: Vec<f64> = arg.to_vec1()?;
        let g: Vec<f32> = grad_res.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let m = &self.merge;
        let job = m.job_at(self.job, &lambda);
        let inputs = job_inputs(&m.plan, &job);
        let per_input =
            gta_vjp(&job, &inputs, &m.opts, m.preset, &g).map_err(candle_core::Error::wrap)?;
        let mut grad = vec![0f64; m.dim];
        for (k, d) in job.others().into_iter().zip(per_input) {
            if let Some(gene) = m.genes[self.job][k] {
                grad[gene] += d;
            }
        }
        Ok(Some(Tensor::from_vec(grad, m.dim, arg.device())?))
    }
}
