//! Hugging Face safetensors checkpoints: memory-mapped reading, dtypes, streaming writing.

pub mod dtype;
pub mod guard;
pub mod model_dir;
pub mod names;
pub mod sink;
pub mod writer;

pub use dtype::DType;
pub use guard::{guard_out_dir, sweep_stale};
pub use model_dir::{ModelDir, TensorMeta};
pub use writer::{CheckpointWriter, PlannedTensor};
