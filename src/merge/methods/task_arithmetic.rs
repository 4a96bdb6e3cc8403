//! The generalized task-arithmetic kernel behind task_arithmetic, TIES, DARE, breadcrumbs
//! and DELLA: (sparsify × sign consensus × defaults) presets of one computation, as in
//! mergekit's `generalized_task_arithmetic.py`.
//!
//! For base `b` and models `k` with weight `w_k`, task vector `δ_k = x_k − b` is sparsified
//! (optionally rescaled to its L1 norm), weighted `v_k = w_k δ_k`, and then
//! - with TIES consensus: the elected sign is `sign(Σ_k v_k)` (≥ 0 → +), `m_k = [sign v_k = elected]`,
//!   `Δ = Σ m_k v_k`, divisor `Σ m_k w_k` (0 → 1);
//! - without: `Δ = Σ v_k`, divisor `Σ w_k` (|·| < 1e-8 → 1);
//!
//! `Δ /= divisor` when `normalize`, `Δ *= λ`, and the output is `b + Δ`.
//!
//! ## References
//! - Ilharco et al., Editing Models with Task Arithmetic, <https://arxiv.org/abs/2212.04089>
//! - Yadav et al., TIES-Merging, <https://arxiv.org/abs/2306.01708>
//! - Yu et al., Language Models are Super Mario (DARE), <https://arxiv.org/abs/2311.03099>
//! - Davari & Belilovsky, Model Breadcrumbs, <https://arxiv.org/abs/2312.06795>
//! - Deep et al., DELLA-Merging, <https://arxiv.org/abs/2406.11617>

use crate::error::{Error, Result};
use crate::merge::inputs::TensorInputs;
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;
use crate::merge::rng::MaskStream;
use crate::merge::sparsify::{sparsify, Sparsify, SparsifyParams};

/// A preset of the generalized kernel.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Sparsification, if any.
    pub sparsify: Option<Sparsify>,
    /// Whether TIES sign consensus is applied.
    pub consensus: bool,
}

/// `task_arithmetic`.
pub fn task_arithmetic(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: None,
            consensus: false,
        },
    )
}
/// `ties`.
pub fn ties(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::Magnitude),
            consensus: true,
        },
    )
}
/// `dare_ties`.
pub fn dare_ties(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::Random),
            consensus: true,
        },
    )
}
/// `dare_linear`.
pub fn dare_linear(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::Random),
            consensus: false,
        },
    )
}
/// `breadcrumbs`.
pub fn breadcrumbs(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::MagnitudeOutliers),
            consensus: false,
        },
    )
}
/// `breadcrumbs_ties`.
pub fn breadcrumbs_ties(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::MagnitudeOutliers),
            consensus: true,
        },
    )
}
/// `della`.
pub fn della(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::DellaMagprune),
            consensus: true,
        },
    )
}
/// `della_linear`.
pub fn della_linear(j: &TensorJob, i: &TensorInputs, o: &MergeOptions) -> Result<Vec<u8>> {
    gta(
        j,
        i,
        o,
        Preset {
            sparsify: Some(Sparsify::DellaMagprune),
            consensus: false,
        },
    )
}

