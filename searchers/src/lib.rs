//! Ask/tell searchers over a box `[lo, hi]^d`.
//!
//! Pure numerics: no candle, no I/O. The searchers (random/Sobol, CMA-ES, Bayesian
//! optimization, NSGA-II, ...) land with the search issue; this crate exists now so the
//! workspace has the shape the design card fixes.
#![warn(missing_docs)]
