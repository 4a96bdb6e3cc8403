//! Exact top-k by magnitude without sorting: a parallel radix histogram over the float bits
//! finds the threshold bucket, and only that bucket is sorted.
//!
//! mergekit keeps exactly `k` entries (`argsort(|x|)[:k]`); among equal magnitudes at the
//! threshold it keeps whichever the sort put first. We keep the lowest indices, which makes
//! the result deterministic.

use rayon::prelude::*;

const BUCKETS: usize = 1 << 15;
const CHUNK: usize = 1 << 16;

/// "Keep the `k` largest |x|": `x` is kept when `|x| > thr`, or `|x| == thr` and its index
/// is below `tie_cutoff`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopK {
    thr_bits: u32,
    tie_cutoff: usize,
    all: bool,
    none: bool,
}

impl TopK {
    /// Whether element `i` with value `x` is among the top k.
    #[inline]
    pub fn keeps(&self, i: usize, x: f32) -> bool {
        if self.all {
            return true;
        }
        if self.none {
            return false;
        }
        let b = x.to_bits() & 0x7fff_ffff;
        b > self.thr_bits || (b == self.thr_bits && i < self.tie_cutoff)
    }

    /// Computes the rule for the `k` largest magnitudes of `values`.
    pub fn new(values: &[f32], k: usize) -> TopK {
        let n = values.len();
        if k >= n {
            return TopK {
                thr_bits: 0,
                tie_cutoff: 0,
                all: true,
                none: false,
            };
        }
        if k == 0 {
            return TopK {
                thr_bits: 0,
                tie_cutoff: 0,
                all: false,
                none: true,
            };
        }
        let hist = values
            .par_chunks(CHUNK)
            .fold(
                || vec![0u32; BUCKETS],
                |mut h, c| {
                    for &x in c {
                        h[((x.to_bits() & 0x7fff_ffff) >> 16) as usize] += 1;
                    }
                    h
                },
            )
            .reduce(
                || vec![0u32; BUCKETS],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        // Walk down from the largest bucket until k elements are covered.
        let mut above = 0usize;
        let mut bucket = BUCKETS - 1;
        loop {
            let c = hist[bucket] as usize;
            if above + c >= k {
                break;
            }
            above += c;
            bucket -= 1;
        }
        let need = k - above;
        // Gather (bits, index) of the threshold bucket, in index order.
        let mut members: Vec<(u32, usize)> = values
            .par_chunks(CHUNK)
            .enumerate()
            .flat_map_iter(|(ci, c)| {
                c.iter().enumerate().filter_map(move |(j, &x)| {
                    let b = x.to_bits() & 0x7fff_ffff;
                    ((b >> 16) as usize == bucket).then_some((b, ci * CHUNK + j))
                })
            })
            .collect();
        // Largest magnitude first; equal magnitudes by ascending index.
        members.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let (thr_bits, last_idx) = members[need - 1];
        // Ties kept are those at the threshold up to and including `last_idx` in index order.
        TopK {
            thr_bits,
            tie_cutoff: last_idx + 1,
            all: false,
            none: false,
        }
    }
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
