//! Cached task-vector rankings give exactly the thresholds of the radix passes, serve later
//! candidates without re-ranking, and stay within their memory budget.

mod common;

use std::sync::Arc;

use mergesearch::candidate::LazyCandidate;
use mergesearch::merge::rank_cache::RankCache;
use mergesearch::merge::topk::TopK;
use mergesearch::merge::{MergeConfig, MergeOptions, Plan};
use rand::{Rng, SeedableRng};

#[test]
fn rankings_give_the_same_rules_as_radix_passes() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let n = 5000;
    // Few distinct magnitudes and both signs: many ties at every threshold.
    let values: Vec<f32> = (0..n)
        .map(|_| rng.random_range(-6i32..=6) as f32 * 0.125)
        .collect();
    let cache = RankCache::new(1 << 20);
    let fill = |s: usize, b: &mut [f32]| b.copy_from_slice(&values[s..s + b.len()]);
    let ks = [0, 1, 2, 17, n / 3, n / 2, n - 1, n, n + 5];
    let cached = cache.top_k(42, n, &ks, &fill).expect("fits the budget");
    for (&k, rule) in ks.iter().zip(&cached) {
        let radix = TopK::new(&values, k);
        let kept: Vec<bool> = (0..n).map(|i| rule.keeps(i, values[i])).collect();
        let want: Vec<bool> = (0..n).map(|i| radix.keeps(i, values[i])).collect();
        assert_eq!(kept, want, "k = {k}");
        assert_eq!(kept.iter().filter(|&&x| x).count(), k.min(n), "k = {k}");
    }
    let again = cache.top_k(42, n, &ks, &fill).unwrap();
    assert_eq!(again, cached);
    let s = cache.stats();
    assert_eq!((s.misses, s.hits, s.bytes), (1, 1, n * 8));
    assert!(
        RankCache::new(n * 8 - 1).top_k(1, n, &ks, &fill).is_none(),
        "a ranking larger than the budget is not built"
    );
}

/// A TIES-family plan over the test zoo with every density `density`.
fn plan(method: &str, density: f64) -> Plan {
    let zoo = common::test_zoo();
    let d = |n: &str| zoo.join(n).display().to_string();
    let gamma = if method.starts_with("breadcrumbs") {
        ", gamma: 0.02"
    } else {
        ""
    };
    let yaml = format!(
        "merge_method: {method}\nbase_model: {}\nmodels:\n  - model: {}\n    parameters: {{weight: 0.7, density: {density}{gamma}}}\n  - model: {}\n    parameters: {{weight: 0.5, density: {density}{gamma}}}\n",
        d("base"),
        d("ft-add"),
        d("ft-sort"),
    );
    let path = zoo.join(format!("{method}.yaml"));
    Plan::build(MergeConfig::from_yaml(&yaml, &path).unwrap(), &path).unwrap()
}

/// Every output tensor of `plan` merged lazily, as raw f32 values.
fn merged(plan: Plan, ranks: Option<Arc<RankCache>>) -> Vec<(String, Vec<f32>)> {
    let names: Vec<String> = plan.jobs.iter().map(|j| j.name.clone()).collect();
    let c = LazyCandidate::new(plan, MergeOptions { seed: 0, ranks });
    names
        .into_iter()
        .map(|n| {
            let t = c.tensor(&n).unwrap().unwrap();
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (n, v)
        })
        .collect()
}

#[test]
fn candidates_sharing_rankings_merge_identically() {
    for method in ["ties", "breadcrumbs_ties", "breadcrumbs"] {
        let cache = Arc::new(RankCache::new(1 << 30));
        let tensors = plan(method, 0.5).jobs.len();
        for (i, density) in [0.5, 0.3, 0.8].into_iter().enumerate() {
            let with = merged(plan(method, density), Some(cache.clone()));
            let without = merged(plan(method, density), None);
            assert_eq!(with, without, "{method} at density {density}");
            let s = cache.stats();
            // One ranking per (tensor, fine-tune), built by the first candidate only.
            assert_eq!(s.misses as usize, 2 * tensors, "{method}: {s:?}");
            if i > 0 {
                assert!(s.hits as usize >= 2 * tensors * i, "{method}: {s:?}");
            }
        }
    }
}

#[test]
fn the_budget_bounds_the_cache() {
    let p = plan("ties", 0.4);
    let largest = p.jobs.iter().map(|j| j.numel()).max().unwrap();
    let budget = 3 * largest * 8;
    let cache = Arc::new(RankCache::new(budget));
    let want = merged(plan("ties", 0.4), None);
    for _ in 0..2 {
        assert_eq!(merged(plan("ties", 0.4), Some(cache.clone())), want);
        let s = cache.stats();
        assert!(s.bytes <= budget, "{s:?}");
    }
    let s = cache.stats();
    assert!(s.evictions > 0, "a small budget evicts: {s:?}");
    let none = Arc::new(RankCache::new(0));
    assert_eq!(merged(plan("ties", 0.4), Some(none.clone())), want);
    assert_eq!(none.stats().bytes, 0);
}
