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

use super::common::{base_of, global, global_flag, per_model, weights_of};
use crate::error::Result;
use crate::merge::inputs::TensorInputs;
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;
use crate::merge::rng::MaskStream;
use crate::merge::sparsify::{sparsify_all, Keep, SparseTerm, Sparsify, SparsifyParams};

/// A preset of the generalized kernel.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Sparsification, if any.
    pub sparsify: Option<Sparsify>,
    /// Whether TIES sign consensus is applied.
    pub consensus: bool,
}

macro_rules! preset {
    ($(#[$doc:meta])* $name:ident, $sparsify:expr, $consensus:expr) => {
        $(#[$doc])*
        pub fn $name(
            j: &TensorJob,
            i: &TensorInputs,
            o: &MergeOptions,
            dst: &mut [u8],
        ) -> Result<()> {
            let preset = Preset {
                sparsify: $sparsify,
                consensus: $consensus,
            };
            gta(j, i, o, dst, preset)
        }
    };
}

preset!(
    /// `task_arithmetic`: no sparsification, no consensus.
    task_arithmetic, None, false
);
preset!(
    /// `ties`: magnitude pruning + sign consensus.
    ties, Some(Sparsify::Magnitude), true
);
preset!(
    /// `dare_ties`: random pruning + sign consensus.
    dare_ties, Some(Sparsify::Random), true
);
preset!(
    /// `dare_linear`: random pruning.
    dare_linear, Some(Sparsify::Random), false
);
preset!(
    /// `breadcrumbs`: outlier + small-magnitude pruning.
    breadcrumbs, Some(Sparsify::MagnitudeOutliers), false
);
preset!(
    /// `breadcrumbs_ties`: breadcrumbs pruning + sign consensus.
    breadcrumbs_ties, Some(Sparsify::MagnitudeOutliers), true
);
preset!(
    /// `della`: MagPrune + sign consensus.
    della, Some(Sparsify::DellaMagprune), true
);
preset!(
    /// `della_linear`: MagPrune.
    della_linear, Some(Sparsify::DellaMagprune), false
);

/// The generalized kernel.
pub fn gta(
    job: &TensorJob,
    inputs: &TensorInputs,
    opts: &MergeOptions,
    dst: &mut [u8],
    preset: Preset,
) -> Result<()> {
    let p = prepare(job, inputs, opts, preset)?;
    let refs: Vec<&[f32]> = p.materialized.iter().map(|d| d.as_slice()).collect();
    let ext = inputs.extended(&refs);
    let which = p.which();
    // One fused pass: base and every task vector chunk by chunk, straight to output bytes.
    ext.map_chunks(&which, job.out_dtype, dst, |start, ins, out| {
        combine_chunk(&p.combine(), start, ins[0], &ins[1..], out)
    });
    Ok(())
}

/// The kernel's vector–Jacobian product with respect to the weights: for every non-base
/// input `k` (in [`TensorJob::others`] order), `Σ_i g_i ∂out_i/∂w_k` for the upstream
/// gradient `g` of the output. Sparsification masks do not depend on the weights, so they
/// are held fixed; so are the TIES agreement masks, which change only where a weighted sum
/// crosses zero (the derivative exists almost everywhere, as in AdaMerging++). At `w_k = 0`
/// the right derivative is taken (agreement of the unweighted entry), so a coefficient
/// clamped at 0 can leave it again.
///
/// Per element, with `u_k` the sparsified, rescaled task vector, `m_k` the agreement mask
/// (1 without consensus), `N = Σ m_k w_k u_k`, `D` the divisor (`Σ m_k w_k` per element
/// with consensus, `Σ w_k` per tensor without; a replaced divisor counts as a constant):
/// `∂out/∂w_k = λ m_k u_k` without `normalize`, `λ m_k (u_k − N/D) / D` with it.
pub fn gta_vjp(
    job: &TensorJob,
    inputs: &TensorInputs,
    opts: &MergeOptions,
    preset: Preset,
    grad: &[f32],
) -> Result<Vec<f64>> {
    let p = prepare(job, inputs, opts, preset)?;
    let refs: Vec<&[f32]> = p.materialized.iter().map(|d| d.as_slice()).collect();
    let ext = inputs.extended(&refs);
    let which = p.which();
    let m = p.terms.len();
    let c = p.combine();
    Ok(ext.fold_chunks(
        &which,
        || vec![0f64; m],
        |mut acc, start, ins| {
            vjp_chunk(
                &c,
                start,
                ins[0],
                &ins[1..],
                &grad[start..start + ins[0].len()],
                &mut acc,
            );
            acc
        },
        |mut a, b| {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            a
        },
    ))
}

/// The kernel for the generalized task-arithmetic presets, by method name (`None` for the
/// methods that are not presets of it).
pub fn preset_of(method: &str) -> Option<Preset> {
    let (sparsify, consensus) = match method {
        "task_arithmetic" => (None, false),
        "ties" => (Some(Sparsify::Magnitude), true),
        "dare_ties" => (Some(Sparsify::Random), true),
        "dare_linear" => (Some(Sparsify::Random), false),
        "breadcrumbs" => (Some(Sparsify::MagnitudeOutliers), false),
        "breadcrumbs_ties" => (Some(Sparsify::MagnitudeOutliers), true),
        "della" => (Some(Sparsify::DellaMagprune), true),
        "della_linear" => (Some(Sparsify::DellaMagprune), false),
        _ => return None,
    };
    Some(Preset {
        sparsify,
        consensus,
    })
}

/// Everything the final pass (and its derivative) needs: the terms, the inputs DELLA
/// materialized, and the global settings.
struct Prepared {
    base: usize,
    terms: Vec<Term>,
    materialized: Vec<Vec<f32>>,
    consensus: bool,
    normalize: bool,
    lambda: f32,
}

impl Prepared {
    /// Inputs of the final pass: the base, then each term's input.
    fn which(&self) -> Vec<usize> {
        let mut which = vec![self.base];
        which.extend(self.terms.iter().map(|t| t.input));
        which
    }

    fn combine(&self) -> Combine<'_> {
        Combine {
            terms: &self.terms,
            consensus: self.consensus,
            normalize: self.normalize,
            lambda: self.lambda,
        }
    }
}

/// Resolves the weights, sparsifies every task vector and sets up the terms.
fn prepare(
    job: &TensorJob,
    inputs: &TensorInputs,
    opts: &MergeOptions,
    preset: Preset,
) -> Result<Prepared> {
    let base = base_of(job)?;
    let others = job.others();
    let rescale = global_flag(job, "rescale")?;
    let weights: Vec<f32> = weights_of(job, &others)?
        .into_iter()
        .map(|w| w as f32)
        .collect();
    // `gamma` (breadcrumbs) and `epsilon` (DELLA) exist only for the presets that read
    // them; elsewhere they are unused and 0.
    let used = |name: &str| {
        matches!(
            (preset.sparsify, name),
            (Some(Sparsify::MagnitudeOutliers), "gamma")
                | (Some(Sparsify::DellaMagprune), "epsilon")
        )
    };
    let params: Vec<SparsifyParams> = others
        .iter()
        .map(|&k| {
            let opt = |name| {
                if used(name) {
                    per_model(job, k, name)
                } else {
                    Ok(0.0)
                }
            };
            Ok(SparsifyParams {
                density: per_model(job, k, "density")?,
                gamma: opt("gamma")?,
                epsilon: opt("epsilon")?,
            })
        })
        .collect::<Result<_>>()?;
    let sparse: Vec<SparseTerm> = match preset.sparsify {
        Some(method) if params.iter().any(|p| p.density < 1.0) => {
            let streams = (0..others.len())
                .map(|pos| MaskStream::new(opts.seed, &job.name, pos))
                .collect();
            sparsify_all(
                method,
                inputs,
                base,
                &others,
                &params,
                rescale,
                streams,
                opts.ranks.as_deref(),
            )
        }
        _ => (0..others.len())
            .map(|_| SparseTerm {
                keep: Keep::All,
                scale: 1.0,
                materialized: None,
            })
            .collect(),
    };
    let mut terms = Vec::with_capacity(others.len());
    let mut materialized = Vec::new();
    for ((&k, term), weight) in others.iter().zip(sparse).zip(weights) {
        // Input position in the final pass: the model itself (δ computed on the fly) or its
        // materialized masked task vector, appended after the inputs.
        let (input, absolute) = match term.materialized {
            Some(v) => {
                materialized.push(v);
                (inputs.len() + materialized.len() - 1, false)
            }
            None => (k, true),
        };
        terms.push(Term {
            input,
            absolute,
            weight,
            scale: term.scale,
            keep: term.keep,
        });
    }
    Ok(Prepared {
        base,
        terms,
        materialized,
        consensus: preset.consensus,
        normalize: global_flag(job, "normalize")?,
        lambda: global(job, "lambda")? as f32,
    })
}

/// Accumulates `Σ_i g_i ∂out_i/∂w_k` of elements `start..start + base.len()` into `acc[k]`
/// (see [`gta_vjp`]).
fn vjp_chunk(c: &Combine, start: usize, base: &[f32], xs: &[&[f32]], g: &[f32], acc: &mut [f64]) {
    let m = c.terms.len();
    let n = base.len();
    let wsum: f32 = c.terms.iter().map(|t| t.weight).sum();
    let lin_div = if wsum.abs() < 1e-8 { None } else { Some(wsum) };
    let mut us = vec![0f32; m * n];
    let mut draws = vec![0f64; n];
    for (k, t) in c.terms.iter().enumerate() {
        let u = &mut us[k * n..(k + 1) * n];
        if t.absolute {
            u.iter_mut()
                .zip(xs[k])
                .zip(base)
                .for_each(|((u, x), b)| *u = x - b);
        } else {
            u.copy_from_slice(xs[k]);
        }
        apply_keep(&t.keep, start, u, t.scale, &mut draws);
    }
    let lambda = c.lambda as f64;
    let mut mask = vec![0f32; m];
    for i in 0..n {
        let (mut num, mut den) = (0f64, 0f64);
        if c.consensus {
            // The elected sign as the kernel computes it, from the weighted entries.
            let s: f32 = (0..m).map(|k| c.terms[k].weight * us[k * n + i]).sum();
            let elected = if s >= 0.0 { 1.0 } else { -1.0 };
            for (k, t) in c.terms.iter().enumerate() {
                let v = t.weight * us[k * n + i];
                // sign(v) == elected, with w = 0 read as 0+ (the right derivative).
                let sign_w = if t.weight < 0.0 { -1.0 } else { 1.0 };
                mask[k] = (us[k * n + i] * sign_w * elected > 0.0) as u32 as f32;
                num += (mask[k] * v) as f64;
                den += (mask[k] * t.weight) as f64;
            }
        } else {
            mask.fill(1.0);
            for (k, t) in c.terms.iter().enumerate() {
                num += (t.weight * us[k * n + i]) as f64;
            }
            den = lin_div.map_or(0.0, f64::from);
        }
        let gi = g[i] as f64 * lambda;
        for k in 0..m {
            if mask[k] == 0.0 {
                continue;
            }
            let u = us[k * n + i] as f64;
            let d = if c.normalize && den != 0.0 {
                (u - num / den) / den
            } else {
                u
            };
            acc[k] += gi * d;
        }
    }
}

/// One model's contribution.
struct Term {
    /// Index into the final pass's inputs.
    input: usize,
    /// The input holds model values (δ = x − b is computed) rather than a task vector.
    absolute: bool,
    weight: f32,
    scale: f32,
    keep: Keep,
}

/// Weighting, consensus, normalization and λ of one chunk.
struct Combine<'a> {
    terms: &'a [Term],
    consensus: bool,
    normalize: bool,
    lambda: f32,
}

