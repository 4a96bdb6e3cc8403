//! Streaming safetensors writer: shards of bounded size, headers computed up front from the
//! planned shapes, data written tensor by tensor, everything in a temporary directory that is
//! renamed into place only by [`CheckpointWriter::finish`].

use std::path::{Path, PathBuf};

use super::dtype::DType;
use super::sink::Sink;
use crate::error::{Error, Result};

/// A tensor the writer will receive, in order.
#[derive(Debug, Clone)]
pub struct PlannedTensor {
    /// Output name.
    pub name: String,
    /// Output dtype.
    pub dtype: DType,
    /// Output shape.
    pub shape: Vec<usize>,
}

impl PlannedTensor {
    /// Size of the data in bytes.
    pub fn nbytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.size()
    }
}

struct ShardPlan {
    file_name: String,
    tensors: Vec<usize>,
}

/// Writes a checkpoint directory atomically: nothing appears at the final path until
/// [`finish`](Self::finish) succeeds.
pub struct CheckpointWriter {
    final_dir: PathBuf,
    tmp_dir: PathBuf,
    planned: Vec<PlannedTensor>,
    shards: Vec<ShardPlan>,
    next: usize,
    shard_idx: usize,
    current: Option<Sink>,
    bytes_written: u64,
}

impl CheckpointWriter {
    /// Plans shards of at most `max_shard_bytes` (a single tensor larger than that gets a
    /// shard of its own) and creates the temporary directory next to `out_dir`.
    pub fn create(
        out_dir: &Path,
        planned: Vec<PlannedTensor>,
        max_shard_bytes: u64,
    ) -> Result<Self> {
        let mut groups: Vec<Vec<usize>> = vec![];
        let mut cur: Vec<usize> = vec![];
        let mut cur_bytes = 0u64;
        for (i, t) in planned.iter().enumerate() {
            let b = t.nbytes() as u64;
            if !cur.is_empty() && cur_bytes + b > max_shard_bytes {
                groups.push(std::mem::take(&mut cur));
                cur_bytes = 0;
            }
            cur.push(i);
            cur_bytes += b;
        }
        if !cur.is_empty() || groups.is_empty() {
            groups.push(cur);
        }
        let n = groups.len();
        let shards = groups
            .into_iter()
            .enumerate()
            .map(|(i, tensors)| ShardPlan {
                file_name: if n == 1 {
                    "model.safetensors".to_string()
                } else {
                    format!("model-{:05}-of-{:05}.safetensors", i + 1, n)
                },
                tensors,
            })
            .collect();
        let final_dir = out_dir.to_path_buf();
        if final_dir.exists() && !final_dir.is_dir() {
            return Err(Error::checkpoint(
                &final_dir,
                "the output path exists and is not a directory; choose another OUT_DIR",
            ));
        }
        let name = final_dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp_dir = final_dir.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        if let Some(parent) = final_dir.parent() {
            super::guard::sweep_stale(parent);
        }
        if tmp_dir.exists() {
            std::fs::remove_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        }
        std::fs::create_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        Ok(CheckpointWriter {
            final_dir,
            tmp_dir,
            planned,
            shards,
            next: 0,
            shard_idx: 0,
            current: None,
            bytes_written: 0,
        })
    }

