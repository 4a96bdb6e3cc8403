//! Sparsification of task vectors, after mergekit's `sparsify.py`: magnitude (TIES),
//! random (DARE), magnitude with outliers removed (breadcrumbs) and rank-dependent random
//! (DELLA's MagPrune). The optional rescale matches the L1 norm of the task vector before
//! masking, as mergekit's `rescale_norm = l1` does.
//!
//! Masks are rules evaluated inline by the final fused pass wherever possible (thresholds for
//! the magnitude methods, a seekable random stream for DARE), so task vectors are never
//! materialized for them; only DELLA, whose probabilities depend on per-row ranks, builds its
//! masked task vector in memory.

use rayon::prelude::*;

use super::inputs::{TensorInputs, CHUNK};
use super::rank_cache::RankCache;
use super::rng::MaskStream;
use super::topk::{Fill, TopK};

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

/// Which entries of a task vector survive.
#[derive(Clone)]
pub enum Keep {
    /// Every entry.
    All,
    /// The top-k magnitudes.
    Top(TopK),
    /// Inside the top `upper` but not among the top `outliers` magnitudes.
    Band {
        /// Top (target + outliers).
        upper: TopK,
        /// Top outliers, dropped.
        outliers: TopK,
    },
    /// Entries whose uniform draw is below `density`.
    Random {
        /// The (tensor, model) stream.
        stream: Box<MaskStream>,
        /// Keep probability.
        density: f64,
    },
}

impl Keep {
    /// The random stream of a DARE rule (whose draws `keeps` needs as `u`), else `None`.
    pub fn random(&self) -> Option<&MaskStream> {
        match self {
            Keep::Random { stream, .. } => Some(stream),
            _ => None,
        }
    }

    /// Whether element `i` with task-vector value `d` and draw `u` survives.
    #[inline]
    pub fn keeps(&self, i: usize, d: f32, u: f64) -> bool {
        match self {
            Keep::All => true,
            Keep::Top(t) => t.keeps(i, d),
            Keep::Band { upper, outliers } => upper.keeps(i, d) && !outliers.keeps(i, d),
            Keep::Random { density, .. } => u < *density,
        }
    }
}

/// A sparsified task vector: the rule, the L1 rescale factor, and the masked values when
/// they had to be materialized (DELLA).
pub struct SparseTerm {
    /// Survival rule (`All` when `materialized` already holds the masked values).
    pub keep: Keep,
    /// L1 rescale factor (1 without rescale).
    pub scale: f32,
    /// Masked task vector, for DELLA.
    pub materialized: Option<Vec<f32>>,
}

