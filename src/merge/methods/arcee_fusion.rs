//! `arcee_fusion`: move the base toward the other model only where the change is important:
//! importance = |Δ| × KL(softmax(other row) ‖ softmax(base row)), kept where it reaches
//! median + 1.5·IQR. Follows mergekit's `arcee_fusion.py`, except that quantiles are exact
//! for every tensor (mergekit samples 10⁶ entries with an unseeded RNG above that size).

use super::common::{base_of, par_fill};
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
    let a = inputs.to_vec(base_of(job)?);
    let b = inputs.to_vec(job.others()[0]);
    let n = a.len();
    let cols = if inputs.shape().len() >= 2 {
        *inputs.shape().last().unwrap_or(&1)
    } else {
        n
    };
    if n == 0 {
        return Ok(());
    }
    let mut imp = vec![0f32; n];
    imp.par_chunks_mut(cols.max(1))
        .enumerate()
        .for_each(|(r, row)| {
            let start = r * cols;
            let range = start..start + row.len();
            // f32 throughout, as torch computes it: the mask is a threshold decision, and
            // importances within float error of the threshold must fall the same way.
            let p = softmax(&b[range.clone()]);
            let q = softmax(&a[range.clone()]);
            let kl: f32 = p
                .iter()
                .zip(&q)
                .map(|(p, q)| {
                    let (p, q) = (p + 1e-8, q + 1e-8);
                    p * (p / q).ln()
                })
                .sum();
            for (j, o) in row.iter_mut().enumerate() {
                *o = (b[start + j] - a[start + j]).abs() * kl;
            }
        });
    // Quantiles at ⌊q·(n − 1)⌋ of the sorted importances (torch: float32 q times n − 1, then
    // `.long()`), found by selection instead of a full sort.
    let mut scratch = imp.clone();
    let mut at = |q: f32| {
        let i = (q * (n as f32 - 1.0)) as usize;
        *scratch.select_nth_unstable_by(i, |x, y| x.total_cmp(y)).1
    };
    let (q1, median, q3) = (at(0.25), at(0.5), at(0.75));
    let thr = median + 1.5 * (q3 - q1);
    let mut out = vec![0f32; n];
    par_fill(&mut out, |i| {
        if imp[i] >= thr {
            a[i] + (b[i] - a[i])
        } else {
            a[i]
        }
    });
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}
