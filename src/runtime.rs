//! Process-wide runtime settings: the thread count of the merge kernels (rayon) and of
//! candle's CPU kernels. Owned here, not by the CLI, so benchmarks and the CLI share it.

use crate::error::{Error, Result};

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
