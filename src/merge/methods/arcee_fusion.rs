//! `arcee_fusion`: move the base toward the other model only where the change is important:
//! importance = |Δ| × KL(softmax(other row) ‖ softmax(base row)), kept where it reaches
//! median + 1.5·IQR. Follows mergekit's `arcee_fusion.py`, except that quantiles are exact
//! for every tensor (mergekit samples 10⁶ entries with an unseeded RNG above that size).

use super::common::base_of;
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
    let a = inputs.to_vec(base_of(job)?);
    let b = inputs.to_vec(job.others()[0]);
    let n = a.len();
    let cols = if inputs.shape().len() >= 2 {
        *inputs.shape().last().unwrap_or(&1)
    } else {
        n
    };
    let mut imp = vec![0f32; n];
    for start in (0..n).step_by(cols.max(1)) {
        let r = start..start + cols;
        // f32 throughout, as torch computes it: the mask is a threshold decision, and
        // importances within float error of the threshold must fall the same way.
        let p = softmax(&b[r.clone()]);
        let q = softmax(&a[r.clone()]);
        let kl: f32 = p
            .iter()
            .zip(&q)
            .map(|(p, q)| {
                let (p, q) = (p + 1e-8, q + 1e-8);
                p * (p / q).ln()
            })
            .sum();
        for i in r {
            imp[i] = (b[i] - a[i]).abs() * kl;
        }
    }
    let mut sorted = imp.clone();
    sorted.sort_by(|x, y| x.total_cmp(y));
    // torch: (q · (n − 1)).long() with q a float32 tensor.
    let at = |q: f32| sorted[(q * (n as f32 - 1.0)) as usize];
    let thr = at(0.5) + 1.5 * (at(0.75) - at(0.25));
    let out: Vec<f32> = (0..n)
        .map(|i| {
            if imp[i] >= thr {
                a[i] + (b[i] - a[i])
            } else {
                a[i]
            }
        })
        .collect();
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b));
    let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}
