//! Every merge method on small tensors against values computed by hand or by a
//! straightforward reference formula written out in the test.

use mergesearch::merge::{self, fill_defaults, MergeOptions, Params, TensorJob};

/// Runs `method` with schema defaults filled in, like a config would.
fn run_seeded(
    method: &str,
    shape: &[usize],
    base: Option<usize>,
    per_model: &[&[(&'static str, f64)]],
    global: &[(&'static str, f64)],
    tensors: &[&[f32]],
    seed: u64,
) -> Vec<f32> {
    let def = merge::method(method).expect("method exists");
    let mut job = TensorJob::in_memory(
        "model.layers.0.mlp.up_proj.weight",
        shape,
        base,
        per_model.iter().map(|p| Params::from_pairs(p)).collect(),
        Params::from_pairs(global),
    );
    fill_defaults(def, &mut job);
    merge::merge_f32(
        def,
        &job,
        tensors,
        &MergeOptions {
            seed,
            ..MergeOptions::default()
        },
    )
    .expect("merge succeeds")
}

fn run(
    method: &str,
    shape: &[usize],
    base: Option<usize>,
    per_model: &[&[(&'static str, f64)]],
    global: &[(&'static str, f64)],
    tensors: &[&[f32]],
) -> Vec<f32> {
    run_seeded(method, shape, base, per_model, global, tensors, 0)
}

fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (*g as f64 - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: got {g}, want {w}\n got {got:?}\nwant {want:?}"
        );
    }
}

fn add(base: &[f32], delta: &[f64]) -> Vec<f32> {
    base.iter()
        .zip(delta)
        .map(|(b, d)| (*b as f64 + d) as f32)
        .collect()
}

const NO: &[(&str, f64)] = &[];

#[test]
fn linear_weighted_average_and_sum() {
    let (a, b, c) = ([1.0f32, 2.0], [3.0f32, -4.0], [0.5f32, 0.0]);
    let w: [&[(&str, f64)]; 3] = [&[("weight", 1.0)], &[("weight", 2.0)], &[("weight", 1.0)]];
    // normalize (default): (a + 2b + c) / 4
    let got = run("linear", &[2], None, &w, NO, &[&a, &b, &c]);
    assert_close(&got, &[(1.0 + 6.0 + 0.5) / 4.0, (2.0 - 8.0) / 4.0], 1e-6);
    // normalize: false → a + 2b + c
    let got = run(
        "linear",
        &[2],
        None,
        &w,
        &[("normalize", 0.0)],
        &[&a, &b, &c],
    );
    assert_close(&got, &[7.5, -6.0], 1e-6);
}

#[test]
fn task_arithmetic_adds_weighted_task_vectors_times_lambda() {
    let base = [1.0f32, 2.0, 3.0];
    let x1 = [2.0f32, 2.0, 1.0]; // δ1 = [1, 0, -2]
    let x2 = [1.0f32, 4.0, 3.5]; // δ2 = [0, 2, 0.5]
    let w: [&[(&str, f64)]; 3] = [&[], &[("weight", 0.5)], &[("weight", 1.0)]];
    let got = run(
        "task_arithmetic",
        &[3],
        Some(0),
        &w,
        &[("lambda", 2.0)],
        &[&base, &x1, &x2],
    );
    // b + λ(0.5 δ1 + δ2) = b + 2·[0.5, 2, -0.5]
    assert_close(&got, &[2.0, 6.0, 2.0], 1e-6);
}

#[test]
fn normalize_with_zero_weight_sum_divides_by_one() {
    // mergekit: divisor |Σw| < 1e-8 → 1, so weights 1 and −1 give b + δ1 − δ2.
    let base = [0.0f32, 1.0];
    let x1 = [1.0f32, 1.0];
    let x2 = [0.5f32, 3.0];
    let w: [&[(&str, f64)]; 3] = [&[], &[("weight", 1.0)], &[("weight", -1.0)]];
    let got = run(
        "task_arithmetic",
        &[2],
        Some(0),
        &w,
        &[("normalize", 1.0)],
        &[&base, &x1, &x2],
    );
    assert_close(&got, &[0.5, -1.0], 1e-6);
}

#[test]
fn ties_elects_signs_on_weighted_deltas_after_magnitude_pruning() {
    let base = [1.0f32, 2.0, 3.0, 4.0];
    let d1 = [1.0, -0.1, 0.5, 0.05];
    let d2 = [-0.8, 0.3, -0.2, 0.6];
    let x1 = add(&base, &d1);
    let x2 = add(&base, &d2);
    let w: [&[(&str, f64)]; 3] = [
        &[],
        &[("weight", 0.2), ("density", 0.5)],
        &[("weight", 1.0), ("density", 0.5)],
    ];
    let got = run("ties", &[4], Some(0), &w, NO, &[&base, &x1, &x2]);
    // density 0.5 keeps k = int(0.5·4) = 2 largest |δ| per model:
    //   δ1 → [1, 0, 0.5, 0], δ2 → [−0.8, 0, 0, 0.6]; weighted v1 = [0.2, 0, 0.1, 0], v2 = [−0.8, 0, 0, 0.6].
    // i0: Σv = −0.6 → sign −, only v2 agrees → −0.8 / w2 (1.0) = −0.8
    //     (an unweighted election would pick + and give 1.0: the weighted one is mergekit's).
    // i1: both zero → divisor 0 → 1 → 0.
    // i2: Σv = 0.1 → +, v1 → 0.1 / 0.2 = 0.5.   i3: v2 → 0.6 / 1.0 = 0.6.
    assert_close(&got, &[1.0 - 0.8, 2.0, 3.5, 4.6], 1e-6);
}

#[test]
fn ties_keeps_at_least_one_entry_per_positive_density() {
    // mergekit 0.1.5: k = max(1, int(density · numel)); int(0.1 · 4) = 0 → 1 kept (the largest).
    let base = [0.0f32; 4];
    let x = [0.1f32, -0.4, 0.2, 0.3];
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 1.0), ("density", 0.1)]];
    let got = run("ties", &[4], Some(0), &w, NO, &[&base, &x]);
    assert_close(&got, &[0.0, -0.4, 0.0, 0.0], 1e-7);
    // density 0 keeps nothing.
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 1.0), ("density", 0.0)]];
    let got = run("ties", &[4], Some(0), &w, NO, &[&base, &x]);
    assert_close(&got, &[0.0; 4], 0.0);
}

#[test]
fn dare_keeps_density_fraction_and_rescales_to_the_l1_norm() {
    let n = 20_000;
    let base: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1).collect();
    let delta: Vec<f64> = (0..n)
        .map(|i| ((i * 37 % 101) as f64 - 50.0) * 1e-3)
        .collect();
    let x = add(&base, &delta);
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 0.5), ("density", 0.3)]];
    let got = run_seeded("dare_linear", &[n], Some(0), &w, NO, &[&base, &x], 42);
    // Each output is either b (dropped) or b + 0.5·s·δ with one shared s = L1(δ)/L1(kept δ).
    let kept: Vec<bool> = (0..n)
        .map(|i| delta[i] != 0.0 && (got[i] - base[i]).abs() > 1e-9)
        .collect();
    let frac = kept.iter().filter(|k| **k).count() as f64 / n as f64;
    assert!((frac - 0.3).abs() < 0.02, "kept fraction {frac}");
    let l1: f64 = delta.iter().map(|d| d.abs()).sum();
    let l1_kept: f64 = (0..n).filter(|&i| kept[i]).map(|i| delta[i].abs()).sum();
    let s = l1 / l1_kept;
    let want: Vec<f64> = (0..n)
        .map(|i| base[i] as f64 + if kept[i] { 0.5 * s * delta[i] } else { 0.0 })
        .collect();
    assert_close(&got, &want, 1e-5);
    // Same seed → same bytes; another seed → another mask.
    let again = run_seeded("dare_linear", &[n], Some(0), &w, NO, &[&base, &x], 42);
    assert_eq!(got, again);
    let other = run_seeded("dare_linear", &[n], Some(0), &w, NO, &[&base, &x], 43);
    assert_ne!(got, other);
}

