//! `ram` (Reinforced Agent Merging): task-vector entries above `epsilon` in magnitude are
//! kept whole where only one model changes them and averaged where several do.
//!
//! ## References
//! - <https://arxiv.org/abs/2601.13572>

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
    let mut which = vec![base];
    which.extend(job.others());
    let eps = global(job, "epsilon")? as f32;
    inputs.map_chunks(&which, job.out_dtype, dst, |_, ins, out| {
        for (i, o) in out.iter_mut().enumerate() {
            let b = ins[0][i];
            let (mut sum, mut count) = (0f32, 0u32);
            for x in &ins[1..] {
                let d = x[i] - b;
                if d.abs() > eps {
                    sum += d;
                    count += 1;
                }
            }
            *o = if count > 1 {
                b + sum / count as f32
            } else {
                b + sum
            };
        }
    });
    Ok(())
}
