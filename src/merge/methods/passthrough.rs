//! `passthrough`: copy the single input (optionally times `scale`); with `slices` this
//! builds frankenmerges by stacking layer ranges.

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
    let scale = job.sources[0].params.get("scale").map(|s| s as f32);
    inputs.map_chunks(&[0], job.out_dtype, dst, |_, ins, out| match scale {
        Some(s) => out.iter_mut().zip(ins[0]).for_each(|(o, x)| *o = x * s),
        None => out.copy_from_slice(ins[0]),
    });
    Ok(())
}