#[test]
fn breadcrumbs_drops_outliers_and_small_values() {
    let base = [0.0f32; 10];
    // magnitudes 1..=10 in scrambled order, alternating signs
    let mags = [3.0f32, 10.0, 1.0, 7.0, 5.0, 9.0, 2.0, 8.0, 4.0, 6.0];
    let x: Vec<f32> = mags
        .iter()
        .enumerate()
        .map(|(i, m)| if i % 2 == 0 { *m } else { -m })
        .collect();
    let keep_mags = |lo: f32, hi: f32| -> Vec<f64> {
        x.iter()
            .map(|v| {
                if v.abs() >= lo && v.abs() <= hi {
                    *v as f64
                } else {
                    0.0
                }
            })
            .collect()
    };
    // density 0.5, gamma 0.2: n_top = 2 outliers (10, 9) dropped, then the smallest
    // n_bot = 10 − 5 − 2 = 3 (1, 2, 3) dropped → magnitudes 4..=8 kept.
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 1.0), ("density", 0.5), ("gamma", 0.2)]];
    let got = run("breadcrumbs", &[10], Some(0), &w, NO, &[&base, &x]);
    assert_close(&got, &keep_mags(4.0, 8.0), 1e-6);
    // gamma 0.01 → int(0.1) = 0 outliers: the 5 largest (6..=10) stay. (mergekit before
    // 0.1.5 sliced `indices[n_bot:-0]` here and dropped everything.)
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 1.0), ("density", 0.5)]];
    let got = run("breadcrumbs", &[10], Some(0), &w, NO, &[&base, &x]);
    assert_close(&got, &keep_mags(6.0, 10.0), 1e-6);
}

