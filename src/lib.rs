//! mergesearch: search for model-merge recipes.
//!
//! This crate holds checkpoint I/O ([`checkpoint`]), mergekit-compatible merge methods and
//! the merge engine ([`merge`]), the benchmark harness ([`bench`]) and the CLI ([`cli`]).
#![warn(missing_docs)]

pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod error;
pub mod merge;

pub use error::{Error, Result};
