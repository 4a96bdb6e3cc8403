//! Ask/tell searchers over a box `[lo, hi]^d`, and multi-objective utilities.
//!
//! Pure numerics: no candle, no I/O. Every searcher solves a [`Problem`] (box, objectives with
//! directions, constraints) and implements [`Searcher`]: `ask(trial)` proposes the point for a
//! trial id, `tell(trial, outcome)` reports its objectives and constraint violations or a
//! failure, in any order (the ticket protocol of [`searcher`]). State is serde-serializable so
//! a study can snapshot a searcher, pending trials included, and resume it bit for bit.
//!
//! Gradient searchers (AdaMerging's projected [`Adam`]) implement the sibling trait
//! [`GradientSearcher`]: ask the current point, tell the loss and its gradient there; their
//! study-file section is [`AdaMergingConfig`].
#![warn(missing_docs)]

pub mod acquisition;
pub mod adamerging;
pub mod bo;
pub mod cmaes;
pub mod config;
pub mod efficiency;
pub mod ehvi;
pub mod functions;
mod generations;
pub mod gp;
pub mod gradient;
mod lbfgs;
pub mod normal;
pub mod nsga2;
pub mod pareto;
pub mod problem;
mod qmc;
pub mod random;
mod rng;
pub mod searcher;
pub mod testbed;
mod tickets;

pub use adamerging::{AdaMergingConfig, GradientObjective, Granularity};
pub use cmaes::{CmaEs, CmaEsOptions};
pub use config::{build, AnySearcher, SearcherConfig};
pub use gradient::{Adam, AdamOptions, GradientSearcher};
pub use nsga2::Nsga2;
pub use problem::{Problem, Sense, PENALTY};
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
    /// A problem description that does not fit together (names the field).
    #[error("bad problem: {0}")]
    Problem(String),
    /// `ask` for a trial id that was asked before.
    #[error("trial {0} was already asked")]
    AlreadyAsked(u64),
    /// `tell` for a trial id that was never asked.
    #[error("trial {0} was never asked")]
    UnknownTrial(u64),
    /// `tell` for a trial id that was already told.
    #[error("trial {0} was already told")]
    AlreadyTold(u64),
    /// A gradient tell that cannot be used (wrong length, non-finite loss or entry).
    #[error("bad gradient tell: {0}")]
    Gradient(String),
}
