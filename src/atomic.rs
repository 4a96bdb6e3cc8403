//! Atomic file replacement: a reader (or a crash) sees either the old file or the new one,
//! never half of either.
//!
//! The temporary file is `.NAME.tmp-PID` beside the target. It is removed when writing or
//! renaming fails; one left by a killed process (its PID no longer exists) is removed by the
//! next write of the same file.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path`.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true)
}

/// Like [`write`] without the fsync, for views that can be rebuilt from durable data (a
/// study's CSVs, rewritten after every trial from its database).
pub fn write_view(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.tmp-");
    let tmp = path.with_file_name(format!("{prefix}{}", std::process::id()));
    if let Some(dir) = path.parent() {
        remove_stale(dir, &prefix);
    }
    let written = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        if sync {
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if written.is_err() {
        // A full disk or an unwritable target must not leave a hidden half-file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Removes the files `PREFIX<pid>` in `dir` whose process no longer exists (temporary files
/// of killed writers of the same target). Best effort: errors are ignored.
fn remove_stale(dir: &Path, prefix: &str) {
    let dead = crate::stale::dead_entries(dir, |n| {
        n.strip_prefix(prefix).and_then(crate::stale::parse_pid)
    });
    for e in dead {
        if e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
