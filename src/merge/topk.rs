//! Exact top-k by magnitude without sorting: a parallel radix histogram over the float bits
//! finds the threshold bucket, and only that bucket is sorted.
//!
//! mergekit keeps exactly `k` entries (`argsort(|x|)[:k]`); among equal magnitudes at the
//! threshold it keeps whichever the sort put first. We keep the lowest indices, which makes
//! the result deterministic.

use rayon::prelude::*;

const BUCKETS: usize = 1 << 16;
const CHUNK: usize = crate::merge::inputs::CHUNK;

/// Fills `buf` with elements `start..start + buf.len()` of a virtual tensor (so task vectors
/// can be ranked without materializing them).
pub type Fill<'a> = &'a (dyn Fn(usize, &mut [f32]) + Sync);

/// "Keep the `k` largest |x|": `x` is kept when `|x| > thr`, or `|x| == thr` and its index
/// is below `tie_cutoff`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopK {
    thr_bits: u32,
    tie_cutoff: usize,
    all: bool,
    none: bool,
}

#[inline]
fn mag_bits(x: f32) -> u32 {
    x.to_bits() & 0x7fff_ffff
}

impl TopK {
    /// Whether element `i` with value `x` is among the top k.
    #[inline(always)]
    pub fn keeps(&self, i: usize, x: f32) -> bool {
        let b = mag_bits(x);
        // Branch-free so mask loops vectorize; `all`/`none` are folded into the threshold.
        self.all
            | (!self.none & ((b > self.thr_bits) | ((b == self.thr_bits) & (i < self.tie_cutoff))))
    }

    /// Keeps everything.
    pub fn all() -> TopK {
        TopK {
            thr_bits: 0,
            tie_cutoff: 0,
            all: true,
            none: false,
        }
    }

    /// Keeps nothing.
    pub fn none() -> TopK {
        TopK {
            none: true,
            all: false,
            ..TopK::all()
        }
    }

    /// Keeps magnitudes whose bits exceed `thr_bits`, and those equal to it at indices below
    /// `tie_cutoff`.
    pub fn from_threshold(thr_bits: u32, tie_cutoff: usize) -> TopK {
        TopK {
            thr_bits,
            tie_cutoff,
            all: false,
            none: false,
        }
    }

    /// The rule for the `k` largest magnitudes of `values`.
    pub fn new(values: &[f32], k: usize) -> TopK {
        TopK::from_chunks(values.len(), k, &|s, b| {
            b.copy_from_slice(&values[s..s + b.len()])
        })
    }

    /// The rule for the `k` largest magnitudes of an `n`-element tensor produced chunk by
    /// chunk by `fill`.
    pub fn from_chunks(n: usize, k: usize, fill: Fill) -> TopK {
        TopK::batch(n, 1, &[(0, k)], &|start, bufs| fill(start, &mut bufs[0]))[0]
    }

