//! Magnitude rankings of task vectors, cached across merges within a memory budget.
//!
//! A search merges the same task vectors (fine-tune − base, per tensor) again and again with
//! different densities. TIES, breadcrumbs and the other magnitude rules need the k-th largest
//! |δ| for each density, which costs two radix passes over δ per candidate. A ranking — every
//! element's (magnitude, index) sorted by descending magnitude, ties by ascending index —
//! answers every k at once, so after one sort per task vector each later candidate gets its
//! thresholds for free. Rankings take 8 bytes per element; the cache holds as many as fit in
//! its budget and evicts the least recently used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::topk::TopK;

/// A ranking: `(!magnitude_bits << 32) | index`, sorted ascending (largest |δ| first, then
/// lowest index).
type Ranking = Arc<Vec<u64>>;

/// Counters of a [`RankCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RankCacheStats {
    /// Requests answered from a cached ranking.
    pub hits: u64,
    /// Rankings built (each cost one sort).
    pub misses: u64,
    /// Rankings dropped to stay within the budget.
    pub evictions: u64,
    /// Bytes held now.
    pub bytes: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<u64, (Ranking, u64)>,
    tick: u64,
    stats: RankCacheStats,
}

/// Task-vector rankings shared by every merge of a search (see the module docs).
pub struct RankCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for RankCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RankCache")
            .field("budget", &self.budget)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RankCache {
    /// A cache holding at most `budget_bytes` of rankings.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget: budget_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> RankCacheStats {
        self.lock().stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Top-k rules for each of `ks` over the `n`-element task vector called `key`, or `None`
    /// when its ranking cannot fit the budget (the caller then uses radix passes). `fill`
    /// produces the task vector chunk by chunk when the ranking must be built.
    pub fn top_k(
        &self,
        key: u64,
        n: usize,
        ks: &[usize],
        fill: &(dyn Fn(usize, &mut [f32]) + Sync),
    ) -> Option<Vec<TopK>> {
        let bytes = n * std::mem::size_of::<u64>();
        if bytes > self.budget || n > u32::MAX as usize {
            return None;
        }
        let cached = {
            let mut g = self.lock();
            g.tick += 1;
            let tick = g.tick;
            let found = g.map.get_mut(&key).map(|(r, t)| {
                *t = tick;
                r.clone()
            });
            if found.is_some() {
                g.stats.hits += 1;
            }
            found
        };
        let ranking = match cached {
            Some(r) => r,
            None => {
                let r = Arc::new(build_ranking(n, fill));
                self.insert(key, r.clone(), bytes);
                r
            }
        };
        Some(ks.iter().map(|&k| rule_from_ranking(&ranking, k)).collect())
    }

    fn insert(&self, key: u64, r: Ranking, bytes: usize) {
        let mut g = self.lock();
        g.stats.misses += 1;
        while g.stats.bytes + bytes > self.budget {
            let Some((&old, _)) = g.map.iter().min_by_key(|(_, (_, t))| *t) else {
                break;
            };
            let (dropped, _) = g.map.remove(&old).expect("the key was just found");
            g.stats.bytes -= dropped.len() * std::mem::size_of::<u64>();
            g.stats.evictions += 1;
        }
        g.tick += 1;
        let tick = g.tick;
        if g.map.insert(key, (r, tick)).is_none() {
            g.stats.bytes += bytes;
        }
    }
}

/// Sorts `(magnitude, index)` of the task vector `fill` produces.
fn build_ranking(n: usize, fill: &(dyn Fn(usize, &mut [f32]) + Sync)) -> Vec<u64> {
    const CHUNK: usize = super::inputs::CHUNK;
    let mut keys = vec![0u64; n];
    keys.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        let mut buf = vec![0f32; out.len()];
        fill(c * CHUNK, &mut buf);
        for (i, (o, x)) in out.iter_mut().zip(&buf).enumerate() {
            let mag = x.to_bits() & 0x7fff_ffff;
            *o = ((!mag as u64) << 32) | (c * CHUNK + i) as u64;
        }
    });
    keys.par_sort_unstable();
    keys
}

/// The rule keeping the first `k` entries of `ranking`.
fn rule_from_ranking(ranking: &[u64], k: usize) -> TopK {
    let n = ranking.len();
    if k >= n {
        return TopK::all();
    }
    if k == 0 {
        return TopK::none();
    }
    let mag = |e: u64| !((e >> 32) as u32);
    let last = ranking[k - 1];
    let thr = mag(last);
    // Entries equal to the threshold are ordered by index: keep those up to the k-th.
    let cutoff = if mag(ranking[k]) == thr {
        (last & 0xffff_ffff) as usize + 1
    } else {
        usize::MAX
    };
    TopK::from_threshold(thr, cutoff)
}