/// The generalized kernel.
pub fn gta(
    job: &TensorJob,
    inputs: &TensorInputs,
    opts: &MergeOptions,
    preset: Preset,
) -> Result<Vec<u8>> {
    let base = job
        .base
        .ok_or_else(|| Error::merge(&job.name, "this method needs a base_model"))?;
    let others = job.others();
    let weights: Vec<f32> = others
        .iter()
        .map(|&k| {
            job.sources[k]
                .params
                .get("weight")
                .map(|w| w as f32)
                .ok_or_else(|| Error::merge(&job.name, format!("input {k} has no weight")))
        })
        .collect::<Result<_>>()?;
    let normalize = job.global.flag("normalize", false);
    let rescale = job.global.flag("rescale", false);
    let lambda = job.global.or("lambda", 1.0) as f32;
    let combine = Combine {
        weights: &weights,
        consensus: preset.consensus,
        normalize,
        lambda,
    };

    let sparse = preset.sparsify.filter(|_| {
        others
            .iter()
            .any(|&k| job.sources[k].params.or("density", 1.0) < 1.0)
    });
    let Some(method) = sparse else {
        // Fused single pass: decode base and models chunk by chunk, never materializing δ.
        let mut which = vec![base];
        which.extend(&others);
        let scales = vec![1f32; others.len()];
        return Ok(inputs.map_chunks(&which, job.out_dtype, |_, ins, out| {
            combine.run(ins[0], &ins[1..], &scales, true, out)
        }));
    };

    // Materialize each task vector, sparsify it in place, then combine in one fused pass.
    let mut deltas = Vec::with_capacity(others.len());
    let mut scales = Vec::with_capacity(others.len());
    for (pos, &k) in others.iter().enumerate() {
        let mut d = vec![0f32; inputs.numel()];
        inputs.map_chunks_into(&[base, k], &mut d, |_, ins, out| {
            for ((o, x), b) in out.iter_mut().zip(ins[1]).zip(ins[0]) {
                *o = x - b;
            }
        });
        let p = &job.sources[k].params;
        let sp = SparsifyParams {
            density: p.or("density", 1.0),
            gamma: p.or("gamma", 0.01),
            epsilon: p.or("epsilon", 0.15),
        };
        let stream = MaskStream::new(opts.seed, &job.name, pos);
        scales.push(sparsify(method, &mut d, &job.shape, sp, rescale, &stream));
        deltas.push(d);
    }
    let refs: Vec<&[f32]> = deltas.iter().map(|d| d.as_slice()).collect();
    let ext = inputs.extended(&refs);
    let mut which = vec![base];
    which.extend(inputs.len()..inputs.len() + deltas.len());
    Ok(ext.map_chunks(&which, job.out_dtype, |_, ins, out| {
        combine.run(ins[0], &ins[1..], &scales, false, out)
    }))
}

/// Weighting, consensus, normalization and λ of one chunk.
struct Combine<'a> {
    weights: &'a [f32],
    consensus: bool,
    normalize: bool,
    lambda: f32,
}

impl Combine<'_> {
    /// `xs` are either full model values (`absolute`, δ = x − b computed here) or task vectors.
    #[inline]
    fn run(&self, base: &[f32], xs: &[&[f32]], scales: &[f32], absolute: bool, out: &mut [f32]) {
        let m = xs.len();
        let wsum: f32 = self.weights.iter().sum();
        let lin_div = if wsum.abs() < 1e-8 { 1.0 } else { wsum };
        let mut v = [0f32; 16];
        let mut vs = vec![0f32; if m > 16 { m } else { 0 }];
        for (i, o) in out.iter_mut().enumerate() {
            let b = base[i];
            let v: &mut [f32] = if m <= 16 { &mut v[..m] } else { &mut vs[..] };
            for k in 0..m {
                let d = if absolute {
                    xs[k][i] - b
                } else {
                    xs[k][i] * scales[k]
                };
                v[k] = d * self.weights[k];
            }
            let (mixed, div) = if self.consensus {
                let s: f32 = v.iter().sum();
                let elected = if s >= 0.0 { 1.0 } else { -1.0 };
                let (mut mixed, mut div) = (0f32, 0f32);
                for k in 0..m {
                    if sign(v[k]) == elected {
                        mixed += v[k];
                        div += self.weights[k];
                    }
                }
                (mixed, if div == 0.0 { 1.0 } else { div })
            } else {
                (v.iter().sum::<f32>(), lin_div)
            };
            let mut delta = if self.normalize { mixed / div } else { mixed };
            delta *= self.lambda;
            *o = b + delta;
        }
    }
}

/// torch.sign: −1, 0 or 1.
#[inline]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