/// Merges elements `start..start + out.len()`; `xs[t]` is term `t`'s input chunk. Works in blocks: each term's weighted, masked
/// task vector is computed once per block into scratch, with the mask rule dispatched per
/// block so the inner loops stay branch-light; compiled per SIMD level, dispatched at run time.
#[multiversion::multiversion(targets = "simd")]
fn combine_chunk(c: &Combine, start: usize, base: &[f32], xs: &[&[f32]], out: &mut [f32]) {
    {
        let this = c;
        const B: usize = 512;
        let m = this.terms.len();
        let wsum: f32 = this.terms.iter().map(|t| t.weight).sum();
        let lin_div = if wsum.abs() < 1e-8 { 1.0 } else { wsum };
        let mut vs = vec![0f32; m * B];
        let mut mixed = [0f32; B];
        let mut div = [0f32; B];
        let mut u = [0f64; B];
        for bs in (0..out.len()).step_by(B) {
            let n = B.min(out.len() - bs);
            let b = &base[bs..bs + n];
            // v_k = w·s·keep(δ_k) (mergekit: (δ·s)·w; folding s·w differs by ≤ 1 ulp).
            for (k, t) in this.terms.iter().enumerate() {
                let v = &mut vs[k * B..k * B + n];
                let x = &xs[k][bs..bs + n];
                if t.absolute {
                    v.iter_mut()
                        .zip(x)
                        .zip(b)
                        .for_each(|((v, x), b)| *v = x - b);
                } else {
                    v.copy_from_slice(x);
                }
                apply_keep(&t.keep, start + bs, v, t.weight * t.scale, &mut u[..n]);
            }
            mixed[..n].fill(0.0);
            for k in 0..m {
                mixed[..n]
                    .iter_mut()
                    .zip(&vs[k * B..k * B + n])
                    .for_each(|(acc, v)| *acc += v);
            }
            if this.consensus {
                // Elected sign: sign(Σ_k v_k), ties (0) count as +; keep agreeing entries.
                let mut elected = [0f32; B];
                elected[..n]
                    .iter_mut()
                    .zip(&mixed[..n])
                    .for_each(|(e, s)| *e = if *s >= 0.0 { 1.0 } else { -1.0 });
                mixed[..n].fill(0.0);
                div[..n].fill(0.0);
                for (k, t) in this.terms.iter().enumerate() {
                    let v = &vs[k * B..k * B + n];
                    let w = t.weight;
                    let (mx, dv, el) = (&mut mixed[..n], &mut div[..n], &elected[..n]);
                    for i in 0..n {
                        // sign(v) == elected ⇔ v·elected > 0 (a zero entry never agrees).
                        let agree = (v[i] * el[i] > 0.0) as u32 as f32;
                        mx[i] += agree * v[i];
                        dv[i] += agree * w;
                    }
                }
                div[..n].iter_mut().for_each(|d| {
                    if *d == 0.0 {
                        *d = 1.0
                    }
                });
            } else {
                div[..n].fill(lin_div);
            }
            let o = &mut out[bs..bs + n];
            for i in 0..n {
                let d = if this.normalize {
                    mixed[i] / div[i]
                } else {
                    mixed[i]
                };
                o[i] = b[i] + d * this.lambda;
            }
        }
    }
}

/// `v[i] ← keep(start + i) ? v[i]·ws : 0`, one tight loop per rule.
#[inline]
fn apply_keep(keep: &Keep, start: usize, v: &mut [f32], ws: f32, u: &mut [f64]) {
    match keep {
        Keep::All => v.iter_mut().for_each(|x| *x *= ws),
        Keep::Top(t) => {
            for (i, x) in v.iter_mut().enumerate() {
                *x = if t.keeps(start + i, *x) { *x * ws } else { 0.0 };
            }
        }
        Keep::Band { upper, outliers } => {
            for (i, x) in v.iter_mut().enumerate() {
                let k = upper.keeps(start + i, *x) && !outliers.keeps(start + i, *x);
                *x = if k { *x * ws } else { 0.0 };
            }
        }
        Keep::Random { stream, density } => {
            stream.uniforms(start, u);
            for (x, r) in v.iter_mut().zip(u.iter()) {
                *x = if *r < *density { *x * ws } else { 0.0 };
            }
        }
    }
}
