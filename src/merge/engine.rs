//! Executes a [`Plan`]: one output tensor at a time, inputs viewed straight from the memory
//! maps, merged by the method's kernel, streamed to the shard writer.

use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use super::inputs::{SourceView, TensorInputs};
use super::job::TensorJob;
use super::plan::Plan;
use super::registry::MergeOptions;
use crate::checkpoint::CheckpointWriter;
use crate::error::{Error, Result};

/// Tokenizer and generation files copied next to the merged weights when present.
pub const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
    "generation_config.json",
];

/// What a finished merge did.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeSummary {
    /// Output tensors written.
    pub tensors: usize,
    /// Input bytes read from the checkpoints.
    pub bytes_read: u64,
    /// Tensor bytes written.
    pub bytes_written: u64,
    /// Output shards.
    pub shards: usize,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Time spent in the merge kernels (the writer overlaps with it).
    pub kernel_seconds: f64,
    /// Time the writer thread spent writing shards.
    pub write_seconds: f64,
}

/// Views of one job's inputs inside the plan's memory maps.
pub fn job_inputs<'a>(plan: &'a Plan, job: &TensorJob) -> TensorInputs<'a> {
    let cols = *job.shape.last().unwrap_or(&1);
    let views = job
        .sources
        .iter()
        .map(|s| {
            let m = &plan.models[s.model];
            let meta = m
                .meta(&s.tensor)
                .expect("plan checked every input tensor exists");
            let src_cols = *meta.shape.last().unwrap_or(&1);
            SourceView {
                bytes: m.bytes(meta),
                dtype: meta.dtype,
                src_cols: if job.shape.len() >= 2 { src_cols } else { cols },
                cols,
                exact: false,
                id: Some(crate::hash::fnv1a64_extend(m.uid, s.tensor.as_bytes())),
            }
        })
        .collect();
    TensorInputs::new(views, &job.shape, job.load_dtype)
}

/// Runs the whole plan into `out_dir` (atomically), calling `progress(done, total, name)`
/// after each tensor.
///
/// Merging and writing overlap: a writer thread streams tensor `i` to disk while the
/// kernels compute tensor `i + 1`. Two output buffers circulate between them, each grown
/// to the largest tensor and reused, so peak memory is two output tensors plus the inputs'
/// mapped pages, and no buffer is page-faulted anew per tensor.
pub fn run(
    plan: &Plan,
    out_dir: &Path,
    opts: &MergeOptions,
    max_shard_bytes: u64,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<MergeSummary> {
    let start = Instant::now();
    check_out_dir(plan, out_dir)?;
    let mut writer = CheckpointWriter::create(out_dir, plan.planned_tensors(), max_shard_bytes)?;
    let mut bytes_read = 0u64;
    let profile = std::env::var_os("MERGESEARCH_PROFILE").is_some();
    let mut kernel_secs = 0f64;
    let mut write_secs_out = 0f64;
    let writer = std::thread::scope(|scope| -> Result<CheckpointWriter> {
        let (full_tx, full_rx) = mpsc::sync_channel::<(usize, usize, Vec<u8>)>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let handle = scope.spawn(move || -> Result<(CheckpointWriter, f64)> {
            let mut busy = 0f64;
            for (i, n, buf) in full_rx {
                let t0 = Instant::now();
                writer.write_tensor(&plan.jobs[i].name, &buf[..n])?;
                busy += t0.elapsed().as_secs_f64();
                // The merging side may already be done; a closed channel is fine.
                let _ = empty_tx.send(buf);
            }
            Ok((writer, busy))
        });
        let mut spare = vec![Vec::new(), Vec::new()];
        let mut failure = None;
        for (i, job) in plan.jobs.iter().enumerate() {
            let inputs = job_inputs(plan, job);
            bytes_read += inputs.bytes_read() as u64;
            let n = job.numel() * job.out_dtype.size();
            let Some(mut buf) = spare.pop().or_else(|| empty_rx.recv().ok()) else {
                break; // the writer stopped: its error is reported below
            };
            if buf.len() < n {
                buf.resize(n, 0);
            }
            let t0 = Instant::now();
            if let Err(e) = (plan.method.kernel)(job, &inputs, opts, &mut buf[..n]) {
                failure = Some(e);
                break;
            }
            kernel_secs += t0.elapsed().as_secs_f64();
            if full_tx.send((i, n, buf)).is_err() {
                break;
            }
            progress(i + 1, plan.jobs.len(), &job.name);
        }
        drop(full_tx);
        let joined = handle.join().expect("writer thread does not panic");
        if let Some(e) = failure {
            return Err(e);
        }
        let (writer, write_secs) = joined?;
        write_secs_out = write_secs;
        if profile {
            eprintln!("profile: kernels {kernel_secs:.3} s, writer busy {write_secs:.3} s");
        }
        Ok(writer)
    })?;
    write_side_files(plan, writer.tmp_dir())?;
    let summary = MergeSummary {
        tensors: plan.jobs.len(),
        bytes_read,
        bytes_written: writer.bytes_written(),
        shards: writer.num_shards(),
        seconds: 0.0,
        kernel_seconds: kernel_secs,
        write_seconds: write_secs_out,
    };
    writer.finish()?;
    Ok(MergeSummary {
        seconds: start.elapsed().as_secs_f64(),
        ..summary
    })
}

/// Refuses an output directory that would replace or sit inside a study, an input model or
/// the current directory (e.g. `merge cfg.yaml .`, `export results/demo ... results/demo`),
/// before any work: see [`crate::checkpoint::guard_out_dir`].
fn check_out_dir(plan: &Plan, out_dir: &Path) -> Result<()> {
    let inputs: Vec<&Path> = plan.models.iter().map(|m| m.path.as_path()).collect();
    crate::checkpoint::guard_out_dir(out_dir, &inputs)
}

/// config.json (layer count and dtype updated), tokenizer files, and the merge config.
fn write_side_files(plan: &Plan, dir: &Path) -> Result<()> {
    let config = plan.output_config();
    let p = dir.join("config.json");
    let text = serde_json::to_string_pretty(&config).expect("json value serializes");
    std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    let tok = &plan.models[plan.tokenizer_model];
    for f in TOKENIZER_FILES {
        let from = tok.path.join(f);
        if from.exists() {
            let to = dir.join(f);
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
        }
    }
    let p = dir.join("mergekit_config.yml");
    std::fs::write(&p, plan.config.to_yaml()).map_err(|e| Error::io(&p, e))?;
    Ok(())
}
