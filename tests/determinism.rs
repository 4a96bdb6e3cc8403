//! Every method gives the same bits on any thread count (reductions sum fixed chunk partials
//! in order; random masks seek their stream per element), on a tensor spanning many chunks.

use mergesearch::merge::registry::{Arity, BaseRule, Scope};
use mergesearch::merge::{self, fill_defaults, MergeOptions, Params, TensorJob, METHODS};

fn values(seed: u64, n: usize) -> Vec<f32> {
    // SplitMix64-derived values in [-0.5, 0.5), distinct per seed.
    (0..n as u64)
        .map(|i| {
            let mut z = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ seed.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

#[test]
fn every_method_is_bitwise_identical_on_1_2_and_3_threads() {
    let (rows, cols) = (97, 1031); // ≈ 100k elements: several 16 Ki chunks, ragged last one
    let n = rows * cols;
    let base = values(0, n);
    let fts: Vec<Vec<f32>> = (1..=3)
        .map(|s| {
            let d = values(s, n);
            base.iter().zip(&d).map(|(b, d)| b + 0.05 * d).collect()
        })
        .collect();
    for def in METHODS {
        let k = match def.arity {
            Arity::Exactly(k) => k,
            Arity::AtLeast(k) => k.max(2),
        };
        let with_base = def.base == BaseRule::Required;
        let mut tensors: Vec<&[f32]> = Vec::new();
        if with_base {
            tensors.push(&base);
        }
        tensors.extend(fts.iter().take(k).map(|v| v.as_slice()));
        let per_model: Vec<Params> = (0..tensors.len())
            .map(|_| {
                let mut p = Params::default();
                for d in def.params.iter().filter(|d| d.scope == Scope::PerModel) {
                    match d.name {
                        "weight" => p.0.insert("weight", 0.6),
                        "density" => p.0.insert("density", 0.5),
                        "epsilon" => p.0.insert("epsilon", 0.1),
                        _ => None,
                    };
                }
                p
            })
            .collect();
        let mut global = Params::default();
        if def.param("t").is_some() {
            global
                .0
                .insert("t", if def.name == "nearswap" { 0.01 } else { 0.4 });
        }
        if def.param("select_topk").is_some() {
            global.0.insert("select_topk", 0.5);
        }
        let mut job = TensorJob::in_memory(
            "model.layers.0.mlp.up_proj.weight",
            &[rows, cols],
            with_base.then_some(0),
            per_model,
            global,
        );
        fill_defaults(def, &mut job);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    merge::merge_f32(
                        def,
                        &job,
                        &tensors,
                        &MergeOptions {
                            seed: 9,
                            ..MergeOptions::default()
                        },
                    )
                })
                .unwrap_or_else(|e| panic!("{}: {e}", def.name))
        };
        let one = run(1);
        assert!(
            one.iter().all(|x| x.is_finite()),
            "{}: non-finite output",
            def.name
        );
        for threads in [2, 3] {
            let other = run(threads);
            let same = one
                .iter()
                .zip(&other)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{}: 1 vs {threads} threads differ", def.name);
        }
    }
}
