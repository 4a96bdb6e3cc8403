//! `nuslerp`: slerp between two models with `t = w₁/(w₀ + w₁)`, over the flattened tensor
//! (`nuslerp_flatten`, default), each row, or each column (`nuslerp_row_wise`, which in
//! mergekit interpolates along dim 0). With a base model the task vectors are interpolated
//! and added back. Follows mergekit's `nuslerp.py`.

use super::common::weights_of;
use crate::error::Result;
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
    let flatten = job.global.flag("nuslerp_flatten", true);
    let row_wise = job.global.flag("nuslerp_row_wise", false);
    let n = v0.len();
    // Vectors as (count, length, element index of vector v position j).
    let (rows, cols) = if shape.len() == 2 {
        (shape[0], shape[1])
    } else {
        (1, n)
    };
    let mut out = vec![0f32; n];
    if flatten || shape.len() < 2 {
        interpolate(t, &v0, &v1, &mut out, n, 1, |_, j| j);
    } else if row_wise {
        // dim 0: each column is a vector (`rows` long; `cols` of them).
        interpolate(t, &v0, &v1, &mut out, rows, cols, |v, j| j * cols + v);
    } else {
        interpolate(t, &v0, &v1, &mut out, cols, rows, |v, j| v * cols + j);
    }
    if let Some(b) = &base {
        out.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}

/// Slerps `count` vectors of length `len`; `at(v, j)` is the flat index of element j of v.
fn interpolate(
    t: f64,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    len: usize,
    count: usize,
    at: impl Fn(usize, usize) -> usize,
) {
    for v in 0..count {
        let (mut n0, mut n1) = (0f64, 0f64);
        for j in 0..len {
            let i = at(v, j);
            n0 += (a[i] as f64).powi(2);
            n1 += (b[i] as f64).powi(2);
        }
        // mergekit: x / max(‖x‖, 1e-7).
        let (n0, n1) = (n0.sqrt().max(1e-7), n1.sqrt().max(1e-7));
        let mut cos = 0f64;
        for j in 0..len {
            let i = at(v, j);
            cos += (a[i] as f64 / n0) * (b[i] as f64 / n1);
        }
        let theta = cos.clamp(-1.0, 1.0).acos();
        let sin = theta.sin();
        let (c0, c1) = if sin.abs() < 1e-8 {
            (1.0 - t, t)
        } else {
            (((1.0 - t) * theta).sin() / sin, (t * theta).sin() / sin)
        };
        for j in 0..len {
            let i = at(v, j);
            out[i] = (c0 * a[i] as f64 + c1 * b[i] as f64) as f32;
        }
    }
}
