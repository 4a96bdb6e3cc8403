//! mergesearch: search for model-merge recipes.
//!
//! This crate holds checkpoint I/O ([`checkpoint`]), mergekit-compatible merge methods and
//! the merge engine ([`merge`]), lazy merge candidates served to candle ([`candidate`]), the
//! llama-family forward pass ([`models`]), its adapters to the eval harnesses ([`eval`]), the
//! benchmark harness ([`bench`]), studies ([`study`]) and runtime settings ([`runtime`]). The
//! command-line interface lives in the binary (`src/cli/`), one file per command.
#![warn(missing_docs)]

pub mod adamerging;
pub mod atomic;
pub mod bench;
pub mod candidate;
pub mod checkpoint;
pub mod error;
pub mod eval;
pub mod hash;
pub mod merge;
pub mod models;
pub mod report;
pub mod runtime;
pub mod space;
pub mod stale;
pub mod study;
pub mod zoo;

pub use error::{Error, Result};
