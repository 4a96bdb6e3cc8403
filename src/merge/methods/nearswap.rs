//! `nearswap`: take the other model's value where it is close to the base's:
//! `w = clamp(t / max(|a − b|, 1e-6), 0, 1)`, `out = w·b + (1 − w)·a` (a = base).
//!
//! ## References
//! - <https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001>

use super::common::{base_of, global};
use crate::error::Result;
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
    let base = base_of(job)?;
    let other = job.others()[0];
    let t = global(job, "t")? as f32;
    inputs.map_chunks(&[base, other], job.out_dtype, dst, |_, ins, out| {
        for ((o, a), b) in out.iter_mut().zip(ins[0]).zip(ins[1]) {
            let w = (t / (a - b).abs().max(1e-6)).clamp(0.0, 1.0);
            *o = w * b + (1.0 - w) * a;
        }
    });
    Ok(())
}