    /// Top-k rules for several (series, k) requests over `series` virtual tensors of `n`
    /// elements, in shared passes: `fill(start, bufs)` fills `bufs[s]` with elements
    /// `start..start + bufs[s].len()` of series `s` (so the task vectors of several models
    /// share one decode of the base). Two radix passes over the magnitude bits (high 16, then
    /// low 16 within the threshold bucket) find each exact k-th magnitude; a third pass, only
    /// when some but not all equal magnitudes are kept, finds the index cutoff among the ties.
    pub fn batch(
        n: usize,
        series: usize,
        requests: &[(usize, usize)],
        fill: FillMany,
    ) -> Vec<TopK> {
        let mut out: Vec<Option<TopK>> = requests
            .iter()
            .map(|&(_, k)| {
                if k >= n {
                    Some(TopK::all())
                } else if k == 0 {
                    Some(TopK {
                        none: true,
                        all: false,
                        ..TopK::all()
                    })
                } else {
                    None
                }
            })
            .collect();
        let open: Vec<usize> = (0..requests.len()).filter(|&r| out[r].is_none()).collect();
        if open.is_empty() {
            return out.into_iter().flatten().collect();
        }
        let hi = histograms_hi(n, series, fill);
        // Per open request: threshold bucket and how many of it are needed.
        let buckets: Vec<(usize, usize)> = open
            .iter()
            .map(|&r| descend(&hi[requests[r].0], requests[r].1))
            .collect();
        // Low-bits histogram of each request's bucket (slot j = open[j]).
        let lo = histograms_lo(n, series, fill, &open, requests, &buckets);
        let mut ties = Vec::new();
        for (j, &r) in open.iter().enumerate() {
            let (bucket, need) = buckets[j];
            let (low, ties_needed) = descend(&lo[j], need);
            let thr_bits = ((bucket as u32) << 16) | low as u32;
            let rule = TopK {
                thr_bits,
                tie_cutoff: usize::MAX,
                all: false,
                none: false,
            };
            out[r] = Some(rule);
            if ties_needed < lo[j][low] as usize {
                ties.push((r, ties_needed));
            }
        }
        for (r, ties_needed) in ties {
            let rule = out[r].expect("set above");
            let cutoff = tie_cutoff(n, series, fill, requests[r].0, rule.thr_bits, ties_needed);
            out[r] = Some(TopK {
                tie_cutoff: cutoff,
                ..rule
            });
        }
        out.into_iter().flatten().collect()
    }
}

/// Fills one buffer per series for the chunk starting at the given element.
pub type FillMany<'a> = &'a (dyn Fn(usize, &mut [Vec<f32>]) + Sync);

/// Index after the `ties_needed`-th element of series `s` whose magnitude bits equal `thr`.
fn tie_cutoff(
    n: usize,
    series: usize,
    fill: FillMany,
    s: usize,
    thr: u32,
    ties_needed: usize,
) -> usize {
    let n_chunks = n.div_ceil(CHUNK);
    let counts: Vec<usize> = (0..n_chunks)
        .into_par_iter()
        .map_init(
            || vec![Vec::new(); series],
            |bufs, c| {
                let len = CHUNK.min(n - c * CHUNK);
                bufs.iter_mut().for_each(|b| b.resize(len, 0.0));
                fill(c * CHUNK, bufs);
                bufs[s].iter().filter(|x| mag_bits(**x) == thr).count()
            },
        )
        .collect();
    let mut before = 0usize;
    for (c, &cnt) in counts.iter().enumerate() {
        if before + cnt >= ties_needed {
            let len = CHUNK.min(n - c * CHUNK);
            let mut bufs = vec![vec![0f32; len]; series];
            fill(c * CHUNK, &mut bufs);
            let mut seen = before;
            for (j, x) in bufs[s].iter().enumerate() {
                if mag_bits(*x) == thr {
                    seen += 1;
                    if seen == ties_needed {
                        return c * CHUNK + j + 1;
                    }
                }
            }
        }
        before += cnt;
    }
    unreachable!("the tie counts add up to at least ties_needed")
}

/// Walks a histogram from the top; returns the bucket holding the k-th largest and how many
/// of that bucket are needed.
fn descend(hist: &[u32], k: usize) -> (usize, usize) {
    let mut above = 0usize;
    for b in (0..hist.len()).rev() {
        let c = hist[b] as usize;
        if above + c >= k {
            return (b, k - above);
        }
        above += c;
    }
    unreachable!("k is at most the number of elements")
}

/// Adds one chunk (one buffer per series) into the histograms.
type Accumulate<'a> = &'a (dyn Fn(&[Vec<f32>], &mut [Vec<u32>]) + Sync);

/// Chunked parallel fold with few, large splits (each task owns its histograms).
fn fold_chunks(
    n: usize,
    series: usize,
    fill: FillMany,
    slots: usize,
    add: Accumulate,
) -> Vec<Vec<u32>> {
    let n_chunks = n.div_ceil(CHUNK);
    let min_len = (n_chunks / (4 * rayon::current_num_threads())).max(1);
    (0..n_chunks)
        .into_par_iter()
        .with_min_len(min_len)
        .fold(
            || (vec![vec![0u32; BUCKETS]; slots], vec![Vec::new(); series]),
            |(mut h, mut bufs), c| {
                let len = CHUNK.min(n - c * CHUNK);
                bufs.iter_mut().for_each(|b| b.resize(len, 0.0));
                fill(c * CHUNK, &mut bufs);
                add(&bufs, &mut h);
                (h, bufs)
            },
        )
        .map(|(h, _)| h)
        .reduce(
            || vec![vec![0u32; BUCKETS]; slots],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
                }
                a
            },
        )
}

