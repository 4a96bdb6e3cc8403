//! What interrupted or refused runs leave behind: OUT_DIR guards (never replace a study, an
//! input model or their parents), stale `.NAME.partial-PID` / `.NAME.old-PID` directories of
//! killed writers, temporary files of the atomic writer, and the command harness's child
//! processes and temporary checkpoints after its parent is SIGKILLed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The id of a process that has exited (and been reaped), so `kill(pid, 0)` gives ESRCH.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Whether `pid` has exited (gone, or a zombie nobody reaped yet).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesized command name: "PID (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Waits (up to a generous deadline; the test asserts the outcome, not the time) until
/// `done()` holds.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a merge into `out` that must be refused, and checks the message and that the
/// refused path is untouched.
fn assert_refused(cwd: &Path, out: &str, culprits: &[&str]) {
    let before: Vec<_> = list(&cwd.join(out));
    let o = run_merge(cwd, "merge.yaml", TIES, out, &[]);
    let err = stderr(&o);
    assert!(!o.status.success(), "merge into {out} should be refused");
    for c in culprits {
        assert!(err.contains(c), "stderr does not name `{c}`:\n{err}");
    }
    assert_eq!(list(&cwd.join(out)), before, "{out} was modified");
    assert_no_leftovers(cwd);
}

/// Sorted file names under `dir` (empty when it does not exist).
fn list(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(d) {
            for e in entries.flatten() {
                out.push(e.path());
                walk(&e.path(), out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, &mut v);
    v.sort();
    v
}

#[test]
fn merge_refuses_an_input_model_and_what_contains_or_lies_inside_one() {
    let tmp = three_models();
    let cwd = tmp.path();
    assert_refused(cwd, "ft1", &["ft1", "input model"]);
    assert_refused(cwd, "ft1/sub", &["ft1", "inside the input model"]);
    // A parent of the inputs is refused as well (the current directory here is checked too;
    // run from elsewhere to see the input-model reason).
    let elsewhere = tempfile::tempdir().unwrap();
    let cfg = cwd.join("abs.yaml");
    std::fs::write(
        &cfg,
        TIES.replace(
            "base_model: base",
            &format!("base_model: {}", cwd.join("base").display()),
        )
        .replace(
            "model: ft1",
            &format!("model: {}", cwd.join("ft1").display()),
        )
        .replace(
            "model: ft2",
            &format!("model: {}", cwd.join("ft2").display()),
        ),
    )
    .unwrap();
    let o = mergesearch(
        elsewhere.path(),
        &["merge", cfg.to_str().unwrap(), cwd.to_str().unwrap()],
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("contains the input model"), "{err}");
    assert!(cwd.join("ft1/model.safetensors").exists());
}

#[test]
fn merge_refuses_a_study_directory_its_parent_and_its_inside() {
    let tmp = three_models();
    let cwd = tmp.path();
    std::fs::create_dir_all(cwd.join("results/demo")).unwrap();
    std::fs::write(cwd.join("results/demo/study.db"), "not really sqlite").unwrap();
    assert_refused(cwd, "results/demo", &["results/demo", "study directory"]);
    assert_refused(
        cwd,
        "results",
        &["results/demo", "contains the study directory"],
    );
    assert_refused(
        cwd,
        "results/demo/best",
        &["results/demo", "inside the study"],
    );
    // A sibling of the study is fine.
    let o = run_merge(cwd, "merge.yaml", TIES, "results/merged", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(cwd.join("results/merged/config.json").exists());
    assert!(cwd.join("results/demo/study.db").exists());
}

/// The holes from the study-core issue: `export results/demo --trial 1 results/demo`
/// replaced the whole study with a checkpoint, and exporting into the study's parent
/// deleted it (and any sibling study).
#[test]
fn export_refuses_the_study_directory_and_its_parent() {
    let tmp = common::study::workspace();
    let cwd = tmp.path();
    let study = common::study::study_yaml("demo", "random", 2);
    std::fs::write(cwd.join("demo.yaml"), study).unwrap();
    let o = mergesearch(cwd, &["search", "demo.yaml"]);
    assert!(o.status.success(), "search failed:\n{}", stderr(&o));
    let demo = cwd.join("results/demo");
    assert!(demo.join("study.db").exists());
    // `export` reads the study through SQLite, which may create its shared-memory index and
    // write-ahead log beside `study.db` (its own transient files, not study data).
    let study_files = |d: &Path| -> Vec<PathBuf> {
        list(d)
            .into_iter()
            .filter(|p| {
                !p.to_string_lossy().ends_with("-shm") && !p.to_string_lossy().ends_with("-wal")
            })
            .collect()
    };
    let before = study_files(&demo);
    for (out, why) in [
        ("results/demo", "study directory"),
        ("results", "contains the study directory"),
        ("results/demo/trial-1", "inside the study directory"),
    ] {
        let o = mergesearch(cwd, &["export", "results/demo", "--trial", "1", out]);
        let err = stderr(&o);
        assert!(!o.status.success(), "export into {out} should be refused");
        assert!(err.contains(why) && err.contains("demo"), "{out}: {err}");
        assert_eq!(
            study_files(&demo),
            before,
            "export into {out} touched the study"
        );
        assert_no_leftovers(&cwd.join("results"));
    }
    let o = mergesearch(cwd, &["export", "results/demo", "--trial", "1", "exported"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(cwd.join("exported/config.json").exists());
}

#[test]
fn stale_partials_of_dead_writers_are_swept_and_others_kept() {
    let tmp = three_models();
    let cwd = tmp.path();
    let dead = dead_pid();
    let me = std::process::id();
    let make = |name: &str| {
        std::fs::create_dir_all(cwd.join(name)).unwrap();
        std::fs::write(cwd.join(name).join("model.safetensors"), "partial").unwrap();
    };
    make(&format!(".out.partial-{dead}"));
    make(&format!(".other.partial-{dead}"));
    make(&format!(".out.partial-{me}")); // a live writer's: not ours to remove
    make(&format!(".out.partial-{dead}x")); // not our naming pattern
    make(&format!("out.partial-{dead}")); // not hidden: not ours either
                                          // A replacement killed between its two renames: the previous output sits aside.
    make(&format!(".prev.old-{dead}"));

    let o = run_merge(cwd, "merge.yaml", TIES, "out", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!cwd.join(format!(".out.partial-{dead}")).exists());
    assert!(!cwd.join(format!(".other.partial-{dead}")).exists());
    assert!(cwd.join(format!(".out.partial-{me}")).exists());
    assert!(cwd.join(format!(".out.partial-{dead}x")).exists());
    assert!(cwd.join(format!("out.partial-{dead}")).exists());
    assert!(!cwd.join(format!(".prev.old-{dead}")).exists());
    assert_eq!(
        std::fs::read_to_string(cwd.join("prev/model.safetensors")).unwrap(),
        "partial",
        "the moved-aside output is put back"
    );
    assert!(cwd.join("out/model.safetensors").exists());
}

#[test]
fn replacing_an_out_dir_swaps_it_and_leaves_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let (new, dst) = (tmp.path().join(".dst.partial-1"), tmp.path().join("dst"));
    std::fs::create_dir_all(dst.join("old-sub")).unwrap();
    std::fs::write(dst.join("old.txt"), "old").unwrap();
    std::fs::create_dir(&new).unwrap();
    std::fs::write(new.join("new.txt"), "new").unwrap();
    mergesearch::checkpoint::writer::replace_dir(&new, &dst).unwrap();
    assert_eq!(std::fs::read_to_string(dst.join("new.txt")).unwrap(), "new");
    assert!(!dst.join("old.txt").exists());
    assert!(!new.exists());
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("dst")]);
}

#[test]
fn atomic_write_removes_its_temp_file_when_the_rename_fails() {
    let tmp = tempfile::tempdir().unwrap();
    // A non-empty directory at the target path: the rename over it fails.
    let target = tmp.path().join("state.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside"), "x").unwrap();
    let err = mergesearch::atomic::write(&target, b"{}").unwrap_err();
    assert!(err.to_string().contains("state.json"), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        vec!["state.json".to_string()],
        "temp file left behind"
    );
}

#[test]
fn atomic_write_sweeps_temp_files_of_dead_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let dead = dead_pid();
    let stale = tmp.path().join(format!(".state.json.tmp-{dead}"));
    let live = tmp.path().join(".state.json.tmp-1"); // pid 1 always exists
    let other = tmp.path().join(format!(".other.json.tmp-{dead}"));
    for p in [&stale, &live, &other] {
        std::fs::write(p, "half").unwrap();
    }
    mergesearch::atomic::write(&tmp.path().join("state.json"), b"{}").unwrap();
    assert!(!stale.exists());
    assert!(live.exists());
    assert!(
        other.exists(),
        "only temp files of the same target are swept"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("state.json")).unwrap(),
        "{}"
    );
}