#[test]
fn della_keep_probability_rises_with_magnitude_rank() {
    // One row of 5000 distinct magnitudes: p(rank r) = (0.5 − 0.4) + 0.8·(r − 1)/4999.
    let n = 5000;
    let base = vec![0f32; n];
    let x: Vec<f32> = (0..n).map(|i| ((i * 2003) % n) as f32 + 1.0).collect();
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 1.0), ("density", 0.5), ("epsilon", 0.4)]];
    let got = run_seeded(
        "della_linear",
        &[n],
        Some(0),
        &w,
        &[("rescale", 0.0)],
        &[&base, &x],
        3,
    );
    let kept = |lo: f32, hi: f32| {
        let idx: Vec<usize> = (0..n).filter(|&i| x[i] >= lo && x[i] <= hi).collect();
        idx.iter().filter(|&&i| got[i] != 0.0).count() as f64 / idx.len() as f64
    };
    // Lowest 1000 ranks: mean p = 0.1 + 0.8·0.1 = 0.18; highest 1000: 0.82 (σ ≈ 0.012).
    let low = kept(1.0, 1000.0);
    let high = kept(4001.0, 5000.0);
    assert!((low - 0.18).abs() < 0.05, "low-rank keep rate {low}");
    assert!((high - 0.82).abs() < 0.05, "high-rank keep rate {high}");
    // Kept values are unchanged when rescale is off.
    assert!((0..n).all(|i| got[i] == 0.0 || got[i] == x[i]));
}

#[test]
fn slerp_interpolates_on_the_sphere_and_lerps_parallel_vectors() {
    // Orthogonal: θ = π/2, t = 0.5 → s0 = s1 = sin(π/4) / 1.
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let got = run(
        "slerp",
        &[2],
        Some(0),
        &[NO, NO],
        &[("t", 0.5)],
        &[&[2.0, 0.0], &[0.0, 1.0]],
    );
    assert_close(&got, &[2.0 * s, s], 1e-6);
    // t = 0.25: s0 = sin(3π/8), s1 = sin(π/8).
    let got = run(
        "slerp",
        &[2],
        Some(0),
        &[NO, NO],
        &[("t", 0.25)],
        &[&[1.0, 0.0], &[0.0, 1.0]],
    );
    let (a, b) = (
        (3.0 * std::f64::consts::PI / 8.0).sin(),
        (std::f64::consts::PI / 8.0).sin(),
    );
    assert_close(&got, &[a, b], 1e-6);
    // cos > 0.9995: plain lerp (1 − t)·v0 + t·v1.
    let got = run(
        "slerp",
        &[2],
        Some(0),
        &[NO, NO],
        &[("t", 0.3)],
        &[&[1.0, 0.0], &[1.0, 1e-3]],
    );
    assert_close(&got, &[1.0, 0.3e-3], 1e-6);
}

