//! Sparsification of task vectors, after mergekit's `sparsify.py`: magnitude (TIES),
//! random (DARE), magnitude with outliers removed (breadcrumbs) and rank-dependent random
//! (DELLA's MagPrune). Masks are applied in place; the optional rescale matches the L1
//! norm of the task vector before masking, as mergekit's `rescale_norm = l1` does.

use rayon::prelude::*;

use super::inputs::CHUNK;
use super::rng::MaskStream;
use super::topk::TopK;

/// Which sparsification a method uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sparsify {
    /// Keep the `density` fraction of largest magnitudes (TIES).
    Magnitude,
    /// Keep each entry with probability `density` (DARE).
    Random,
    /// Drop the `gamma` fraction of largest magnitudes, then the smallest, keeping `density`
    /// (Model Breadcrumbs).
    MagnitudeOutliers,
    /// Keep with probability rising linearly with the magnitude rank within each row, in
    /// `[density − ε, density + ε]` (DELLA MagPrune).
    DellaMagprune,
}

/// Per-model sparsification settings.
#[derive(Debug, Clone, Copy)]
pub struct SparsifyParams {
    /// Fraction to keep.
    pub density: f64,
    /// Breadcrumbs outlier fraction.
    pub gamma: f64,
    /// DELLA probability half-width.
    pub epsilon: f64,
}

/// Masks `delta` (shape `shape`) in place and returns the factor that restores its L1 norm
/// (1 when `rescale` is off or either norm is below 1e-7, as in mergekit).
pub fn sparsify(
    method: Sparsify,
    delta: &mut [f32],
    shape: &[usize],
    p: SparsifyParams,
    rescale: bool,
    stream: &MaskStream,
) -> f32 {
    if p.density >= 1.0 {
        return 1.0;
    }
    let n = delta.len();
    let (before, after) = match method {
        Sparsify::Magnitude => {
            // mergekit: k = int(density · numel).
            let rule = TopK::new(delta, (p.density * n as f64) as usize);
            mask_by(delta, |i, x| rule.keeps(i, x))
        }
        Sparsify::MagnitudeOutliers => {
            let target = (p.density * n as f64) as usize;
            let mut n_top = (p.gamma * n as f64) as usize;
            // mergekit trims the outlier count when density + gamma exceeds 1.
            if target + n_top > n {
                n_top = n - target;
            }
            let upper = TopK::new(delta, target + n_top);
            // mergekit's slice `indices[n_bot:-n_top]` is empty when n_top == 0 and so drops
            // the whole delta; we keep the `target` largest instead (documented difference).
            let outliers = TopK::new(delta, n_top);
            mask_by(delta, |i, x| upper.keeps(i, x) && !outliers.keeps(i, x))
        }
        Sparsify::Random => random_mask(delta, p.density, stream),
        Sparsify::DellaMagprune => {
            if p.density <= 0.0 {
                delta.iter_mut().for_each(|x| *x = 0.0);
                return 1.0;
            }
            della_mask(delta, shape, p.density, p.epsilon, stream)
        }
    };
    if rescale && before >= 1e-7 && after >= 1e-7 {
        (before / after) as f32
    } else {
        1.0
    }
}

/// Zeroes entries where `keep(i, x)` is false; returns (L1 before, L1 after).
fn mask_by(delta: &mut [f32], keep: impl Fn(usize, f32) -> bool + Sync) -> (f64, f64) {
    delta
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map(|(c, ch)| {
            let (mut b, mut a) = (0f64, 0f64);
            for (j, x) in ch.iter_mut().enumerate() {
                let v = x.abs() as f64;
                b += v;
                if keep(c * CHUNK + j, *x) {
                    a += v;
                } else {
                    *x = 0.0;
                }
            }
            (b, a)
        })
        .reduce(|| (0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1))
}

fn random_mask(delta: &mut [f32], density: f64, stream: &MaskStream) -> (f64, f64) {
    delta
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map_init(
            || vec![0f64; CHUNK],
            |u, (c, ch)| {
                stream.uniforms(c * CHUNK, &mut u[..ch.len()]);
                let (mut b, mut a) = (0f64, 0f64);
                for (x, &r) in ch.iter_mut().zip(u.iter()) {
                    let v = x.abs() as f64;
                    b += v;
                    if r < density {
                        a += v;
                    } else {
                        *x = 0.0;
                    }
                }
                (b, a)
            },
        )
        .reduce(|| (0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1))
}

/// DELLA MagPrune (mergekit `della_magprune`): within each row (1-D tensors are one row),
/// rank magnitudes ascending from 1; `p = (density − ε) + 2ε · (rank − 1)/(cols − 1)`.
fn della_mask(
    delta: &mut [f32],
    shape: &[usize],
    density: f64,
    eps: f64,
    stream: &MaskStream,
) -> (f64, f64) {
    let cols = if shape.len() >= 2 {
        *shape.last().unwrap_or(&1)
    } else {
        delta.len().max(1)
    };
    delta
        .par_chunks_mut(cols)
        .enumerate()
        .map(|(r, row)| {
            let mut order: Vec<u32> = (0..row.len() as u32).collect();
            // Stable: equal magnitudes rank by position.
            order.sort_by(|&a, &b| row[a as usize].abs().total_cmp(&row[b as usize].abs()));
            let mut u = vec![0f64; row.len()];
            stream.uniforms(r * cols, &mut u);
            let span = (row.len().max(2) - 1) as f64;
            let (mut b, mut a) = (0f64, 0f64);
            for (rank0, &j) in order.iter().enumerate() {
                let j = j as usize;
                let prob = (density - eps) + (rank0 as f64 / span) * 2.0 * eps;
                let v = row[j].abs() as f64;
                b += v;
                if u[j] < prob {
                    a += v;
                } else {
                    row[j] = 0.0;
                }
            }
            (b, a)
        })
        .reduce(|| (0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1))
}