    /// The temporary directory, for side files (config.json, tokenizer, merge config).
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp_dir
    }

    /// Number of shards planned.
    pub fn num_shards(&self) -> usize {
        self.shards.len()
    }

    /// Tensor bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Writes the next planned tensor. Tensors must arrive in planned order.
    pub fn write_tensor(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let Some(t) = self.planned.get(self.next) else {
            return Err(Error::merge(
                name,
                "writer received more tensors than planned",
            ));
        };
        if t.name != name || t.nbytes() != data.len() {
            return Err(Error::merge(
                name,
                format!(
                    "writer expected tensor {} ({} bytes), got {} ({} bytes)",
                    t.name,
                    t.nbytes(),
                    name,
                    data.len()
                ),
            ));
        }
        if self.current.is_none() {
            self.open_shard()?;
        }
        let path = self.tmp_dir.join(&self.shards[self.shard_idx].file_name);
        let w = self.current.as_mut().expect("shard opened above");
        w.write_all(data).map_err(|e| Error::io(&path, e))?;
        self.bytes_written += data.len() as u64;
        self.next += 1;
        if self.shards[self.shard_idx].tensors.last() == Some(&(self.next - 1)) {
            self.close_shard()?;
            self.shard_idx += 1;
        }
        Ok(())
    }

    fn open_shard(&mut self) -> Result<()> {
        let shard = &self.shards[self.shard_idx];
        let path = self.tmp_dir.join(&shard.file_name);
        let header = shard_header(&self.planned, &shard.tensors);
        let mut w = Sink::create(&path).map_err(|e| Error::io(&path, e))?;
        w.write_all(&(header.len() as u64).to_le_bytes())
            .and_then(|_| w.write_all(&header))
            .map_err(|e| Error::io(&path, e))?;
        self.current = Some(w);
        Ok(())
    }

    fn close_shard(&mut self) -> Result<()> {
        let path = self.tmp_dir.join(&self.shards[self.shard_idx].file_name);
        if let Some(w) = self.current.take() {
            // No fsync: atomicity comes from the final directory rename (as in mergekit,
            // durability against power loss is left to the OS).
            w.finish().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Writes the index (when sharded), syncs, and renames the temporary directory to the
    /// final path. An existing directory at the final path is replaced only at this point.
    pub fn finish(mut self) -> Result<PathBuf> {
        if self.next != self.planned.len() {
            return Err(Error::merge(
                self.planned[self.next].name.clone(),
                "writer finished before every planned tensor was written",
            ));
        }
        // A checkpoint with no tensors still gets its (empty) file.
        if self.planned.is_empty() {
            self.open_shard()?;
            self.close_shard()?;
        }
        if self.shards.len() > 1 {
            let mut weight_map = serde_json::Map::new();
            for s in &self.shards {
                for &i in &s.tensors {
                    weight_map.insert(
                        self.planned[i].name.clone(),
                        serde_json::Value::String(s.file_name.clone()),
                    );
                }
            }
            let total: usize = self.planned.iter().map(|t| t.nbytes()).sum();
            let index = serde_json::json!({
                "metadata": {"total_size": total, "mergesearch_version": env!("CARGO_PKG_VERSION")},
                "weight_map": weight_map,
            });
            let p = self.tmp_dir.join("model.safetensors.index.json");
            let text = serde_json::to_string_pretty(&index).expect("json value serializes");
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        }
        replace_dir(&self.tmp_dir, &self.final_dir)?;
        Ok(self.final_dir.clone())
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        // An unfinished merge leaves nothing that looks like a checkpoint.
        if self.tmp_dir.exists() {
            let _ = std::fs::remove_dir_all(&self.tmp_dir);
        }
    }
}

/// Moves `tmp` to `dst`, replacing an existing `dst` only once `tmp` is complete.
///
/// An existing `dst` is swapped with `tmp` in one `renameat2(RENAME_EXCHANGE)` where the
/// filesystem supports it, so that `dst` always exists (a kill leaves the old tree under the
/// temporary name, which the next run sweeps). Elsewhere `dst` is first moved aside to
/// `.NAME.old-PID` (which [`super::guard::sweep_stale`] moves back if the run is killed
/// before the second rename). The old tree is removed last.
pub fn replace_dir(tmp: &Path, dst: &Path) -> Result<()> {
    if let Some(parent) = dst.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
    }
    if std::fs::symlink_metadata(dst).is_err() {
        return std::fs::rename(tmp, dst).map_err(|e| Error::io(dst, e));
    }
    let old = match exchange(tmp, dst) {
        Ok(()) => tmp.to_path_buf(),
        Err(e) if exchange_unsupported(&e) => {
            let old = dst.with_file_name(format!(
                ".{}.old-{}",
                dst.file_name().unwrap_or_default().to_string_lossy(),
                std::process::id()
            ));
            std::fs::rename(dst, &old).map_err(|e| Error::io(dst, e))?;
            if let Err(e) = std::fs::rename(tmp, dst) {
                // Put the previous output back rather than leave it under a hidden name.
                let _ = std::fs::rename(&old, dst);
                return Err(Error::io(dst, e));
            }
            old
        }
        Err(e) => return Err(Error::io(dst, e)),
    };
    let removed = if old.is_dir() {
        std::fs::remove_dir_all(&old)
    } else {
        std::fs::remove_file(&old)
    };
    removed.map_err(|e| Error::io(&old, e))
}

/// Atomically swaps the two paths (`renameat2(..., RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (cstr(a)?, cstr(b)?);
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call; the
    // syscall reads them and touches no other memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Errors that mean "this kernel or filesystem cannot exchange", not "this rename is wrong".
fn exchange_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) | Some(libc::EPERM)
    )
}

/// The JSON header of one shard, padded with spaces to a multiple of 8 bytes.
fn shard_header(planned: &[PlannedTensor], idx: &[usize]) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    map.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut off = 0usize;
    for &i in idx {
        let t = &planned[i];
        let end = off + t.nbytes();
        map.insert(
            t.name.clone(),
            serde_json::json!({
                "dtype": t.dtype.safetensors_name(),
                "shape": t.shape,
                "data_offsets": [off, end],
            }),
        );
        off = end;
    }
    let mut bytes = serde_json::to_vec(&serde_json::Value::Object(map)).expect("json serializes");
    while bytes.len() % 8 != 0 {
        bytes.push(b' ');
    }
    bytes
}
