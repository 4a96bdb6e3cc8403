//! `sce` (Select, Calculate, Erase): keep the `select_topk` fraction of positions where the
//! task vectors vary most across models, weight each model by its mean squared task vector,
//! erase entries disagreeing with the TIES-elected sign, and take the weighted mean.
//! Follows mergekit's `sce.py`.
//!
//! ## References
//! - Wan et al., FuseChat, <https://arxiv.org/abs/2408.07990>

use super::common::{base_of, global, par_fill, par_sum};
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
            let v = x.clone();
            par_fill(&mut x, |i| v[i] - b[i]);
            x
        })
        .collect();
    let m = tvs.len() as f64;
    let topk = global(job, "select_topk")?;
    if topk < 1.0 {
        // Population variance across models at each position.
        let mut var = vec![0f32; n];
        par_fill(&mut var, |i| {
            let mean = tvs.iter().map(|t| t[i] as f64).sum::<f64>() / m;
            (tvs.iter()
                .map(|t| (t[i] as f64 - mean).powi(2))
                .sum::<f64>()
                / m) as f32
        });
        let nonzero = par_sum(n, |i| (var[i] != 0.0) as u8 as f64) as usize;
        let k = if topk <= 0.0 {
            0
        } else {
            (nonzero as f64 * topk) as usize
        };
        let rule = TopK::new(&var, k);
        for t in &mut tvs {
            let v = t.clone();
            par_fill(t, |i| if rule.keeps(i, var[i]) { v[i] } else { 0.0 });
        }
    }
    // Model weights: mean of squares, normalized to sum 1 (uniform when all ≈ 0).
    let raw: Vec<f64> = tvs
        .iter()
        .map(|t| par_sum(n, |i| (t[i] as f64).powi(2)) / n.max(1) as f64)
        .collect();
    let total: f64 = raw.iter().sum();
    let w: Vec<f64> = if total.abs() < 1e-6 {
        vec![1.0 / m; tvs.len()]
    } else {
        raw.iter().map(|x| x / total).collect()
    };
    let mut out = vec![0f32; n];
    par_fill(&mut out, |i| {
        // Erase entries whose sign disagrees with sign(Σ_k tv_k) (≥ 0 counts as +).
        let s: f64 = tvs.iter().map(|t| t[i] as f64).sum();
        let elected = if s >= 0.0 { 1.0 } else { -1.0 };
        let (mut num, mut den) = (0f64, 0f64);
        for (t, wk) in tvs.iter().zip(&w) {
            let x = t[i] as f64;
            if x * elected > 0.0 {
                num += x * wk;
                den += wk;
            }
        }
        (b[i] as f64 + num / den.max(1e-6)) as f32
    });
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}
