//! `model_stock`: interpolate between the base and the average of the fine-tunes with
//! `t = N·cosθ / (1 + (N − 1)·cosθ)`, θ the mean pairwise angle between task vectors,
//! over the whole tensor or per row (`filter_wise`). Follows mergekit's `model_stock.py`.
//!
//! ## References
//! - Jang et al., Model Stock, <https://arxiv.org/abs/2403.19522>

use crate::error::Result;
use crate::merge::inputs::{encode_to, TensorInputs};
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;

use super::common::{base_of, global_flag, par_fill, par_sum};
use rayon::prelude::*;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let w0 = inputs.to_vec(base_of(job)?);
    let ws: Vec<Vec<f32>> = job.others().iter().map(|&k| inputs.to_vec(k)).collect();
    let shape = inputs.shape();
    let len = if global_flag(job, "filter_wise")? && shape.len() >= 2 {
        *shape.last().unwrap_or(&1)
    } else {
        w0.len()
    };
    let mut out = vec![0f32; w0.len()];
    let nm = ws.len() as f64;
    let blend = |t: f64, i: usize| {
        let avg = ws.iter().map(|w| w[i] as f64).sum::<f64>() / nm;
        (t * avg + (1.0 - t) * w0[i] as f64) as f32
    };
    if len == w0.len() {
        let t = interpolation(&w0, &ws, 0..w0.len(), true);
        par_fill(&mut out, |i| blend(t, i));
    } else {
        // filter_wise: one angle per row, rows in parallel.
        out.par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(r, row)| {
                let start = r * len;
                let t = interpolation(&w0, &ws, start..start + row.len(), false);
                for (j, o) in row.iter_mut().enumerate() {
                    *o = blend(t, start + j);
                }
            });
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}

/// Model Stock's `t = N·cosθ / (1 + (N − 1)·cosθ)` over `range`, θ the mean pairwise angle
/// between the task vectors `w_k − w_0` (mergekit clamps each cosine to [−1, 1] and the norm
/// product to ≥ 1e-6).
fn interpolation(w0: &[f32], ws: &[Vec<f32>], range: std::ops::Range<usize>, par: bool) -> f64 {
    let sum = |f: &(dyn Fn(usize) -> f64 + Sync)| -> f64 {
        if par {
            par_sum(range.len(), |i| f(range.start + i))
        } else {
            range.clone().map(f).sum()
        }
    };
    let off = |k: usize, i: usize| (ws[k][i] - w0[i]) as f64;
    let norms: Vec<f64> = (0..ws.len())
        .map(|k| sum(&|i| off(k, i) * off(k, i)).sqrt())
        .collect();
    let (mut cos_sum, mut pairs) = (0f64, 0usize);
    for a in 0..ws.len() {
        for b in a + 1..ws.len() {
            let d = sum(&|i| off(a, i) * off(b, i));
            cos_sum += (d / (norms[a] * norms[b]).max(1e-6)).clamp(-1.0, 1.0);
            pairs += 1;
        }
    }
    let cos = cos_sum / pairs as f64;
    let n = ws.len() as f64;
    n * cos / (1.0 + (n - 1.0) * cos)
}
