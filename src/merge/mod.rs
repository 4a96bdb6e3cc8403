//! Merge methods with mergekit's semantics, their parameter resolution, and the engine that
//! runs a merge config against checkpoints.
//!
//! Flow: [`config::MergeConfig`] (raw YAML) → [`plan::Plan`] (validated, one
//! [`job::TensorJob`] per output tensor) → [`engine::run`] (kernels from
//! [`registry::METHODS`] over memory-mapped inputs → streaming writer).

pub mod config;
pub mod domain;
pub mod engine;
pub mod help;
pub mod inputs;
pub mod job;
pub mod methods;
pub mod plan;
pub mod rank_cache;
pub mod registry;
pub mod rng;
pub mod setting;
pub mod sparsify;
pub mod topk;

pub use config::MergeConfig;
pub use engine::{run, MergeSummary};
pub use help::methods_table;
pub use inputs::TensorInputs;
pub use job::{Params, TensorJob};
pub use plan::Plan;
pub use registry::{method, Domain, MergeOptions, MethodDef, ParamDef, METHODS};

use crate::error::Result;

/// Merges in-memory f32 tensors with `method` (tests, tools, the lazy candidate): returns
/// the merged values. Parameters the job leaves unset take the method's schema defaults.
pub fn merge_f32(
    method: &MethodDef,
    job: &TensorJob,
    tensors: &[&[f32]],
    opts: &MergeOptions,
) -> Result<Vec<f32>> {
    if tensors.len() != job.sources.len() || tensors.iter().any(|t| t.len() != job.numel()) {
        return Err(crate::Error::merge(
            &job.name,
            format!(
                "expected {} inputs of {} elements, got {:?}",
                job.sources.len(),
                job.numel(),
                tensors.iter().map(|t| t.len()).collect::<Vec<_>>()
            ),
        ));
    }
    let inputs = TensorInputs::from_f32(tensors, &job.shape);
    let mut job = job.clone();
    fill_defaults(method, &mut job);
    job.out_dtype = crate::checkpoint::DType::F32;
    let mut bytes = vec![0u8; job.numel() * job.out_dtype.size()];
    (method.kernel)(&job, &inputs, opts, &mut bytes)?;
    Ok(inputs::decode(job.out_dtype, &bytes))
}

/// Fills every parameter `job` leaves unset with the method's schema default (what the
/// planner does for configs), so jobs built in code behave like configs.
pub fn fill_defaults(method: &MethodDef, job: &mut TensorJob) {
    use registry::{ParamDefault, Scope};
    for def in method.params {
        let ParamDefault::Value(v) = def.default else {
            continue;
        };
        match def.scope {
            Scope::Global => {
                job.global.0.entry(def.name).or_insert(v);
            }
            Scope::PerModel => {
                for s in &mut job.sources {
                    s.params.0.entry(def.name).or_insert(v);
                }
            }
        }
    }
}
