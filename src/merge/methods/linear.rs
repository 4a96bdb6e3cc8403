//! `linear`: weighted average `Σ w_k x_k / Σ w_k` (normalize, default) or plain weighted sum.
//!
//! ## References
//! - Wortsman et al., Model soups, <https://arxiv.org/abs/2203.05482>

use super::common::{global_flag, weights_of};
use crate::error::{Error, Result};
use crate::merge::inputs::TensorInputs;
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let all: Vec<usize> = (0..job.sources.len()).collect();
    let w = weights_of(job, &all)?;
    let normalize = global_flag(job, "normalize")?;
    let sum: f64 = w.iter().sum();
    if normalize && sum.abs() < 1e-12 {
        return Err(Error::merge(
            &job.name,
            "linear weights sum to zero, so normalize divides by zero; set normalize: false",
        ));
    }
    let scale = if normalize { 1.0 / sum } else { 1.0 };
    let w: Vec<f32> = w.iter().map(|x| *x as f32).collect();
    let inv = scale as f32;
    inputs.map_chunks(&all, job.out_dtype, dst, |_, ins, out| {
        for (i, o) in out.iter_mut().enumerate() {
            let mut acc = 0f32;
            for (x, wk) in ins.iter().zip(&w) {
                acc += wk * x[i];
            }
            *o = if normalize { acc * inv } else { acc };
        }
    });
    Ok(())
}