/// Plans the sparsification of the task vectors `x_k − base` for each `k` in `models`
/// (with `params[j]` and mask stream `streams[j]` for `models[j]`). Magnitude thresholds
/// come from `ranks` when it holds (or can hold) the task vector's ranking; the others are
/// found in shared radix passes that decode the base once.
#[allow(clippy::too_many_arguments)]
pub fn sparsify_all(
    method: Sparsify,
    inputs: &TensorInputs,
    base: usize,
    models: &[usize],
    params: &[SparsifyParams],
    rescale: bool,
    streams: Vec<MaskStream>,
    ranks: Option<&RankCache>,
) -> Vec<SparseTerm> {
    let n = inputs.numel();
    let mut keeps: Vec<Option<Keep>> = vec![None; models.len()];
    let mut terms: Vec<Option<SparseTerm>> = (0..models.len()).map(|_| None).collect();
    // Magnitude-rule requests: (series = model position, k).
    let mut requests = Vec::new();
    for (j, p) in params.iter().enumerate() {
        if p.density >= 1.0 {
            keeps[j] = Some(Keep::All);
            continue;
        }
        match method {
            // mergekit 0.1.5: k = max(1, int(density · numel)) for density > 0, none at 0.
            Sparsify::Magnitude => {
                let k = if p.density <= 0.0 || n == 0 {
                    0
                } else {
                    ((p.density * n as f64) as usize).max(1)
                };
                requests.push((j, k))
            }
            Sparsify::MagnitudeOutliers => {
                // mergekit 0.1.5 keeps ascending ranks [n_bot, n_bot + target) with
                // n_bot = max(0, n − target − n_top): the top n_top (trimmed so that target
                // entries remain) are dropped, then the smallest. (Releases before 0.1.5
                // dropped the whole delta when n_top == 0.)
                let target = (p.density.max(0.0) * n as f64) as usize;
                let n_top = ((p.gamma * n as f64) as usize).min(n - target);
                requests.push((j, target + n_top));
                requests.push((j, n_top));
            }
            Sparsify::Random => {
                keeps[j] = Some(Keep::Random {
                    stream: Box::new(streams[j].clone()),
                    density: p.density,
                })
            }
            Sparsify::DellaMagprune => {
                let fill = |start: usize, buf: &mut [f32]| {
                    inputs.decode_delta(models[j], base, start, buf)
                };
                let mut d = vec![0f32; n];
                let (before, after) = if p.density > 0.0 {
                    d.par_chunks_mut(CHUNK)
                        .enumerate()
                        .for_each(|(c, ch)| fill(c * CHUNK, ch));
                    della_mask(&mut d, inputs.shape(), p.density, p.epsilon, &streams[j])
                } else {
                    (0.0, 0.0)
                };
                terms[j] = Some(SparseTerm {
                    keep: Keep::All,
                    scale: rescale_factor(rescale, before, after),
                    materialized: Some(d),
                });
            }
        }
    }
    // Rules answered by cached rankings, in request order (None = radix passes below).
    let mut from_cache: Vec<Option<TopK>> = vec![None; requests.len()];
    if let Some(cache) = ranks {
        for (j, &model) in models.iter().enumerate() {
            let mine: Vec<usize> = (0..requests.len())
                .filter(|&r| requests[r].0 == j)
                .collect();
            let Some(key) = inputs.delta_key(model, base) else {
                continue;
            };
            if mine.is_empty() {
                continue;
            }
            let ks: Vec<usize> = mine.iter().map(|&r| requests[r].1).collect();
            let fill = |start: usize, buf: &mut [f32]| inputs.decode_delta(model, base, start, buf);
            if let Some(rules) = cache.top_k(key, n, &ks, &fill) {
                for (&r, rule) in mine.iter().zip(rules) {
                    from_cache[r] = Some(rule);
                }
            }
        }
    }
    if !requests.is_empty() {
        let fill_many = |start: usize, bufs: &mut [Vec<f32>]| {
            let len = bufs[0].len();
            let mut b = vec![0f32; len];
            inputs.decode(base, start, &mut b);
            for (j, buf) in bufs.iter_mut().enumerate() {
                inputs.decode(models[j], start, buf);
                buf.iter_mut().zip(&b).for_each(|(x, y)| *x -= y);
            }
        };
        let open: Vec<(usize, usize)> = requests
            .iter()
            .zip(&from_cache)
            .filter(|(_, c)| c.is_none())
            .map(|(r, _)| *r)
            .collect();
        let mut computed = if open.is_empty() {
            Vec::new()
        } else {
            TopK::batch(n, models.len(), &open, &fill_many)
        }
        .into_iter();
        let rules: Vec<TopK> = from_cache
            .into_iter()
            .map(|c| c.unwrap_or_else(|| computed.next().expect("one rule per open request")))
            .collect();
        let mut it = requests.iter().zip(rules);
        while let Some((&(j, _), rule)) = it.next() {
            keeps[j] = Some(match method {
                Sparsify::MagnitudeOutliers => {
                    let (_, outliers) = it.next().expect("outlier rule follows its band");
                    Keep::Band {
                        upper: rule,
                        outliers,
                    }
                }
                _ => Keep::Top(rule),
            });
        }
    }
    terms
        .into_iter()
        .zip(keeps)
        .enumerate()
        .map(|(j, (term, keep))| {
            term.unwrap_or_else(|| {
                let keep = keep.expect("every model got a rule");
                let scale = if rescale && !matches!(keep, Keep::All) {
                    let fill = |start: usize, buf: &mut [f32]| {
                        inputs.decode_delta(models[j], base, start, buf)
                    };
                    let (before, after) = l1_norms(n, &fill, &keep);
                    rescale_factor(true, before, after)
                } else {
                    1.0
                };
                SparseTerm {
                    keep,
                    scale,
                    materialized: None,
                }
            })
        })
        .collect()
}

