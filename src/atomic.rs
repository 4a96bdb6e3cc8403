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
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(parse_pid)
        else {
            continue;
        };
        if process_is_gone(pid) && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Parses a process id written in decimal by this crate (no sign, no leading `+`, fits a
/// `pid_t`, not 0).
pub fn parse_pid(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = s.parse().ok()?;
    (pid > 0 && libc::pid_t::try_from(pid).is_ok()).then_some(pid)
}

/// Whether no process with id `pid` exists (`kill(pid, 0)` fails with `ESRCH`). A process
/// we may not signal (`EPERM`) exists; so does a zombie.
pub fn process_is_gone(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission checks; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_parse_only_from_plain_decimal() {
        assert_eq!(parse_pid("123"), Some(123));
        assert_eq!(parse_pid("0"), None);
        assert_eq!(parse_pid("+1"), None);
        assert_eq!(parse_pid("12a"), None);
        assert_eq!(parse_pid(""), None);
        assert_eq!(parse_pid("99999999999"), None);
    }

    #[test]
    fn this_process_is_not_gone() {
        assert!(!process_is_gone(std::process::id()));
    }
}
