//! The study-file options of the Bayesian searchers (`type: bo | parego | ehvi`).

use serde::{Deserialize, Serialize};

use super::{BoOptions, Kind, Pending, TrustRegionMode};
use crate::SearchError;

/// Which acquisition `bo` maximizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcquisitionName {
    /// log expected improvement (default).
    LogEi,
    /// Upper confidence bound (with `beta`).
    Ucb,
}

/// Default UCB exploration weight `β` (in `μ − √β σ`).
pub const DEFAULT_BETA: f64 = 2.0;

/// Raw options of a Bayesian searcher, as written in a study file; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoConfig {
    /// Sobol initial design size (default `min(10, 2d)`).
    #[serde(default)]
    pub n_init: Option<usize>,
    /// `log_ei` (default) or `ucb`; `bo` only.
    #[serde(default)]
    pub acquisition: Option<AcquisitionName>,
    /// UCB's `β` (default 2); only with `acquisition: ucb`.
    #[serde(default)]
    pub beta: Option<f64>,
    /// `believer` (default), `liar_min`, `liar_mean` or `liar_max`.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// `auto` (default: TuRBO above 20 dimensions), `on` or `off`.
    #[serde(default)]
    pub trust_region: Option<TrustRegionMode>,
    /// Quasi-random candidates per proposal (default 1024).
    #[serde(default)]
    pub candidates: Option<usize>,
}

impl BoConfig {
    /// The options for dimension `d`; `single` says whether the searcher is `bo` (the only
    /// one with a choice of acquisition). A key that would be ignored is an error.
    pub fn resolve(&self, d: usize, single: bool) -> Result<(BoOptions, Kind), SearchError> {
        let mut o = BoOptions::new(d);
        if let Some(n) = self.n_init {
            o.n_init = n;
        }
        if let Some(p) = self.pending {
            o.pending = p;
        }
        if let Some(t) = self.trust_region {
            o.trust_region = t;
        }
        if let Some(c) = self.candidates {
            o.candidates = c;
        }
        o.validate()?;
        if !single && (self.acquisition.is_some() || self.beta.is_some()) {
            return Err(SearchError::Config(
                "acquisition/beta: only `type: bo` has a choice of acquisition (parego uses log EI, ehvi log EHVI)".into(),
            ));
        }
        let kind = match (self.acquisition, self.beta) {
            (None | Some(AcquisitionName::LogEi), None) => Kind::LogEi,
            (Some(AcquisitionName::LogEi) | None, Some(_)) => {
                return Err(SearchError::Config(
                    "beta: only used with `acquisition: ucb`".into(),
                ))
            }
            (Some(AcquisitionName::Ucb), beta) => Kind::Ucb {
                beta: beta.unwrap_or(DEFAULT_BETA),
            },
        };
        Ok((o, kind))
    }
}
