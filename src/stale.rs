//! What killed processes leave behind: files and directories whose names carry the PID of
//! the writer (`.NAME.tmp-PID`, `.NAME.partial-PID`, `mergesearch-eval-PID-*`). One PID
//! parser, one liveness test and one directory scan serve every sweep, so each caller only
//! says how its names carry the PID and what to do with a leftover.

use std::fs::DirEntry;
use std::path::Path;

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

/// Entries of `dir` (an empty path means the current directory) whose name `pid_of` reads a
/// PID from, and whose process is gone. Best effort: an unreadable directory has none.
pub fn dead_entries(dir: &Path, pid_of: impl Fn(&str) -> Option<u32>) -> Vec<DirEntry> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(&pid_of)
                .is_some_and(process_is_gone)
        })
        .collect()
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