#[test]
fn nuslerp_uses_weight_ratio_and_works_row_wise() {
    let w: [&[(&str, f64)]; 2] = [&[("weight", 1.0)], &[("weight", 3.0)]];
    // t = 3 / (1 + 3) = 0.75 over the flattened orthogonal unit vectors.
    let p = std::f64::consts::FRAC_PI_2;
    let got = run("nuslerp", &[2], None, &w, NO, &[&[1.0, 0.0], &[0.0, 1.0]]);
    assert_close(&got, &[(0.25 * p).sin(), (0.75 * p).sin()], 1e-6);
    // Not flattened, 2×2: each row its own slerp. Row 0 orthogonal, row 1 parallel (lerp).
    let a = [1.0f32, 0.0, 2.0, 2.0];
    let b = [0.0f32, 1.0, 1.0, 1.0];
    let got = run(
        "nuslerp",
        &[2, 2],
        None,
        &w,
        &[("nuslerp_flatten", 0.0)],
        &[&a, &b],
    );
    assert_close(
        &got,
        &[(0.25 * p).sin(), (0.75 * p).sin(), 1.25, 1.25],
        1e-6,
    );
    // With a base: base + nuslerp(δ0, δ1).
    let base = [1.0f32, 1.0];
    let got = run(
        "nuslerp",
        &[2],
        Some(0),
        &[NO, w[0], w[1]],
        NO,
        &[&base, &[2.0, 1.0], &[1.0, 2.0]],
    );
    assert_close(
        &got,
        &[1.0 + (0.25 * p).sin(), 1.0 + (0.75 * p).sin()],
        1e-6,
    );
}

#[test]
fn multislerp_is_the_normalized_weighted_direction_times_mean_norm() {
    // The weighted tangent vectors at the weighted Euclidean mean direction always sum to
    // zero, so the result is m̂ · Σ wₖ‖xₖ‖ with m = Σ wₖ xₖ/‖xₖ‖ (weights normalized).
    let xs: [&[f32]; 3] = [&[3.0, 0.0, 0.0], &[0.0, 2.0, 0.0], &[1.0, 1.0, 1.0]];
    let w = [1.0, 2.0, 1.0];
    let wn: Vec<f64> = w.iter().map(|x| x / 4.0).collect();
    let norms: Vec<f64> = xs
        .iter()
        .map(|x| x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt())
        .collect();
    let mut m = [0f64; 3];
    for k in 0..3 {
        for i in 0..3 {
            m[i] += wn[k] * xs[k][i] as f64 / norms[k];
        }
    }
    let mn = m.iter().map(|v| v * v).sum::<f64>().sqrt();
    let scale: f64 = (0..3).map(|k| wn[k] * norms[k]).sum();
    let want: Vec<f64> = m.iter().map(|v| v / mn * scale).collect();
    let pm: [&[(&str, f64)]; 3] = [&[("weight", 1.0)], &[("weight", 2.0)], &[("weight", 1.0)]];
    let got = run("multislerp", &[3], None, &pm, NO, &xs);
    assert_close(&got, &want, 1e-5);
}

#[test]
fn karcher_mean_of_directions_on_a_circle_is_the_mean_angle() {
    // Unit vectors at 0°, 30°, 90°: the Karcher mean on the circle is the mean angle, 40°.
    let deg = |d: f64| d.to_radians();
    let v = |a: f64| [deg(a).cos() as f32, deg(a).sin() as f32];
    let (a, b, c) = (v(0.0), v(30.0), v(90.0));
    let got = run("karcher", &[2], None, &[NO, NO, NO], NO, &[&a, &b, &c]);
    assert_close(&got, &[deg(40.0).cos(), deg(40.0).sin()], 1e-5);
    // Norms 2 and 1 at 0° and 90°: direction 45°, scale (2 + 1)/2.
    let got = run(
        "karcher",
        &[2],
        None,
        &[NO, NO],
        NO,
        &[&[2.0, 0.0], &[0.0, 1.0]],
    );
    let h = 1.5 * std::f64::consts::FRAC_1_SQRT_2;
    assert_close(&got, &[h, h], 1e-5);
}