/// mergekit: rescale only when both norms are at least 1e-7.
fn rescale_factor(rescale: bool, before: f64, after: f64) -> f32 {
    if rescale && before >= 1e-7 && after >= 1e-7 {
        (before / after) as f32
    } else {
        1.0
    }
}

/// (L1 before, L1 after) masking.
fn l1_norms(n: usize, fill: Fill, keep: &Keep) -> (f64, f64) {
    let partials: Vec<(f64, f64)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || (vec![0f32; CHUNK], vec![0f64; CHUNK]),
            |(buf, u), c| {
                let start = c * CHUNK;
                let len = CHUNK.min(n - start);
                fill(start, &mut buf[..len]);
                if let Some(s) = keep.random() {
                    s.uniforms(start, &mut u[..len]);
                }
                l1_chunk(keep, start, &buf[..len], &u[..len])
            },
        )
        .collect();
    // Summed in chunk order: the same rescale factor on any thread count.
    sum_pairs(&partials)
}

/// (Σ|x|, Σ|x| over kept x) of one chunk, with the rule dispatched once per chunk.
#[multiversion::multiversion(targets = "simd")]
fn l1_chunk(keep: &Keep, start: usize, xs: &[f32], u: &[f64]) -> (f64, f64) {
    let total: f64 = xs.iter().map(|x| x.abs() as f64).sum();
    let kept: f64 = match keep {
        Keep::All => total,
        Keep::Random { density, .. } => xs
            .iter()
            .zip(u)
            .map(|(x, r)| if *r < *density { x.abs() as f64 } else { 0.0 })
            .sum(),
        _ => xs
            .iter()
            .enumerate()
            .map(|(j, x)| {
                if keep.keeps(start + j, *x, 0.0) {
                    x.abs() as f64
                } else {
                    0.0
                }
            })
            .sum(),
    };
    (total, kept)
}

fn sum_pairs(p: &[(f64, f64)]) -> (f64, f64) {
    p.iter().fold((0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1))
}

/// DELLA MagPrune (mergekit `della_magprune`): within each row (1-D tensors are one row),
/// rank magnitudes ascending from 1; `p = (density − ε) + 2ε · (rank − 1)/(cols − 1)`.
/// Zeroes dropped entries in place; returns (L1 before, L1 after).
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
    let partials: Vec<(f64, f64)> = delta
        .par_chunks_mut(cols.max(1))
        .enumerate()
        .map(|(r, row)| {
            // Rank by magnitude, equal magnitudes by position: sort (magnitude bits, index)
            // keys, which orders exactly like a stable sort on |x|.
            let mut order: Vec<u64> = row
                .iter()
                .enumerate()
                .map(|(j, x)| ((x.to_bits() & 0x7fff_ffff) as u64) << 32 | j as u64)
                .collect();
            order.sort_unstable();
            let mut u = vec![0f64; row.len()];
            stream.uniforms(r * cols, &mut u);
            let span = (row.len().max(2) - 1) as f64;
            let (mut b, mut a) = (0f64, 0f64);
            for (rank0, &key) in order.iter().enumerate() {
                let j = (key & 0xffff_ffff) as usize;
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
        .collect();
    sum_pairs(&partials)
}
