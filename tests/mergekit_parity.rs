//! Parity with mergekit itself: every config in `tests/fixtures/mergekit/configs/` is merged
//! by our binary and compared tensor by tensor with the output mergekit 0.1.5 produced for
//! the same inputs (`expected/<case>.safetensors`).
//!
//! Provenance: `tests/fixtures/mergekit/generate.py` wrote the seeded inputs and ran
//! `mergekit-yaml CONFIG OUT --no-copy-tokenizer --allow-crimes --no-write-model-card` for
//! each case (torch 2.15 CPU, float32). Random methods (DARE, DELLA) draw from torch's RNG
//! and cannot match bit for bit; they are covered by the statistical tests in
//! `tests/methods.rs`.
//!
//! Tolerance: max |ours − mergekit| ≤ 1e-5 × max |mergekit| per tensor (DESIGN.md).
//! arcee_fusion is a hard threshold on importances computed with float reductions whose
//! order torch (vectorized softmax/sum, Sleef exp) and we cannot share, so an importance
//! within rounding of the threshold may fall either way: there, an element may instead
//! equal the other model's value (a mask flip), for at most 0.2% of the model's elements.

use std::path::{Path, PathBuf};
use std::process::Command;

use mergesearch::checkpoint::{DType, ModelDir};
use mergesearch::merge::inputs::decode;
use safetensors::SafeTensors;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mergekit")
}

/// Compares one case; returns a description of every mismatch.
fn compare(case: &str, ours: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let flips_ok = case == "arcee_fusion";
    let (mut flips, mut total) = (0usize, 0usize);
    let other = ModelDir::open(&fixtures().join("inputs/ft1")).expect("fixture input opens");
    let base = ModelDir::open(&fixtures().join("inputs/base")).expect("fixture input opens");
    let bytes = std::fs::read(
        fixtures()
            .join("expected")
            .join(format!("{case}.safetensors")),
    )
    .expect("expected output exists");
    let theirs = SafeTensors::deserialize(&bytes).expect("expected output parses");
    let ours = ModelDir::open(ours).expect("our output opens");
    let mut their_names: Vec<String> = theirs.names().into_iter().map(String::from).collect();
    let mut our_names: Vec<String> = ours.tensors.keys().cloned().collect();
    their_names.sort();
    our_names.sort();
    if their_names != our_names {
        problems.push(format!(
            "{case}: tensor names differ\n  mergekit: {their_names:?}\n  ours: {our_names:?}"
        ));
        return problems;
    }
    for name in their_names {
        let t = theirs.tensor(&name).expect("listed");
        let m = ours.meta(&name).expect("listed");
        if t.shape() != m.shape.as_slice() {
            problems.push(format!(
                "{case}/{name}: shape {:?} vs mergekit {:?}",
                m.shape,
                t.shape()
            ));
            continue;
        }
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "fixtures are float32");
        let want = decode(DType::F32, t.data());
        let mut got = decode(m.dtype, ours.bytes(m));
        total += got.len();
        if flips_ok {
            // A flip: we took ft1's value where mergekit kept the base's, or vice versa.
            let b = decode(
                DType::F32,
                base.bytes(base.meta(&name).expect("same names")),
            );
            let x = decode(
                DType::F32,
                other.bytes(other.meta(&name).expect("same names")),
            );
            for i in 0..got.len() {
                let swapped =
                    (got[i] == x[i] && want[i] == b[i]) || (got[i] == b[i] && want[i] == x[i]);
                if got[i] != want[i] && swapped {
                    flips += 1;
                    got[i] = want[i];
                }
            }
        }
        let scale = want.iter().fold(0f32, |a, b| a.max(b.abs())).max(1e-30);
        let (worst, at) = want
            .iter()
            .zip(&got)
            .enumerate()
            .map(|(i, (w, g))| ((w - g).abs(), i))
            .fold((0f32, 0usize), |a, b| if b.0 > a.0 { b } else { a });
        if worst > 1e-5 * scale || worst.is_nan() {
            problems.push(format!(
                "{case}/{name}: max |Δ| = {worst:e} at {at} (ours {}, mergekit {}), scale {scale}",
                got[at], want[at]
            ));
        }
    }
    if flips_ok {
        eprintln!("{case}: {flips} mask flips of {total} elements");
    }
    if flips * 500 > total {
        problems.push(format!(
            "{case}: {flips} of {total} mask flips (more than 0.2%)"
        ));
    }
    problems
}

#[test]
fn outputs_match_mergekit() {
    let dir = fixtures();
    let mut cases: Vec<String> = std::fs::read_dir(dir.join("configs"))
        .expect("configs dir")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "yaml" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 21,
        "expected the 21 parity cases, found {}",
        cases.len()
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for case in &cases {
        let out = tmp.path().join(case);
        let run = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
            .current_dir(&dir)
            .arg("merge")
            .arg(format!("configs/{case}.yaml"))
            .arg(&out)
            .output()
            .expect("binary runs");
        if !run.status.success() {
            problems.push(format!(
                "{case}: merge failed: {}",
                String::from_utf8_lossy(&run.stderr)
            ));
            continue;
        }
        problems.extend(compare(case, &out));
    }
    assert!(
        problems.is_empty(),
        "{} mismatch(es) with mergekit:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