#[test]
fn model_stock_with_two_and_three_fine_tunes() {
    // Two: offsets at 60° → cos θ = 0.5, t = 2·0.5/(1 + 0.5) = 2/3,
    // w_H = t·avg(w1, w2) + (1 − t)·w0.
    let w0 = [1.0f32, 1.0];
    let w1 = [2.0f32, 1.0];
    let w2 = [1.5f32, 1.0 + 0.75f32.sqrt()];
    let got = run(
        "model_stock",
        &[2],
        Some(0),
        &[NO, NO, NO],
        NO,
        &[&w0, &w1, &w2],
    );
    let t = 2.0 / 3.0;
    let avg = [(2.0 + 1.5) / 2.0, (1.0 + 1.0 + 0.75f64.sqrt()) / 2.0];
    assert_close(
        &got,
        &[t * avg[0] + (1.0 - t), t * avg[1] + (1.0 - t)],
        1e-5,
    );
    // Three: offsets e1, e1 + e2, e2 → pairwise cos 1/√2, 0, 1/√2 → mean √2/3;
    // t = 3c / (1 + 2c).
    let z = [0.0f32; 3];
    let (a, b, c) = ([1.0f32, 0.0, 0.0], [1.0f32, 1.0, 0.0], [0.0f32, 1.0, 0.0]);
    let got = run(
        "model_stock",
        &[3],
        Some(0),
        &[NO, NO, NO, NO],
        NO,
        &[&z, &a, &b, &c],
    );
    let cos = 2f64.sqrt() / 3.0;
    let t = 3.0 * cos / (1.0 + 2.0 * cos);
    assert_close(&got, &[t * 2.0 / 3.0, t * 2.0 / 3.0, 0.0], 1e-5);
}

#[test]
fn model_stock_filter_wise_uses_one_angle_per_row() {
    // Row 0: offsets orthogonal (t = 0 → base row). Row 1: offsets equal (cos 1 → t = 1 → avg).
    let w0 = [0.0f32, 0.0, 1.0, 1.0];
    let w1 = [1.0f32, 0.0, 2.0, 2.0];
    let w2 = [0.0f32, 1.0, 2.0, 2.0];
    let got = run(
        "model_stock",
        &[2, 2],
        Some(0),
        &[NO, NO, NO],
        &[("filter_wise", 1.0)],
        &[&w0, &w1, &w2],
    );
    assert_close(&got, &[0.0, 0.0, 2.0, 2.0], 1e-6);
}

#[test]
fn sce_weights_by_mean_square_and_erases_minority_signs() {
    let base = [0.5f32, 0.5, 0.5];
    let tv1 = [1.0, -2.0, 0.5];
    let tv2 = [-1.0, 1.0, 0.5];
    let (x1, x2) = (add(&base, &tv1), add(&base, &tv2));
    // Weights: mean squares 1.75 and 0.75 → 0.7, 0.3. Unweighted sign sums: 0 (+), −1 (−), 1 (+).
    // i0: only tv1 (+) → 0.7·1/0.7 = 1; i1: only tv1 (−) → −2; i2: both → 0.5.
    let got = run("sce", &[3], Some(0), &[NO, NO, NO], NO, &[&base, &x1, &x2]);
    assert_close(&got, &[1.5, -1.5, 1.0], 1e-6);
    // select_topk 0.5: variances 1, 2.25, 0 → 2 non-zero → k = 1 → keep i1 only.
    // Masked weights 4/3 and 1/3 → 0.8, 0.2; i1 elected − → −2; others 0.
    let got = run(
        "sce",
        &[3],
        Some(0),
        &[NO, NO, NO],
        &[("select_topk", 0.5)],
        &[&base, &x1, &x2],
    );
    assert_close(&got, &[0.5, -1.5, 0.5], 1e-6);
}

#[test]
fn nearswap_interpolates_toward_close_values() {
    let a = [0.0f32, 0.0, 0.0];
    let b = [5e-5f32, 1.0, -0.002];
    // w = clamp(t/|a − b|, 0, 1) with t = 1e-3: 20 → 1, 1e-3, 0.5.
    let got = run(
        "nearswap",
        &[3],
        Some(0),
        &[NO, NO],
        &[("t", 1e-3)],
        &[&a, &b],
    );
    assert_close(&got, &[5e-5, 1e-3, -0.001], 1e-6);
}

