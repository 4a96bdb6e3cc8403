//! Small helpers shared by the method kernels.

use crate::error::{Error, Result};
use crate::merge::job::TensorJob;

/// The base input index, or an error naming the tensor.
pub fn base_of(job: &TensorJob) -> Result<usize> {
    job.base
        .ok_or_else(|| Error::merge(&job.name, "this method needs a base_model"))
}

/// The `weight` of every input in `which`.
pub fn weights_of(job: &TensorJob, which: &[usize]) -> Result<Vec<f64>> {
    which
        .iter()
        .map(|&k| {
            job.sources[k].params.get("weight").ok_or_else(|| {
                Error::merge(
                    &job.name,
                    format!("input {} ({}) has no weight", k, job.sources[k].tensor),
                )
            })
        })
        .collect()
}

/// Σ a·b in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Euclidean norm in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}
