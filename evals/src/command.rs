//! An external evaluation command run on a model directory.
//!
//! The command template has `{model_dir}` replaced by the (shell-quoted) directory and runs
//! under `sh -c` in its own process group. It must print a JSON object of numbers on stdout —
//! either the whole of stdout, or its last non-blank line (so the command may log before it).
//! Each key becomes a metric; its direction comes from the configuration (maximize when not
//! given). A non-zero exit, a timeout (the whole process group is killed), more than
//! [`STDOUT_CAP`] bytes on stdout, or output that is not such an object is an error naming the
//! command.
//!
//! The command never outlives us. It runs under a small supervising `sh` that leads the
//! process group and gets SIGTERM when our thread dies (`PR_SET_PDEATHSIG`, Linux), even by
//! SIGKILL; its trap then SIGKILLs the whole group, grandchildren included (a parent-death
//! signal reaches only the one process it is set on, so SIGKILL on `sh` alone would orphan
//! what the command started).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Direction, EvalError, Metrics};

/// How often a running command is polled for exit.
const POLL: Duration = Duration::from_millis(5);

/// Most bytes of stdout read from a command (16 MiB); a command printing more is killed.
pub const STDOUT_CAP: usize = 16 << 20;

/// Bytes of stderr kept for error messages (the end of it; the rest is read and dropped).
const STDERR_KEEP: usize = 64 << 10;

/// The supervisor: runs the command (`$1`) in the background and waits; SIGTERM (the
/// parent-death signal) kills the whole process group. Its exit status is the command's.
const SUPERVISOR: &str = "trap 'kill -KILL 0' TERM; sh -c \"$1\" & wait $!";

/// Runs a shell command on a model directory and reads its metrics from stdout.
#[derive(Debug, Clone)]
pub struct CommandHarness {
    name: String,
    template: String,
    timeout: Duration,
    directions: BTreeMap<String, Direction>,
}

impl CommandHarness {
    /// A harness running `template` (with `{model_dir}` placeholders), killed after `timeout`.
    pub fn new(name: impl Into<String>, template: impl Into<String>, timeout: Duration) -> Self {
        Self {
            name: name.into(),
            template: template.into(),
            timeout,
            directions: BTreeMap::new(),
        }
    }

    /// Directions of named metrics; metrics not listed are maximized.
    pub fn with_directions(mut self, directions: BTreeMap<String, Direction>) -> Self {
        self.directions = directions;
        self
    }

    /// The declared direction of each metric (undeclared metrics are maximized).
    pub fn directions(&self) -> &BTreeMap<String, Direction> {
        &self.directions
    }

    /// The metric prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command line for `model_dir`.
    pub fn command_line(&self, model_dir: &Path) -> String {
        self.template
            .replace("{model_dir}", &shell_quote(&model_dir.to_string_lossy()))
    }

    /// Runs the command on `model_dir` and parses its metrics.
    pub fn evaluate_dir(&self, model_dir: &Path) -> Result<Metrics, EvalError> {
        let command = self.command_line(model_dir);
        let fail = |message: String| EvalError::Command {
            command: command.clone(),
            message,
        };
        let parent = std::process::id();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(SUPERVISOR)
            .arg("mergesearch-harness")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || die_with_parent(parent));
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot start `sh`: {e}")))?;
        let overflow = Arc::new(AtomicBool::new(false));
        let stdout = drain_capped(child.stdout.take(), child.id(), Arc::clone(&overflow));
        let stderr = drain_tail(child.stderr.take());
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() >= self.timeout => {
                    kill_group(child.id());
                    let _ = child.wait();
                    return Err(fail(format!(
                        "timed out after {:.1} s (killed)",
                        self.timeout.as_secs_f64()
                    )));
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(e) => {
                    kill_group(child.id());
                    let _ = child.wait();
                    return Err(fail(format!("cannot wait for the command: {e}")));
                }
            }
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if overflow.load(Ordering::SeqCst) {
            return Err(fail(format!(
                "harness {}: stdout passed the cap of {} MiB (killed); print only the JSON \
                 metrics on stdout and send logs to stderr or a file",
                self.name,
                STDOUT_CAP >> 20
            )));
        }
        if !status.success() {
            return Err(fail(format!("{status}; stderr: {}", tail(&stderr))));
        }
        self.parse(&stdout).map_err(fail)
    }

    /// Metrics from the command's stdout.
    fn parse(&self, stdout: &str) -> Result<Metrics, String> {
        let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
        let object = serde_json::from_str::<serde_json::Value>(stdout.trim())
            .ok()
            .or_else(|| last.and_then(|l| serde_json::from_str(l).ok()))
            .and_then(|v| match v {
                serde_json::Value::Object(map) => Some(map),
                _ => None,
            })
            .ok_or_else(|| format!("stdout is not a JSON object of numbers: {:?}", tail(stdout)))?;
        let mut m = Metrics::new();
        for (key, value) in object {
            let value = value
                .as_f64()
                .ok_or_else(|| format!("metric {key:?} is {value}, not a number"))?;
            let direction = self
                .directions
                .get(&key)
                .copied()
                .unwrap_or(Direction::Maximize);
            m.push(key, value, direction);
        }
        Ok(m)
    }
}

/// `s` in single quotes, safe to paste into a `sh` command line.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// In the child before exec: ask for SIGTERM when the thread that spawned us dies, and give
/// up if our parent is already gone (it died before the request took effect).
fn die_with_parent(parent: u32) -> std::io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid are async-signal-safe and touch no memory.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGTERM as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        if u32::try_from(libc::getppid()).ok() != Some(parent) {
            return Err(std::io::Error::other("the parent process exited"));
        }
    }
    Ok(())
}

/// Reads stdout on a thread (so a chatty command cannot fill the pipe and block), keeping at
/// most [`STDOUT_CAP`] bytes; past that it sets `overflow` and kills the group of `pid`.
fn drain_capped<R: Read + Send + 'static>(
    pipe: Option<R>,
    pid: u32,
    overflow: Arc<AtomicBool>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = pipe {
            let _ = p.take(STDOUT_CAP as u64 + 1).read_to_end(&mut buf);
        }
        if buf.len() > STDOUT_CAP {
            overflow.store(true, Ordering::SeqCst);
            kill_group(pid);
            buf.clear();
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Reads stderr to its end on a thread, keeping its last [`STDERR_KEEP`] bytes.
fn drain_tail<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        if let Some(mut p) = pipe {
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                match p.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        kept.extend_from_slice(&chunk[..n]);
                        if kept.len() > 2 * STDERR_KEEP {
                            kept.drain(..kept.len() - STDERR_KEEP);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Sends SIGKILL to the process group led by `pid` (the command and everything it started).
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid only signals that process group; no memory is
        // touched. The group was created for this child by `process_group(0)`.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The last 500 characters of `s`, for error messages.
fn tail(s: &str) -> &str {
    let s = s.trim();
    let mut start = s.len().saturating_sub(500);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
