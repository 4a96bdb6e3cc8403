//! The exclusive lock a running study holds on its directory, so a second process cannot
//! run the same study at once (it would re-run the first one's running trial and overwrite
//! its results).
//!
//! `flock(2)` on `study.lock`: the kernel releases it when the holder exits for any reason,
//! SIGKILL included, so a crash never leaves a stale lock. The file holds the holder's pid and
//! host name, only to tell a second process who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Error, Result};

/// File name of the lock inside a study directory.
pub const LOCK_FILE: &str = "study.lock";

/// A held study lock; released on drop (or when the process dies).
#[derive(Debug)]
pub struct StudyLock {
    _file: File,
}

impl StudyLock {
    /// Takes the lock of study directory `dir`, or fails at once naming the holder.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::study(
                    dir,
                    format!(
                        "another process is running this study ({}); wait for it to finish or stop it first",
                        if holder.is_empty() { "holder unknown".to_string() } else { holder.to_string() }
                    ),
                ));
            }
            return Err(Error::io(&path, err));
        }
        let me = format!("pid {} on {}", std::process::id(), hostname());
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        file.rewind().map_err(|e| Error::io(&path, e))?;
        file.write_all(me.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        Ok(Self { _file: file })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this host".into())
}
