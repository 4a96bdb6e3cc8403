//! Running a reference measurement in a Python with torch and transformers: the script reads
//! one JSON job on stdin and prints one JSON object. Used by `bench forward` and `bench
//! generate` to time transformers beside us on the same machine and thread count; a Python
//! without them is reported, never an error of the benchmark itself.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// Runs `script` with `python`, `job` on its stdin, and parses its stdout as JSON. Fails
/// (with a message saying so) when `python` cannot import torch and transformers.
pub fn run_json(python: &str, script: &str, job: &serde_json::Value) -> Result<serde_json::Value> {
    let probe = Command::new(python)
        .args(["-c", "import torch, transformers"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        anyhow::bail!("{python} has no torch and transformers");
    }
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {python}"))?;
    child
        .stdin
        .take()
        .context("stdin of the transformers run")?
        .write_all(job.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(out.status.success(), "the transformers run failed");
    serde_json::from_slice(&out.stdout)
        .with_context(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// "torch X, transformers Y" from the `torch` and `transformers` fields of a result.
pub fn versions(v: &serde_json::Value) -> String {
    format!("torch {}, transformers {}", v["torch"], v["transformers"]).replace('"', "")
}
