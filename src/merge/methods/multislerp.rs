//! `multislerp`: barycentric interpolation of several tensors on the hypersphere: project
//! the unit directions to the tangent space at their weighted mean, average there, map back
//! with the exponential map and rescale to the weighted mean norm. With a base model the task
//! vectors are interpolated. Follows mergekit's `multislerp.py`.
//!
//! ## References
//! - <https://goddard.blog/posts/multislerp-wow-what-a-cool-idea>

use super::common::{dot, norm, weights_of};
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
    let eps = job.global.or("eps", 1e-8);
    if job.global.flag("normalize_weights", true) {
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= s);
    }
    let base = job.base.map(|b| inputs.to_vec(b));
    let mut xs: Vec<Vec<f32>> = others.iter().map(|&k| inputs.to_vec(k)).collect();
    if let Some(b) = &base {
        for x in &mut xs {
            x.iter_mut().zip(b).for_each(|(v, y)| *v -= y);
        }
    }
    let n = inputs.numel();
    let norms: Vec<f64> = xs.iter().map(|x| norm(x)).collect();
    let units: Vec<Vec<f32>> = xs
        .iter()
        .zip(&norms)
        .map(|(x, nk)| x.iter().map(|v| (*v as f64 / (nk + eps)) as f32).collect())
        .collect();
    let mut mean = vec![0f32; n];
    for (u, wk) in units.iter().zip(&w) {
        mean.iter_mut()
            .zip(u)
            .for_each(|(m, v)| *m += (*wk as f32) * v);
    }
    let mean_norm = norm(&mean);
    let mut out = vec![0f32; n];
    if mean_norm < eps {
        if xs.len() != 2 {
            return Err(Error::merge(
                &job.name,
                "multislerp: the weighted directions cancel out (antipodal inputs); change the weights",
            ));
        }
        for i in 0..n {
            out[i] = (xs[0][i] as f64 * w[0] + xs[1][i] as f64 * w[1]) as f32;
        }
    } else {
        mean.iter_mut()
            .for_each(|m| *m = (*m as f64 / mean_norm) as f32);
        let mut tangent = vec![0f32; n];
        for (u, wk) in units.iter().zip(&w) {
            let d = dot(u, &mean) as f32;
            for i in 0..n {
                tangent[i] += *wk as f32 * (u[i] - d * mean[i]);
            }
        }
        let tn = norm(&tangent) + eps;
        let avg_norm: f64 = norms.iter().zip(&w).map(|(a, b)| a * b).sum();
        let (c, s) = (tn.cos(), tn.sin() / tn);
        for i in 0..n {
            out[i] = ((mean[i] as f64 * c + tangent[i] as f64 * s) * avg_norm) as f32;
        }
    }
    if let Some(b) = &base {
        out.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}
