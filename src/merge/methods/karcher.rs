//! `karcher`: the Riemannian (Karcher) mean of the inputs' directions on the unit sphere,
//! found by fixed-point iteration, scaled by the mean of the input norms. Every input,
//! base included, has equal weight. Follows mergekit's `karcher.py`.
//!
//! ## References
//! - Karcher, Riemannian center of mass and mollifier smoothing (1977)
//! - mergekit's reference for the method: <https://arxiv.org/abs/2603.04972>

use super::common::{dot, global, norm, par_fill};
use crate::error::Result;
use crate::merge::inputs::{encode_to, TensorInputs};
use crate::merge::job::TensorJob;
use crate::merge::registry::MergeOptions;

/// Merges one tensor.
pub fn merge(
    job: &TensorJob,
    inputs: &TensorInputs,
    _: &MergeOptions,
    dst: &mut [u8],
) -> Result<()> {
    let xs: Vec<Vec<f32>> = (0..inputs.len()).map(|k| inputs.to_vec(k)).collect();
    let max_iter = global(job, "max_iter")? as usize;
    let tol = global(job, "tol")?;
    encode_to(job.out_dtype, &karcher_mean(&xs, max_iter, tol), dst);
    Ok(())
}

/// The Karcher mean of `xs` with equal weights.
pub fn karcher_mean(xs: &[Vec<f32>], max_iter: usize, tol: f64) -> Vec<f32> {
    let n = xs[0].len();
    if xs.len() == 1 {
        return xs[0].clone();
    }
    let alpha = 1.0 / xs.len() as f64;
    let norms: Vec<f64> = xs.iter().map(|x| norm(x)).collect();
    let valid: Vec<usize> = (0..xs.len()).filter(|&i| norms[i] > tol).collect();
    if valid.is_empty() {
        return vec![0.0; n];
    }
    let units: Vec<Vec<f32>> = valid
        .iter()
        .map(|&i| {
            let mut u = vec![0f32; n];
            par_fill(&mut u, |j| (xs[i][j] as f64 / norms[i]) as f32);
            u
        })
        .collect();
    let a = 1.0 / valid.len() as f64; // normalized alphas over valid inputs (all equal)
    let mut u = vec![0f32; n];
    par_fill(&mut u, |j| units.iter().map(|un| (a as f32) * un[j]).sum());
    let nu = norm(&u);
    if nu < tol {
        u = units[0].clone();
    } else {
        let v = u.clone();
        par_fill(&mut u, |j| (v[j] as f64 / nu) as f32);
    }
    let mut tan = vec![0f32; n];
    for _ in 0..max_iter {
        // T = Σ a·θ/sin θ·(u_i − cos θ·u) over inputs not already at u.
        let terms: Vec<(&Vec<f32>, f64, f64)> = units
            .iter()
            .filter_map(|un| {
                let d = dot(&u, un).clamp(-1.0, 1.0);
                let theta = d.acos();
                (theta >= tol).then(|| (un, a * theta / theta.sin(), d))
            })
            .collect();
        par_fill(&mut tan, |j| {
            let uj = u[j] as f64;
            terms
                .iter()
                .map(|(un, f, d)| f * (un[j] as f64 - d * uj))
                .sum::<f64>() as f32
        });
        let nt = norm(&tan);
        if nt < tol {
            break;
        }
        let (c, s) = (nt.cos(), nt.sin());
        let prev = u.clone();
        par_fill(&mut u, |j| {
            (c * prev[j] as f64 + s * tan[j] as f64 / nt) as f32
        });
        let un = norm(&u);
        if un > tol {
            let v = u.clone();
            par_fill(&mut u, |j| (v[j] as f64 / un) as f32);
        }
    }
    let scale: f64 = norms.iter().map(|nk| alpha * nk).sum();
    let mut out = vec![0f32; n];
    par_fill(&mut out, |j| (u[j] as f64 * scale) as f32);
    out
}
