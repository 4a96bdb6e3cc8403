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

use super::common::base_of;

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
    let len = if job.global.flag("filter_wise", false) && shape.len() >= 2 {
        *shape.last().unwrap_or(&1)
    } else {
        w0.len()
    };
    let mut out = vec![0f32; w0.len()];
    let nm = ws.len() as f64;
    for start in (0..w0.len()).step_by(len.max(1)) {
        let r = start..start + len;
        let offs: Vec<Vec<f64>> = ws
            .iter()
            .map(|w| {
                w[r.clone()]
                    .iter()
                    .zip(&w0[r.clone()])
                    .map(|(a, b)| (*a - *b) as f64)
                    .collect()
            })
            .collect();
        let mut cos_sum = 0f64;
        let mut pairs = 0usize;
        for i in 0..offs.len() {
            for j in i + 1..offs.len() {
                let ni = offs[i].iter().map(|x| x * x).sum::<f64>().sqrt();
                let nj = offs[j].iter().map(|x| x * x).sum::<f64>().sqrt();
                let d: f64 = offs[i].iter().zip(&offs[j]).map(|(a, b)| a * b).sum();
                cos_sum += (d / (ni * nj).max(1e-6)).clamp(-1.0, 1.0);
                pairs += 1;
            }
        }
        let cos = cos_sum / pairs as f64;
        let t = nm * cos / (1.0 + (nm - 1.0) * cos);
        for i in r {
            let avg = ws.iter().map(|w| w[i] as f64).sum::<f64>() / nm;
            out[i] = (t * avg + (1.0 - t) * w0[i] as f64) as f32;
        }
    }
    encode_to(job.out_dtype, &out, dst);
    Ok(())
}
