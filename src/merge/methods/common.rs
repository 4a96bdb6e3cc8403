//! Small helpers shared by the method kernels: parameter access and parallel reductions.
//!
//! Reductions sum fixed-size chunk partials in chunk order, so a merge gives the same bits
//! on any thread count.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::merge::inputs::CHUNK;
use crate::merge::job::TensorJob;

/// The base input index, or an error naming the tensor.
pub fn base_of(job: &TensorJob) -> Result<usize> {
    job.base
        .ok_or_else(|| Error::merge(&job.name, "this method needs a base_model"))
}

/// A resolved global parameter. The planner (and [`crate::merge::fill_defaults`]) sets
/// every parameter the registry gives a default, so kernels carry no defaults of their own:
/// a missing value is an error naming the tensor and parameter, never a made-up value.
pub fn global(job: &TensorJob, name: &str) -> Result<f64> {
    job.global.get(name).ok_or_else(|| {
        Error::merge(
            &job.name,
            format!("parameter `{name}` is not set (the registry's default was not filled in)"),
        )
    })
}

/// A resolved boolean global parameter (see [`global`]).
pub fn global_flag(job: &TensorJob, name: &str) -> Result<bool> {
    global(job, name).map(|v| v != 0.0)
}

/// A resolved per-model parameter of input `k` (see [`global`]).
pub fn per_model(job: &TensorJob, k: usize, name: &str) -> Result<f64> {
    job.sources[k].params.get(name).ok_or_else(|| {
        Error::merge(
            &job.name,
            format!(
                "input {k} ({}) has no `{name}` (the registry's default was not filled in)",
                job.sources[k].tensor
            ),
        )
    })
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

/// Σ f(i) over `0..n` in f64, in parallel, deterministic.
pub fn par_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    let partials: Vec<f64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| (c * CHUNK..((c + 1) * CHUNK).min(n)).map(&f).sum::<f64>())
        .collect();
    partials.iter().sum()
}

/// Σ a·b in f64.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    par_sum(a.len(), |i| a[i] as f64 * b[i] as f64)
}

/// Euclidean norm in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// `out[i] = f(i)` in parallel.
pub fn par_fill(out: &mut [f32], f: impl Fn(usize) -> f32 + Sync) {
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, ch)| {
        for (j, o) in ch.iter_mut().enumerate() {
            *o = f(c * CHUNK + j);
        }
    });
}
