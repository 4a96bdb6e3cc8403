//! Ask/tell searchers over a box `[lo, hi]^d`, and multi-objective utilities.
//!
//! Pure numerics: no candle, no I/O. Every searcher implements [`Searcher`]: `ask` proposes
//! points, `tell` reports their (minimized) objectives or a failure. State is serde-
//! serializable so a study can snapshot a searcher and resume it bit for bit.
#![warn(missing_docs)]

pub mod cmaes;
pub mod config;
pub mod functions;
pub mod nsga2;
pub mod pareto;
pub mod random;
mod rng;
pub mod searcher;

pub use cmaes::{CmaEs, CmaEsOptions};
pub use config::{build, AnySearcher, SearcherConfig};
pub use nsga2::Nsga2;
pub use random::{RandomSearch, Sampler};
pub use searcher::{Bounds, Outcome, Searcher};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A box that is not a box.
    #[error("bad bounds: {0}")]
    Bounds(String),
    /// A searcher configuration that cannot work (names the field).
    #[error("bad searcher config: {0}")]
    Config(String),
}