#[test]
fn passthrough_copies_and_scales() {
    let x = [1.0f32, -2.0];
    let got = run("passthrough", &[2], None, &[&[("scale", 2.0)]], NO, &[&x]);
    assert_close(&got, &[2.0, -4.0], 0.0);
    let got = run("passthrough", &[2], None, &[NO], NO, &[&x]);
    assert_close(&got, &[1.0, -2.0], 0.0);
}

#[test]
fn ram_keeps_unique_updates_and_averages_shared_ones() {
    let base = [0.0f32; 3];
    let x1 = [1.0f32, 1e-6, 2.0];
    let x2 = [3.0f32, 5.0, 1e-6];
    // ε = 1e-5: i0 shared → (1 + 3)/2; i1 only model 2 → 5; i2 only model 1 → 2.
    let got = run("ram", &[3], Some(0), &[NO, NO, NO], NO, &[&base, &x1, &x2]);
    assert_close(&got, &[2.0, 5.0, 2.0], 1e-6);
}

#[test]
fn ramplus_tl_boosts_unique_updates_by_the_shared_to_unique_ratio() {
    let base = [0.0f32; 6];
    // Model 1 changes i0 (shared with model 2), i1, i2, i3, i4 (unique): shared 1, unique 4,
    // ρ = 1/4, clamped to α = 0.2 → λ1 = 1 + 0.5·0.2 = 1.1.
    let x1 = [1.0f32, 2.0, 3.0, 4.0, 5.0, 0.0];
    // Model 2 changes i0 (shared) and i5 (unique): ρ = 1, clamped → λ2 = 1.1 as well.
    let x2 = [3.0f32, 0.0, 0.0, 0.0, 0.0, 10.0];
    let got = run(
        "ramplus_tl",
        &[6],
        Some(0),
        &[NO, NO, NO],
        &[("r", 0.5), ("alpha", 0.2)],
        &[&base, &x1, &x2],
    );
    // i0 shared: 1/2 + 3/2; unique entries times λ = 1.1.
    assert_close(&got, &[2.0, 2.2, 3.3, 4.4, 5.5, 11.0], 1e-6);
    // α = 1 leaves model 1's ρ = 0.25 unclamped: λ1 = 1 + 0.5·0.25 = 1.125; model 2's ρ = 1
    // gives λ2 = 1.5.
    let got = run(
        "ramplus_tl",
        &[6],
        Some(0),
        &[NO, NO, NO],
        &[("r", 0.5), ("alpha", 1.0)],
        &[&base, &x1, &x2],
    );
    assert_close(&got, &[2.0, 2.25, 3.375, 4.5, 5.625, 15.0], 1e-6);
    // A model with no unique entry: ρ = shared / ε is clamped to α, but it has nothing to
    // boost; the shared entries are averaged as in `ram`.
    let got = run(
        "ramplus_tl",
        &[2],
        Some(0),
        &[NO, NO, NO],
        NO,
        &[&[0.0, 0.0], &[1.0, 2.0], &[3.0, 4.0]],
    );
    assert_close(&got, &[2.0, 3.0], 1e-6);
}