/// High-16-bit magnitude histogram of every series.
fn histograms_hi(n: usize, series: usize, fill: FillMany) -> Vec<Vec<u32>> {
    fold_chunks(n, series, fill, series, &|bufs, h| {
        for (b, hist) in bufs.iter().zip(h.iter_mut()) {
            count_high(b, hist);
        }
    })
}

/// Histogram of the high 16 magnitude bits.
#[multiversion::multiversion(targets = "simd")]
fn count_high(values: &[f32], hist: &mut [u32]) {
    for x in values {
        hist[(mag_bits(*x) >> 16) as usize] += 1;
    }
}

/// Histogram of the low 16 magnitude bits of the values whose high bits are `bucket`.
#[multiversion::multiversion(targets = "simd")]
fn count_low(values: &[f32], bucket: u32, hist: &mut [u32]) {
    for x in values {
        let b = mag_bits(*x);
        if b >> 16 == bucket {
            hist[(b & 0xffff) as usize] += 1;
        }
    }
}

/// Low-16-bit histogram, per open request, of its series' elements in its bucket.
fn histograms_lo(
    n: usize,
    series: usize,
    fill: FillMany,
    open: &[usize],
    requests: &[(usize, usize)],
    buckets: &[(usize, usize)],
) -> Vec<Vec<u32>> {
    fold_chunks(n, series, fill, open.len(), &|bufs, h| {
        for (j, &r) in open.iter().enumerate() {
            count_low(&bufs[requests[r].0], buckets[j].0 as u32, &mut h[j]);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(v: &[f32], k: usize) -> Vec<usize> {
        let r = TopK::new(v, k);
        (0..v.len()).filter(|&i| r.keeps(i, v[i])).collect()
    }

    #[test]
    fn keeps_exactly_k_largest_magnitudes() {
        let v = [0.1, -3.0, 2.0, -0.5, 1.0];
        assert_eq!(kept(&v, 2), vec![1, 2]);
        assert_eq!(kept(&v, 0), Vec::<usize>::new());
        assert_eq!(kept(&v, 5), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn ties_at_threshold_keep_lowest_indices() {
        let v = [1.0, -1.0, 2.0, 1.0, 1.0];
        // 2.0 plus two of the four ±1.0 entries: indices 0 and 1.
        assert_eq!(kept(&v, 3), vec![0, 1, 2]);
    }

    #[test]
    fn many_ties_across_chunks() {
        // 100k copies of 1.0 spread over chunks plus a few larger values: k inside the ties.
        let mut v = vec![1.0f32; 100_000];
        v[5] = 3.0;
        v[70_000] = -2.0;
        let got = kept(&v, 50_002);
        assert_eq!(got.len(), 50_002);
        assert!(got.contains(&5) && got.contains(&70_000));
        // The kept ties are the lowest indices: 0..=50_000 minus index 5.
        assert_eq!(got[got.len() - 2], 50_000);
    }

    #[test]
    fn matches_full_sort_on_large_input() {
        // Deterministic pseudo-random values with many shared bucket prefixes.
        let n = 200_000;
        let v: Vec<f32> = (0..n)
            .map(|i| (((i * 7919) % 10007) as f32 - 5000.0) * 1e-3)
            .collect();
        let k = 12_345;
        let r = TopK::new(&v, k);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| v[b].abs().total_cmp(&v[a].abs()).then(a.cmp(&b)));
        let mut expect: Vec<usize> = idx[..k].to_vec();
        expect.sort();
        let got: Vec<usize> = (0..n).filter(|&i| r.keeps(i, v[i])).collect();
        assert_eq!(got, expect);
    }
}
