//! Bad inputs through the built binary: every case must exit non-zero with a message that
//! names the culprit (file, tensor, YAML key or value), never panic, and never leave an output
//! directory or a writer's temporary directory behind.

mod common;

use std::path::Path;

use common::*;

/// Runs `yaml` into `out` and checks the failure contract: non-zero exit, every string of
/// `culprits` in stderr, no panic, no output directory, no temporary directory.
fn assert_fails(cwd: &Path, yaml: &str, culprits: &[&str]) -> String {
    let o = run_merge(cwd, "merge.yaml", yaml, "out", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success(),
        "merge should fail\nconfig:\n{yaml}\nstderr:\n{stderr}"
    );
    for c in culprits {
        assert!(stderr.contains(c), "stderr does not name `{c}`:\n{stderr}");
    }
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "the binary panicked:\n{stderr}"
    );
    assert!(!cwd.join("out").exists(), "OUT_DIR exists after a failure");
    assert_no_leftovers(cwd);
    stderr
}

#[test]
fn the_unchanged_workspace_merges() {
    // Guards the cases below: each fails because of its one change, not the baseline.
    let tmp = three_models();
    merge_ok(tmp.path(), TIES, "out", &[]);
}

#[test]
fn corrupt_safetensors_header_names_the_file() {
    let tmp = three_models();
    // An 8-byte header length followed by that many bytes of invalid JSON.
    let junk = b"{\"not json\": !!!";
    let mut bytes = (junk.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(junk);
    std::fs::write(tmp.path().join("ft1/model.safetensors"), bytes).unwrap();
    assert_fails(tmp.path(), TIES, &["ft1/model.safetensors"]);
}

#[test]
fn truncated_safetensors_names_the_file() {
    let tmp = three_models();
    let p = tmp.path().join("ft2/model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 6]).unwrap();
    assert_fails(tmp.path(), TIES, &["ft2/model.safetensors", "truncated"]);
}

#[test]
fn missing_tensor_names_the_tensor_and_the_model() {
    let tmp = three_models();
    let missing = "model.layers.1.mlp.up_proj.weight";
    write_model_with(
        &tmp.path().join("ft1"),
        &ModelSpec::new(1).layers(2),
        |list| list.retain(|(n, _)| n != missing),
    );
    assert_fails(tmp.path(), TIES, &[missing, "ft1"]);
}

/// Regression test for a planner bug: the output's tensor list is taken from the *first*
/// model of a slice (its layer `layer_range[0]` for layer tensors; the first/last slice's first
/// model for the others), so a tensor missing there is silently left out of the output instead
/// of being reported. Here the merge exits 0 with 18 of 21 tensors (up_proj of both layers
/// and model.norm are gone).
#[test]
fn tensor_missing_from_the_first_model_is_reported() {
    let tmp = three_models();
    let (layer0, norm) = ("model.layers.0.mlp.up_proj.weight", "model.norm.weight");
    write_model_with(
        &tmp.path().join("ft1"),
        &ModelSpec::new(1).layers(2),
        |list| list.retain(|(n, _)| n != layer0 && n != norm),
    );
    assert_fails(tmp.path(), TIES, &["ft1", "up_proj"]);
}

#[test]
fn shape_mismatch_names_the_tensor_and_both_shapes() {
    let tmp = three_models();
    let name = "model.layers.0.mlp.down_proj.weight";
    // Same element count, transposed shape: [HIDDEN, INTER] = [8, 12] becomes [12, 8].
    write_model_with(
        &tmp.path().join("ft1"),
        &ModelSpec::new(1).layers(2),
        |list| {
            for (n, s) in list.iter_mut() {
                if n == name {
                    *s = vec![12, 8];
                }
            }
        },
    );
    // The message reads "checkpoint ft2: tensor … has shape [8, 12], expected [12, 8] (as in
    // ft1)": the first source is the reference, so the model that agrees with the base (ft2)
    // is the one blamed. It still names ft1, the tensor and both shapes.
    assert_fails(tmp.path(), TIES, &[name, "[12, 8]", "[8, 12]", "ft1"]);
}

#[test]
fn unknown_merge_method_is_named() {
    let tmp = three_models();
    let yaml = TIES.replace("merge_method: ties", "merge_method: tiez");
    assert_fails(tmp.path(), &yaml, &["tiez", "merge_method", "merge.yaml"]);
}

#[test]
fn misspelled_top_level_key_is_named() {
    let tmp = three_models();
    let yaml = TIES.replace("merge_method: ties", "merge_methd: ties");
    assert_fails(tmp.path(), &yaml, &["merge_methd", "merge.yaml"]);
}

#[test]
fn misspelled_parameter_is_named() {
    let tmp = three_models();
    let yaml = TIES.replacen("density: 0.5", "densty: 0.5", 1);
    assert_fails(tmp.path(), &yaml, &["densty"]);
}

#[test]
fn density_above_one_is_rejected() {
    let tmp = three_models();
    let yaml = TIES.replacen("density: 0.5", "density: 1.5", 1);
    assert_fails(tmp.path(), &yaml, &["density", "1.5"]);
}

#[test]
fn della_keep_probability_outside_unit_interval_is_rejected() {
    let tmp = three_models();
    // DELLA keeps with probability in [density − ε, density + ε] = [−0.1, 1.1] here.
    let yaml = "merge_method: della\n\
                base_model: base\n\
                models:\n  - model: ft1\n    parameters: {weight: 0.5, density: 0.5, epsilon: 0.6}\n\
                \x20 - model: ft2\n    parameters: {weight: 0.5, density: 0.5}\n";
    assert_fails(tmp.path(), yaml, &["epsilon", "0.6", "density"]);
}

#[test]
fn missing_model_directory_is_named() {
    let tmp = three_models();
    let yaml = TIES.replace("model: ft2", "model: no_such_model");
    assert_fails(tmp.path(), &yaml, &["no_such_model"]);
}

#[test]
fn missing_required_weight_is_named() {
    let tmp = three_models();
    let yaml = TIES.replacen("{weight: 0.5, density: 0.5}", "{density: 0.5}", 1);
    assert_fails(tmp.path(), &yaml, &["weight", "ft1"]);
}

#[test]
fn missing_config_file_is_named() {
    let tmp = three_models();
    let o = mergesearch(tmp.path(), &["merge", "nowhere.yaml", "out"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("nowhere.yaml"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn failure_while_merging_leaves_nothing_behind() {
    let tmp = three_models();
    // Planning accepts these weights; the linear kernel then refuses to divide by
    // Σ w = 1 + (−1) = 0 on the first tensor, after the writer created its temporary directory.
    let yaml = "merge_method: linear\n\
                models:\n  - model: ft1\n    parameters: {weight: 1}\n\
                \x20 - model: ft2\n    parameters: {weight: -1}\n";
    assert_fails(tmp.path(), yaml, &["model.embed_tokens.weight", "zero"]);

    // An existing OUT_DIR is replaced only by a successful merge: a failed one leaves it as is.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "previous result").unwrap();
    let o = run_merge(tmp.path(), "merge.yaml", yaml, "out", &[]);
    assert!(!o.status.success());
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "previous result"
    );
    assert_no_leftovers(tmp.path());
}

/// Regression test: an OUT_DIR that exists as a regular file should be refused up front (or
/// replaced cleanly). Today the merge runs, renames the file to `.outfile.old-PID`, moves the
/// output into place, then fails on `remove_dir_all` of the renamed *file* ("Not a directory"):
/// exit 1 after writing the output, and the `.old-` file is left behind.
#[test]
fn out_dir_that_is_a_file_is_refused_and_kept() {
    let tmp = three_models();
    std::fs::write(tmp.path().join("outfile"), "not a directory").unwrap();
    let o = run_merge(tmp.path(), "merge.yaml", TIES, "outfile", &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("outfile") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("outfile")).unwrap(),
        "not a directory"
    );
    assert_no_leftovers(tmp.path());
}

#[test]
fn empty_layer_range_is_refused() {
    let tmp = three_models();
    let yaml = "merge_method: passthrough\n\
                slices:\n  - sources:\n      - model: ft1\n        layer_range: [1, 1]\n";
    assert_fails(
        tmp.path(),
        yaml,
        &["slices[0].sources[0].layer_range", "empty"],
    );
}

#[test]
fn models_of_different_depths_are_named() {
    let tmp = three_models();
    write_model(&tmp.path().join("deep"), &ModelSpec::new(3).layers(3));
    let yaml = "merge_method: linear\n\
                models:\n  - model: ft1\n    parameters: {weight: 1}\n\
                \x20 - model: deep\n    parameters: {weight: 1}\n";
    assert_fails(tmp.path(), yaml, &["models:", "ft1 (2)", "deep (3)"]);
}
