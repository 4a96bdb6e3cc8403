//! One merge method per file; [`crate::merge::registry`] is the table that names them.

pub mod arcee_fusion;
pub mod common;
pub mod karcher;
pub mod linear;
pub mod model_stock;
pub mod multislerp;
pub mod nearswap;
pub mod nuslerp;
pub mod passthrough;
pub mod ram;
pub mod sce;
pub mod slerp;
pub mod task_arithmetic;
