//! `nuslerp`: slerp between two models with `t = w₁/(w₀ + w₁)`, over the flattened tensor
//! (`nuslerp_flatten`, default), each row, or each column (`nuslerp_row_wise`, which in
//! mergekit interpolates along dim 0). With a base model the task vectors are interpolated
//! and added back. Follows mergekit's `nuslerp.py`.

use super::common::{global_flag, par_fill, par_sum, weights_of};
use crate::error::Result;
use crate::merge::inputs::{encode_to, TensorInputs};
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;
use rayon::prelude::*;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let others = job.others();
    let w = weights_of(job, &others)?;
    let sum = w[0] + w[1];
    let t = if sum.abs() < 1e-6 { 0.5 } else { w[1] / sum };
    let mut v0 = inputs.to_vec(others[0]);
    let mut v1 = inputs.to_vec(others[1]);
    let base = job.base.map(|b| inputs.to_vec(b));
    if let Some(b) = &base {
        v0.iter_mut().zip(b).for_each(|(x, y)| *x -= y);
        v1.iter_mut().zip(b).for_each(|(x, y)| *x -= y);
    }
    let shape = inputs.shape();
    let flatten = global_flag(job, "nuslerp_flatten")?;
    let row_wise = global_flag(job, "nuslerp_row_wise")?;
    let n = v0.len();
    // Vectors as (count, length, element index of vector v position j).
    // Tensors of rank > 2 are viewed as (numel / last dim) × last dim.
    let cols = if shape.len() >= 2 {
        shape[shape.len() - 1].max(1)
    } else {
        n.max(1)
    };
    let rows = n / cols;
    let mut out = vec![0f32; n];
    if flatten || shape.len() < 2 {
        // One vector: parallel reductions.
        let n0 = par_sum(n, |i| (v0[i] as f64).powi(2)).sqrt();
        let n1 = par_sum(n, |i| (v1[i] as f64).powi(2)).sqrt();
        let d = par_sum(n, |i| v0[i] as f64 * v1[i] as f64);
        let (c0, c1) = coefficients(t, n0, n1, d);
        par_fill(&mut out, |i| (c0 * v0[i] as f64 + c1 * v1[i] as f64) as f32);
    } else {
        // Many vectors: rows (dim −1) or, with nuslerp_row_wise (dim 0), columns.
        let (count, len) = if row_wise { (cols, rows) } else { (rows, cols) };
        let at = |v: usize, j: usize| if row_wise { j * cols + v } else { v * cols + j };
        let coef: Vec<(f64, f64)> = (0..count)
            .into_par_iter()
            .map(|v| {
                let (mut n0, mut n1, mut d) = (0f64, 0f64, 0f64);
                for j in 0..len {
                    let (x, y) = (v0[at(v, j)] as f64, v1[at(v, j)] as f64);
                    n0 += x * x;
                    n1 += y * y;
                    d += x * y;
                }
                coefficients(t, n0.sqrt(), n1.sqrt(), d)
            })
            .collect();
        par_fill(&mut out, |i| {
            let v = if row_wise { i % cols } else { i / cols };
            let (c0, c1) = coef[v];
            (c0 * v0[i] as f64 + c1 * v1[i] as f64) as f32
        });
    }
    if let Some(b) = &base {
        out.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}

/// Slerp coefficients `(c0, c1)` for vectors with norms `n0`, `n1` and dot product `d`
/// (mergekit: directions `x / max(‖x‖, 1e-7)`, lerp when `|sin θ| < 1e-8`).
fn coefficients(t: f64, n0: f64, n1: f64, d: f64) -> (f64, f64) {
    let cos = d / (n0.max(1e-7) * n1.max(1e-7));
    let theta = cos.clamp(-1.0, 1.0).acos();
    let sin = theta.sin();
    if sin.abs() < 1e-8 {
        (1.0 - t, t)
    } else {
        (((1.0 - t) * theta).sin() / sin, (t * theta).sin() / sin)
    }
}