/// `eval` with a command harness whose `mergesearch` parent is SIGKILLed: the command (and
/// what it started) dies with it, and the temporary checkpoint it was given is removed by the
/// next run.
#[test]
fn a_killed_eval_leaves_no_command_running_and_no_temporary_checkpoint() {
    let tmp = three_models();
    let cwd = tmp.path();
    let tmpdir = cwd.join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    std::fs::write(cwd.join("merge.yaml"), TIES).unwrap();
    // The command records its model directory and the pid of a grandchild, then waits.
    std::fs::write(
        cwd.join("slow.yaml"),
        "harnesses:\n  - type: command\n    name: slow\n    command: \"echo {model_dir} > dir.txt; sleep 300 & echo $! > pid.tmp; mv pid.tmp pid.txt; wait\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["eval", "merge.yaml", "--evals", "slow.yaml"])
        .env("TMPDIR", &tmpdir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = cwd.join("pid.txt");
    assert!(
        eventually(|| pid_file.exists()),
        "the command never started"
    );
    let sleeper: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let model_dir = PathBuf::from(std::fs::read_to_string(cwd.join("dir.txt")).unwrap().trim());
    assert!(model_dir.starts_with(&tmpdir) && model_dir.join("config.json").exists());
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(
        eventually(|| exited(sleeper)),
        "the command's process {sleeper} outlived its SIGKILLed parent"
    );

    // The next run removes the dead run's temporary checkpoint; its own goes on drop.
    std::fs::write(
        cwd.join("quick.yaml"),
        "harnesses:\n  - type: command\n    name: quick\n    command: \"echo '{\\\"x\\\": 1}'\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["eval", "merge.yaml", "--evals", "quick.yaml"])
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !model_dir.exists(),
        "stale temporary checkpoint not removed"
    );
    assert_eq!(list(&tmpdir), Vec::<PathBuf>::new());

    // A failing command removes its temporary checkpoint too.
    std::fs::write(
        cwd.join("fails.yaml"),
        "harnesses:\n  - type: command\n    name: fails\n    command: \"exit 3\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mergesearch"))
        .current_dir(cwd)
        .args(["eval", "merge.yaml", "--evals", "fails.yaml"])
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(list(&tmpdir), Vec::<PathBuf>::new());
}
