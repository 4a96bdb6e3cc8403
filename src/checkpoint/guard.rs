//! What a checkpoint writer may replace, and what killed writers left behind.
//!
//! Writing a checkpoint replaces OUT_DIR as a whole, so OUT_DIR must not be, contain or lie
//! inside anything the user would lose: a study directory (one holding `study.db`), an input
//! model of the merge, or the current directory. [`guard_out_dir`] refuses those before any
//! work. [`sweep_stale`] removes the `.NAME.partial-PID` directories of writers that were
//! killed, and puts back a `.NAME.old-PID` directory a killed replacement had moved aside.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::stale::{dead_entries, parse_pid};

/// Marker of a study directory.
const STUDY_DB: &str = "study.db";

/// At most this many entries of an existing OUT_DIR are inspected for a study inside it;
/// a larger tree is not a checkpoint (which holds tens of files) and is refused.
const MAX_ENTRIES: usize = 10_000;

/// Refuses an `out` directory that is, contains or lies inside a study directory or one of
/// `inputs` (the merge's model directories), or that contains the current directory. Paths
/// are compared canonicalized; `out` need not exist (its nearest existing ancestor is
/// canonicalized and the rest appended). The error names `out`, the offending path and why.
pub fn guard_out_dir(out: &Path, inputs: &[&Path]) -> Result<()> {
    let target = resolve(out).map_err(|e| Error::io(out, e))?;
    let refuse = |msg: String| {
        Err(Error::checkpoint(
            out,
            format!("refusing to write here: {msg}"),
        ))
    };
    if let Some(cwd) = std::env::current_dir()
        .ok()
        .and_then(|c| c.canonicalize().ok())
    {
        if cwd.starts_with(&target) {
            return refuse(format!(
                "replacing OUT_DIR would delete the current directory {}",
                cwd.display()
            ));
        }
    }
    for input in inputs {
        let Ok(input) = input.canonicalize() else {
            continue;
        };
        if input == target {
            return refuse(format!(
                "it is the input model {}; choose a new OUT_DIR",
                input.display()
            ));
        }
        if input.starts_with(&target) {
            return refuse(format!(
                "it contains the input model {}, which replacing it would delete",
                input.display()
            ));
        }
        if target.starts_with(&input) {
            return refuse(format!(
                "it lies inside the input model {}; choose a directory outside it",
                input.display()
            ));
        }
    }
    for dir in target.ancestors() {
        if dir.join(STUDY_DB).is_file() {
            return refuse(if dir == target {
                format!(
                    "it is the study directory {} (it holds {STUDY_DB}); choose a new OUT_DIR",
                    dir.display()
                )
            } else {
                format!(
                    "it lies inside the study directory {} (it holds {STUDY_DB}); choose a directory outside it",
                    dir.display()
                )
            });
        }
    }
    if target.is_dir() {
        let mut seen = 0usize;
        if let Some(found) = find_study(&target, &mut seen) {
            return refuse(found);
        }
    }
    Ok(())
}

/// Looks for a `study.db` under `dir` (symbolic links are not followed); the reason to refuse,
/// if any.
fn find_study(dir: &Path, seen: &mut usize) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    for e in entries.flatten() {
        *seen += 1;
        if *seen > MAX_ENTRIES {
            return Some(format!(
                "it holds more than {MAX_ENTRIES} entries, which is not a checkpoint directory"
            ));
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_file() && e.file_name() == STUDY_DB {
            return Some(format!(
                "it contains the study directory {} (it holds {STUDY_DB}), which replacing it would delete",
                dir.display()
            ));
        }
        if ft.is_dir() {
            if let Some(found) = find_study(&e.path(), seen) {
                return Some(found);
            }
        }
    }
    None
}

/// `path` made absolute and canonical: the nearest existing ancestor canonicalized, the
/// components below it appended (`.` dropped, `..` applied).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for comp in rest.iter().rev() {
                match comp {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return Ok(out);
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return Ok(abs),
        }
    }
}

/// Cleans what killed writers left in `dir` (best effort, errors ignored): a directory
/// `.NAME.partial-PID` whose process is gone is removed; a `.NAME.old-PID` (an OUT_DIR moved
/// aside by a replacement that was killed before it finished) is moved back to `NAME` when
/// nothing took its place, else removed. Only these exact names are touched.
pub fn sweep_stale(dir: &Path) {
    let dead = dead_entries(dir, |n| split_stale_name(n).map(|(_, _, pid)| pid));
    for e in dead {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        let file_name = e.file_name();
        let Some((name, kind, _)) = file_name.to_str().and_then(split_stale_name) else {
            continue;
        };
        if kind == Kind::Old {
            let original = path.with_file_name(name);
            if !original.exists() && std::fs::rename(&path, &original).is_ok() {
                eprintln!(
                    "note: restored {} (moved aside by an interrupted run)",
                    original.display()
                );
                continue;
            }
        }
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Partial,
    Old,
}

/// `.NAME.partial-PID` / `.NAME.old-PID` → (NAME, kind, PID).
fn split_stale_name(file_name: &str) -> Option<(&str, Kind, u32)> {
    let rest = file_name.strip_prefix('.')?;
    let (head, pid) = rest.rsplit_once('-')?;
    let pid = parse_pid(pid)?;
    if let Some(name) = head.strip_suffix(".partial") {
        (!name.is_empty()).then_some((name, Kind::Partial, pid))
    } else if let Some(name) = head.strip_suffix(".old") {
        (!name.is_empty()).then_some((name, Kind::Old, pid))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_names_follow_the_writer_pattern_exactly() {
        assert_eq!(
            split_stale_name(".out.partial-42"),
            Some(("out", Kind::Partial, 42))
        );
        assert_eq!(split_stale_name(".a.b.old-7"), Some(("a.b", Kind::Old, 7)));
        assert_eq!(split_stale_name("out.partial-42"), None);
        assert_eq!(split_stale_name(".out.partial-4x"), None);
        assert_eq!(split_stale_name(".out.tmp-42"), None);
        assert_eq!(split_stale_name("..partial-42"), None);
    }

    #[test]
    fn a_missing_out_dir_resolves_below_its_existing_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().canonicalize().unwrap();
        let p = tmp.path().join("a/./b/../c");
        assert_eq!(resolve(&p).unwrap(), real.join("a/c"));
    }
}
