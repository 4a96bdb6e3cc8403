//! Bayesian optimization: a GP surrogate of the target, and the next point where an
//! acquisition function of the surrogate is largest.
//!
//! Three searchers share this module:
//!
//! - [`Bo`] (`type: bo`): one target, the problem's scalar view `Σ wᵢ · minimizedᵢ`; log EI
//!   (default) or UCB; constraints modelled by one GP each, entering as the probability of
//!   feasibility.
//! - [`Bo::parego`] (`type: parego`): several objectives through random augmented-Chebyshev
//!   scalarizations, one per proposal (Knowles 2006).
//! - [`Ehvi`] (`type: ehvi`): several objectives through one GP each and the expected
//!   hypervolume improvement (exact for two objectives, quasi-Monte Carlo beyond).
//!
//! Common to all (see [`archive`] and [`model`]): inputs live in the unit cube; the first
//! [`BoOptions::n_init`] asks are scrambled Sobol points; failed trials are imputed as the
//! worst observed value; pending trials are handled by the kriging believer or a constant
//! liar ([`Pending`]), so parallel workers get distinct points; a proposal maximizes the
//! acquisition over quasi-random candidates plus perturbations of the best observations,
//! polished by L-BFGS ([`crate::acquisition::maximize`]); in more than
//! [`TRUST_REGION_FROM`] dimensions the search runs inside a TuRBO trust region
//! ([`TrustRegionMode`]). Every random draw comes from the searcher's seeded generator and the
//! last fitted hyperparameters are part of the state, so a snapshot resumes bit for bit.
//!
//! ## References
//!
//! - J. Snoek, H. Larochelle, R. P. Adams, "Practical Bayesian Optimization of Machine
//!   Learning Algorithms", NeurIPS 2012 (Matérn-5/2 GP + EI).
//! - D. Ginsbourger, R. Le Riche, L. Carraro, "Kriging is well-suited to parallelize
//!   optimization", in Computational Intelligence in Expensive Optimization Problems, 2010.
//! - D. Eriksson et al., "Scalable Global Optimization via Local Bayesian Optimization",
//!   NeurIPS 2019 (TuRBO).

pub(crate) mod archive;
pub mod config;
mod ehvi;
pub(crate) mod model;
mod single;
pub(crate) mod turbo;

use serde::{Deserialize, Serialize};

pub use config::BoConfig;
pub use ehvi::Ehvi;
pub use model::{Kind, Pending};
pub use single::Bo;

use crate::SearchError;

/// Above this many dimensions, `trust_region: auto` runs TuRBO.
pub const TRUST_REGION_FROM: usize = 20;

/// Whether the search runs inside a TuRBO trust region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRegionMode {
    /// TuRBO above [`TRUST_REGION_FROM`] dimensions, global BO below.
    #[default]
    Auto,
    /// Always TuRBO.
    On,
    /// Never: one global model.
    Off,
}

impl TrustRegionMode {
    /// Whether `d` dimensions run in a trust region.
    pub fn active(self, d: usize) -> bool {
        match self {
            TrustRegionMode::Auto => d > TRUST_REGION_FROM,
            TrustRegionMode::On => true,
            TrustRegionMode::Off => false,
        }
    }
}

/// Options shared by the Bayesian searchers (`bo`, `parego`, `ehvi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoOptions {
    /// Size of the Sobol initial design (default [`default_n_init`]).
    pub n_init: usize,
    /// Pending-trial strategy.
    pub pending: Pending,
    /// Trust-region mode.
    pub trust_region: TrustRegionMode,
    /// Quasi-random candidates scored per proposal (default 1024).
    pub candidates: usize,
}

/// Default initial design: `min(10, 2d)` points (the default; Optuna's GPSampler
/// uses 10 random startup trials).
pub fn default_n_init(d: usize) -> usize {
    (2 * d).min(10)
}

/// Most quasi-random candidates per proposal (the time of one ask grows linearly with it).
pub const MAX_CANDIDATES: usize = 1 << 16;

impl BoOptions {
    /// Defaults for dimension `d`.
    pub fn new(d: usize) -> Self {
        Self {
            n_init: default_n_init(d),
            pending: Pending::Believer,
            trust_region: TrustRegionMode::Auto,
            candidates: 1024,
        }
    }

    /// Checks the ranges; errors name the field.
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.n_init == 0 {
            return Err(SearchError::Config(
                "n_init: the initial design needs at least one point".into(),
            ));
        }
        if self.candidates == 0 || self.candidates > MAX_CANDIDATES {
            return Err(SearchError::Config(format!(
                "candidates: must be in 1..={MAX_CANDIDATES}, got {}",
                self.candidates
            )));
        }
        Ok(())
    }
}
