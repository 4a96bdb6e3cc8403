//! An external evaluation command run on a model directory.
//!
//! The command template has `{model_dir}` replaced by the (shell-quoted) directory and runs
//! under `sh -c` in its own process group. It must print a JSON object of numbers on stdout —
//! either the whole of stdout, or its last non-blank line (so the command may log before it).
//! Each key becomes a metric; its direction comes from the configuration (maximize when not
//! given). A non-zero exit, a timeout (the whole process group is killed) or output that is
//! not such an object is an error naming the command.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Direction, EvalError, Metrics};

/// How often a running command is polled for exit.
const POLL: Duration = Duration::from_millis(5);

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
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| fail(format!("cannot start `sh`: {e}")))?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
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
                Err(e) => return Err(fail(format!("cannot wait for the command: {e}"))),
            }
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
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

/// Reads a pipe to its end on a thread (so a chatty command cannot fill the pipe and block).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
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
