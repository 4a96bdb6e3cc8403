//! `multislerp`: barycentric interpolation of several tensors on the hypersphere: project
//! the unit directions to the tangent space at their weighted mean, average there, map back
//! with the exponential map and rescale to the weighted mean norm. With a base model the task
//! vectors are interpolated. Follows mergekit's `multislerp.py`.
//!
//! ## References
//! - <https://goddard.blog/posts/multislerp-wow-what-a-cool-idea>

use super::common::{global, global_flag, norm, par_fill, par_sum, weights_of};
use crate::error::{Error, Result};
use crate::merge::inputs::{encode_to, TensorInputs};
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let others = job.others();
    if others.len() == 1 {
        // mergekit returns the single model unchanged.
        encode_to(job.out_dtype, &inputs.to_vec(others[0]), dst);
        return Ok(());
    }
    let mut w = weights_of(job, &others)?;
    let eps = global(job, "eps")?;
    if global_flag(job, "normalize_weights")? {
        let s: f64 = w.iter().sum();
        if s.abs() < 1e-12 {
            return Err(Error::merge(
                &job.name,
                "multislerp weights sum to zero, so normalize_weights divides by zero; set normalize_weights: false",
            ));
        }
        w.iter_mut().for_each(|x| *x /= s);
    }
    let base = job.base.map(|b| inputs.to_vec(b));
    let mut xs: Vec<Vec<f32>> = others.iter().map(|&k| inputs.to_vec(k)).collect();
    if let Some(b) = &base {
        for x in &mut xs {
            let v = x.clone();
            par_fill(x, |i| v[i] - b[i]);
        }
    }
    let n = inputs.numel();
    let norms: Vec<f64> = xs.iter().map(|x| norm(x)).collect();
    if norms.iter().all(|nk| *nk < eps) {
        // No input moves this tensor (e.g. frozen embeddings): the base, or zeros without one.
        // mergekit raises "antipodal" here and aborts the whole merge.
        let out = base.unwrap_or_else(|| vec![0f32; n]);
        encode_to(job.out_dtype, &out, dst);
        return Ok(());
    }
    // Unit directions u_k = x_k/(‖x_k‖ + eps), used without being stored.
    let inv: Vec<f64> = norms.iter().map(|nk| 1.0 / (nk + eps)).collect();
    let unit = |k: usize, i: usize| (xs[k][i] as f64 * inv[k]) as f32;
    let mut mean = vec![0f32; n];
    par_fill(&mut mean, |i| {
        (0..xs.len()).map(|k| w[k] as f32 * unit(k, i)).sum()
    });
    let mean_norm = norm(&mean);
    let mut out = vec![0f32; n];
    if mean_norm < eps {
        if xs.len() != 2 {
            return Err(Error::merge(
                &job.name,
                "multislerp: the weighted directions cancel out (antipodal inputs); change the weights",
            ));
        }
        par_fill(&mut out, |i| {
            (xs[0][i] as f64 * w[0] + xs[1][i] as f64 * w[1]) as f32
        });
    } else {
        let m = mean.clone();
        par_fill(&mut mean, |i| (m[i] as f64 / mean_norm) as f32);
        // Tangent-space average: Σ w_k (u_k − (u_k·m̂) m̂).
        let d: Vec<f32> = (0..xs.len())
            .map(|k| par_sum(n, |i| unit(k, i) as f64 * mean[i] as f64) as f32)
            .collect();
        let mut tangent = vec![0f32; n];
        par_fill(&mut tangent, |i| {
            (0..xs.len())
                .map(|k| w[k] as f32 * (unit(k, i) - d[k] * mean[i]))
                .sum()
        });
        let tn = norm(&tangent) + eps;
        let avg_norm: f64 = norms.iter().zip(&w).map(|(a, b)| a * b).sum();
        let (c, s) = (tn.cos(), tn.sin() / tn);
        par_fill(&mut out, |i| {
            ((mean[i] as f64 * c + tangent[i] as f64 * s) * avg_norm) as f32
        });
    }
    if let Some(b) = &base {
        let v = out.clone();
        par_fill(&mut out, |i| v[i] + b[i]);
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}
