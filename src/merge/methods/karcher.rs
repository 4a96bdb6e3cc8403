//! `karcher`: the Riemannian (Karcher) mean of the inputs' directions on the unit sphere,
//! found by fixed-point iteration, scaled by the mean of the input norms. Every input,
//! base included, has equal weight. Follows mergekit's `karcher.py`.
//!
//! ## References
//! - Karcher, Riemannian center of mass and mollifier smoothing (1977)
//! - mergekit's reference for the method: <https://arxiv.org/abs/2603.04972>

use super::common::{dot, norm};
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
    let max_iter = job.global.or("max_iter", 10.0) as usize;
    let tol = job.global.or("tol", 1e-5);
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
            xs[i]
                .iter()
                .map(|v| (*v as f64 / norms[i]) as f32)
                .collect()
        })
        .collect();
    let a = 1.0 / valid.len() as f64; // normalized alphas over valid inputs (all equal)
    let mut u = vec![0f32; n];
    for un in &units {
        u.iter_mut().zip(un).for_each(|(x, y)| *x += (a as f32) * y);
    }
    let nu = norm(&u);
    if nu < tol {
        u = units[0].clone();
    } else {
        u.iter_mut().for_each(|x| *x = (*x as f64 / nu) as f32);
    }
    for _ in 0..max_iter {
        let mut tan = vec![0f64; n];
        for un in &units {
            let d = dot(&u, un).clamp(-1.0, 1.0);
            let theta = d.acos();
            if theta < tol {
                continue;
            }
            let f = a * theta / theta.sin();
            for i in 0..n {
                tan[i] += f * (un[i] as f64 - d * u[i] as f64);
            }
        }
        let nt = tan.iter().map(|x| x * x).sum::<f64>().sqrt();
        if nt < tol {
            break;
        }
        let (c, s) = (nt.cos(), nt.sin());
        for i in 0..n {
            u[i] = (c * u[i] as f64 + s * tan[i] / nt) as f32;
        }
        let un = norm(&u);
        if un > tol {
            u.iter_mut().for_each(|x| *x = (*x as f64 / un) as f32);
        }
    }
    let scale: f64 = norms.iter().map(|nk| alpha * nk).sum();
    u.iter().map(|x| (*x as f64 * scale) as f32).collect()
}
