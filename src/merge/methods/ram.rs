//! `ram` and `ramplus_tl` (Reinforced Agent Merging, and its tensor-local "Plus" variant):
//! a task-vector entry counts where its magnitude exceeds `epsilon`; an entry only one model
//! changes is kept whole, one several models change is averaged over them. `ramplus_tl`
//! also scales each model's unique entries by λ = 1 + r·clamp(ρ, 0, α), where ρ is the
//! ratio of that model's shared to unique entries in the tensor, so a model whose changes
//! mostly overlap the others' keeps more of its own.
//!
//! Both follow mergekit 0.1.5's `mergekit/merge_methods/ram.py` term by term (each model's
//! contribution divided by the count before summing, in model order), so results agree
//! with mergekit's to the last bit on float32 inputs.
//!
//! ## References
//! - <https://arxiv.org/abs/2601.13572>

use super::common::{base_of, global};
use crate::error::Result;
use crate::merge::inputs::TensorInputs;
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;

/// Merges one tensor with `ram`.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let eps = global(job, "epsilon")? as f32;
    merge_with(job, inputs, dst, eps, None)
}

/// Merges one tensor with `ramplus_tl`.
pub fn merge_plus(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let eps = global(job, "epsilon")? as f32;
    let r = global(job, "r")? as f32;
    let alpha = global(job, "alpha")? as f32;
    let which = base_first(job)?;
    let n = which.len() - 1;
    // Per model: entries it shares with another model, and entries only it changes.
    let (shared, unique) = inputs.fold_chunks(
        &which,
        || (vec![0u64; n], vec![0u64; n]),
        |(mut shared, mut unique), _, ins| {
            for i in 0..ins[0].len() {
                let b = ins[0][i];
                let on = |x: &[f32]| (x[i] - b).abs() > eps;
                let count = ins[1..].iter().filter(|x| on(x)).count();
                for (k, x) in ins[1..].iter().enumerate() {
                    if on(x) {
                        match count {
                            1 => unique[k] += 1,
                            _ => shared[k] += 1,
                        }
                    }
                }
            }
            (shared, unique)
        },
        |(mut s, mut u), (s2, u2)| {
            s.iter_mut().zip(s2).for_each(|(a, b)| *a += b);
            u.iter_mut().zip(u2).for_each(|(a, b)| *a += b);
            (s, u)
        },
    );
    // ρ = shared / max(unique, ε) and λ = 1 + r·clamp(ρ, 0, α), in float32 as torch does.
    let lambdas = shared
        .iter()
        .zip(&unique)
        .map(|(&s, &u)| {
            let rho = s as f32 / (u as f32).max(eps);
            1.0 + r * rho.clamp(0.0, alpha)
        })
        .collect();
    merge_with(job, inputs, dst, eps, Some(lambdas))
}

/// The shared kernel: base + Σ_k (Δ_k·[k counts]·[unique]·λ_k + Δ_k·[k counts]·[shared]/c),
/// with c the number of models that count at the entry (λ_k = 1 for `ram`).
fn merge_with(
    job: &TensorJob,
    inputs: &TensorInputs,
    dst: &mut [u8],
    eps: f32,
    lambdas: Option<Vec<f32>>,
) -> Result<()> {
    let which = base_first(job)?;
    inputs.map_chunks(&which, job.out_dtype, dst, |_, ins, out| {
        for (i, o) in out.iter_mut().enumerate() {
            let b = ins[0][i];
            let count = ins[1..].iter().filter(|x| (x[i] - b).abs() > eps).count();
            let (unique, overlap) = (f32::from(count == 1), f32::from(count > 1));
            let c = count.max(1) as f32;
            let mut sum = 0f32;
            for (k, x) in ins[1..].iter().enumerate() {
                let d = x[i] - b;
                let z = d * f32::from(d.abs() > eps);
                let lambda = lambdas.as_ref().map_or(1.0, |l| l[k]);
                sum += z * unique * lambda + z * overlap / c;
            }
            *o = b + sum;
        }
    });
    Ok(())
}

/// The job's inputs with the base first, then the other models in order.
fn base_first(job: &TensorJob) -> Result<Vec<usize>> {
    let mut which = vec![base_of(job)?];
    which.extend(job.others());
    Ok(which)
}
