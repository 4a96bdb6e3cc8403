//! `sce` (Select, Calculate, Erase): keep the `select_topk` fraction of positions where the
//! task vectors vary most across models, weight each model by its mean squared task vector,
//! erase entries disagreeing with the TIES-elected sign, and take the weighted mean.
//! Follows mergekit's `sce.py`.
//!
//! ## References
//! - Wan et al., FuseChat, <https://arxiv.org/abs/2408.07990>

use super::common::base_of;
use crate::error::Result;
use crate::merge::inputs::{encode_to, TensorInputs};
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;
use crate::merge::topk::TopK;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let b = inputs.to_vec(base_of(job)?);
    let n = b.len();
    let mut tvs: Vec<Vec<f32>> = job
        .others()
        .iter()
        .map(|&k| {
            let mut x = inputs.to_vec(k);
            x.iter_mut().zip(&b).for_each(|(v, y)| *v -= y);
            x
        })
        .collect();
    let m = tvs.len() as f64;
    let topk = job.global.or("select_topk", 1.0);
    if topk < 1.0 {
        // Population variance across models at each position.
        let var: Vec<f32> = (0..n)
            .map(|i| {
                let mean = tvs.iter().map(|t| t[i] as f64).sum::<f64>() / m;
                (tvs.iter()
                    .map(|t| (t[i] as f64 - mean).powi(2))
                    .sum::<f64>()
                    / m) as f32
            })
            .collect();
        let nonzero = var.iter().filter(|v| **v != 0.0).count();
        let k = if topk <= 0.0 {
            0
        } else {
            (nonzero as f64 * topk) as usize
        };
        let rule = TopK::new(&var, k);
        for t in &mut tvs {
            for (i, x) in t.iter_mut().enumerate() {
                if !rule.keeps(i, var[i]) {
                    *x = 0.0;
                }
            }
        }
    }
    // Model weights: mean of squares, normalized to sum 1 (uniform when all ≈ 0).
    let raw: Vec<f64> = tvs
        .iter()
        .map(|t| t.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / n.max(1) as f64)
        .collect();
    let total: f64 = raw.iter().sum();
    let w: Vec<f64> = if total.abs() < 1e-6 {
        vec![1.0 / m; tvs.len()]
    } else {
        raw.iter().map(|x| x / total).collect()
    };
    let mut out = vec![0f32; n];
    for i in 0..n {
        let s: f64 = tvs.iter().map(|t| t[i] as f64).sum();
        let elected = if s >= 0.0 { 1.0 } else { -1.0 };
        let (mut num, mut den) = (0f64, 0f64);
        for (t, wk) in tvs.iter().zip(&w) {
            let x = t[i] as f64;
            let sg = if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            };
            if sg == elected {
                num += x * wk;
                den += wk;
            }
        }
        out[i] = (b[i] as f64 + num / den.max(1e-6)) as f32;
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}
