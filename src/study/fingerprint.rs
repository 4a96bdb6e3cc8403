//! The fingerprint of a study's eval suite: the suite file and every data file it reads,
//! each hashed (FNV-1a over the bytes). Stored when the study is created; `--resume` refuses
//! a suite whose fingerprint changed, naming the file, so one front never mixes trials
//! scored under different suites.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mergesearch_evals::suite::RawHarness;
use mergesearch_evals::Suite;

use crate::error::{Error, Result};
use crate::hash::fnv1a64;

/// File path (as the study reads it) → hash of its bytes, as 16 hex digits.
pub type Fingerprint = BTreeMap<String, String>;

/// The files a suite reads: the suite file, then each harness's search and held-out data
/// (`suite` is the file at `suite_path`, parsed).
pub fn suite_files(suite_path: &Path, suite: &Suite) -> Vec<PathBuf> {
    let base = suite_path.parent().unwrap_or(Path::new(""));
    let mut files = vec![suite_path.to_path_buf()];
    for h in &suite.raw().harnesses {
        let data = match h {
            RawHarness::Perplexity { data, .. }
            | RawHarness::MultipleChoice { data, .. }
            | RawHarness::ExactMatch { data, .. }
            | RawHarness::Entropy { data, .. } => data,
            RawHarness::Command { .. } => continue,
        };
        files.push(base.join(&data.search));
        files.push(base.join(&data.heldout));
    }
    files.dedup();
    files
}

/// Hashes every file the suite at `suite_path` (parsed: `suite`) reads.
pub fn fingerprint(suite_path: &Path, suite: &Suite) -> Result<Fingerprint> {
    let mut out = Fingerprint::new();
    for f in suite_files(suite_path, suite) {
        let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
        out.insert(f.display().to_string(), format!("{:016x}", fnv1a64(&bytes)));
    }
    Ok(out)
}

/// What changed from `stored` to `now`: one line per file added, removed or modified.
pub fn changes(stored: &Fingerprint, now: &Fingerprint) -> Vec<String> {
    let mut out = Vec::new();
    for (f, h) in now {
        match stored.get(f) {
            None => out.push(format!("{f} is new to the suite")),
            Some(old) if old != h => out.push(format!("{f} changed")),
            Some(_) => {}
        }
    }
    for f in stored.keys().filter(|f| !now.contains_key(*f)) {
        out.push(format!("{f} is no longer read"));
    }
    out
}