#[test]
fn arcee_fusion_moves_only_important_entries() {
    // One row of 8: a large change at index 3 on top of tiny changes elsewhere.
    let a = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    let mut b = a;
    for (i, v) in b.iter_mut().enumerate() {
        *v += 1e-3 * i as f32;
    }
    b[3] += 2.0;
    // Reference: importance_i = |b_i − a_i| · KL(softmax(b) ‖ softmax(a)) (one row, so the KL
    // factor is shared); threshold = median + 1.5·IQR of the sorted importances at indices
    // ⌊q·7⌋ = 3 (q = 0.5), 1 (0.25), 5 (0.75). Only index 3 reaches it.
    let mut imp: Vec<f64> = (0..8).map(|i| (b[i] - a[i]).abs() as f64).collect();
    let mut sorted = imp.clone();
    sorted.sort_by(|x, y| x.total_cmp(y));
    let thr = sorted[3] + 1.5 * (sorted[5] - sorted[1]);
    imp.iter_mut()
        .for_each(|x| *x = if *x >= thr { 1.0 } else { 0.0 });
    assert_eq!(imp, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    let got = run("arcee_fusion", &[8], Some(0), &[NO, NO], NO, &[&a, &b]);
    let want: Vec<f64> = (0..8)
        .map(|i| if i == 3 { b[i] as f64 } else { a[i] as f64 })
        .collect();
    assert_close(&got, &want, 1e-6);
}

#[test]
fn multislerp_keeps_a_tensor_no_model_changed() {
    // All three task vectors are zero (a frozen tensor): the base comes back unchanged
    // (mergekit aborts the merge with "antipodal inputs" here).
    let base = [0.5f32, -1.0, 2.0];
    let pm: [&[(&str, f64)]; 4] = [
        &[],
        &[("weight", 1.0)],
        &[("weight", 1.0)],
        &[("weight", 2.0)],
    ];
    let got = run(
        "multislerp",
        &[3],
        Some(0),
        &pm,
        NO,
        &[&base, &base, &base, &base],
    );
    assert_close(&got, &[0.5, -1.0, 2.0], 0.0);
}

/// Runs `method`'s kernel on a job exactly as given (no defaults filled in).
fn run_unfilled(
    method: &str,
    base: Option<usize>,
    per_model: &[&[(&'static str, f64)]],
    global: &[(&'static str, f64)],
    tensors: &[&[f32]],
) -> mergesearch::Result<Vec<f32>> {
    let def = merge::method(method).expect("method exists");
    let job = TensorJob::in_memory(
        "model.layers.0.mlp.up_proj.weight",
        &[tensors[0].len()],
        base,
        per_model.iter().map(|p| Params::from_pairs(p)).collect(),
        Params::from_pairs(global),
    );
    let inputs = merge::TensorInputs::from_f32(tensors, &job.shape);
    let mut bytes = vec![0u8; job.numel() * 4];
    (def.kernel)(&job, &inputs, &MergeOptions::default(), &mut bytes)?;
    Ok(merge::inputs::decode(job.out_dtype, &bytes))
}

#[test]
fn kernels_refuse_a_missing_required_t_instead_of_inventing_one() {
    // mergekit's slerp and nearswap declare `t` required (slerp.py `ConfigParameterDef(name="t",
    // required=True)`, nearswap.py's `t: float` without default). The kernels used to fall
    // back to 0.5 (slerp) and 0.0 (nearswap) when it was missing.
    for method in ["slerp", "nearswap"] {
        let def = merge::method(method).unwrap();
        let job = TensorJob::in_memory(
            "model.layers.0.mlp.up_proj.weight",
            &[2],
            Some(0),
            vec![Params::default(), Params::default()],
            Params::default(),
        );
        let e = merge::merge_f32(
            def,
            &job,
            &[&[1.0, 0.0], &[0.0, 1.0]],
            &MergeOptions::default(),
        )
        .expect_err("no t, no merge")
        .to_string();
        assert!(
            e.contains("`t`") && e.contains("model.layers.0.mlp.up_proj.weight"),
            "{method}: {e}"
        );
    }
}

#[test]
fn kernels_read_resolved_defaults_not_their_own() {
    // dare_linear's registry default is rescale = true (generalized_task_arithmetic.py:
    // `default_rescale=True` for DARE); the kernel used to assume false when the job did not
    // say. Now an unfilled job is an error naming the parameter...
    let w: [&[(&str, f64)]; 2] = [&[], &[("weight", 1.0), ("density", 1.0)]];
    let e = run_unfilled(
        "dare_linear",
        Some(0),
        &w,
        &[("normalize", 0.0), ("lambda", 1.0), ("int8_mask", 0.0)],
        &[&[0.0; 4], &[1.0; 4]],
    )
    .expect_err("rescale missing")
    .to_string();
    assert!(e.contains("`rescale`"), "{e}");
    // ...and the same job with the registry's defaults filled merges: density 1 keeps the
    // whole task vector, so the output is b + 1·δ = x.
    let got = run(
        "dare_linear",
        &[2],
        Some(0),
        &w,
        NO,
        &[&[0.0, 1.0], &[2.0, 1.0]],
    );
    assert_close(&got, &[2.0, 1.0], 1e-6);
}
