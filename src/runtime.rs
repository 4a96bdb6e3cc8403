//! Process-wide runtime settings: the thread count of the merge kernels (rayon) and of
//! candle's CPU kernels, and the token budget of evaluation batches. Owned here, not by the CLI, so benchmarks and the CLI share it.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// `--max-batch-tokens` (0: derived per model, see [`crate::eval::budget`]).
static MAX_BATCH_TOKENS: AtomicUsize = AtomicUsize::new(0);

/// Models evaluated at once (`search --parallel`), which share the memory a derived token
/// budget is sized from.
static CONCURRENT_MODELS: AtomicUsize = AtomicUsize::new(1);

/// Says how many models will be evaluated at once, so that each derived token budget takes
/// its share of the free memory rather than half of all of it.
pub fn set_concurrent_models(n: usize) {
    CONCURRENT_MODELS.store(n.max(1), Ordering::Relaxed);
}

/// The count set by [`set_concurrent_models`] (1 unless set).
pub fn concurrent_models() -> usize {
    CONCURRENT_MODELS.load(Ordering::Relaxed).max(1)
}

/// Sets the token budget of every forward pass the evaluation harnesses make (`None`:
/// derived from each model's shape and the memory available).
pub fn set_max_batch_tokens(n: Option<usize>) {
    MAX_BATCH_TOKENS.store(n.unwrap_or(0), Ordering::Relaxed);
}

/// The token budget set by [`set_max_batch_tokens`], if any.
pub fn max_batch_tokens() -> Option<usize> {
    match MAX_BATCH_TOKENS.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Keeps the memory the process frees for its own next allocations instead of handing it
/// back to the system (glibc's allocator: no `mmap` for large blocks, no trimming below 2 GiB
/// of free heap). A search builds candidate after candidate of the same shapes: each one's
/// tensors then reuse the last one's pages instead of faulting in (and zeroing) fresh ones,
/// which cost about half of building a 271M-parameter candidate (README, `bench forward`).
/// Memory still goes back when the process ends; peak use is unchanged. Call once, first.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator tuning; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// Sets the global rayon pool size and candle's kernel threads to `n` (all cores when
/// `None`). Call before any other thread starts: candle reads `RAYON_NUM_THREADS` once.
pub fn set_threads(n: Option<usize>) -> Result<()> {
    if let Some(n) = n {
        // candle sizes its CPU kernels from RAYON_NUM_THREADS, read on first use: set it too
        // so `--threads` governs the forward pass as well.
        std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(|e| Error::model("thread pool", e))?;
    }
    Ok(())
}
