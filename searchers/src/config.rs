//! The searcher section of a study config, and the searcher it builds.

use serde::{Deserialize, Serialize};

use crate::cmaes::{CmaEs, CmaEsOptions, DEFAULT_MAX_RESTARTS, DEFAULT_SIGMA0};
use crate::nsga2::Nsga2;
use crate::random::{RandomSearch, Sampler};
use crate::{Bounds, Outcome, SearchError, Searcher};

/// Raw searcher config, as written in a study file (`type: random` / `type: cmaes` /
/// `type: nsga2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SearcherConfig {
    /// Model-free sampling of the box.
    Random {
        /// `uniform` (default), `sobol` or `lhs`.
        #[serde(default)]
        sampler: Sampler,
    },
    /// IPOP-CMA-ES.
    Cmaes {
        /// Initial step size as a fraction of the box width, in `(0, 1]` (default 1/6).
        #[serde(default)]
        sigma0: Option<f64>,
        /// Initial population, ≥ 2 (default `4 + ⌊3 ln d⌋`).
        #[serde(default)]
        popsize: Option<usize>,
        /// Restarts that double the population (default 9).
        #[serde(default)]
        max_restarts: Option<usize>,
    },
    /// NSGA-II, for several objectives.
    Nsga2 {
        /// Population size, even and ≥ 4 (default `max(8, 2·(4 + ⌊3 ln d⌋))`).
        #[serde(default)]
        popsize: Option<usize>,
    },
}

/// Any built searcher; serializes with its kind so a snapshot restores the right one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnySearcher {
    /// See [`RandomSearch`].
    Random(Box<RandomSearch>),
    /// See [`CmaEs`].
    Cmaes(Box<CmaEs>),
    /// See [`Nsga2`].
    Nsga2(Box<Nsga2>),
}

impl AnySearcher {
    /// Whether the searcher ranks by the full objective vector. The study driver uses it to
    /// decide what to tell: the vector of (minimized) objectives when `true`, the weighted
    /// scalar as a one-element vector when `false` (single-objective searchers read only the
    /// first value).
    pub fn multi_objective(&self) -> bool {
        match self {
            AnySearcher::Nsga2(_) => true,
            AnySearcher::Random(_) | AnySearcher::Cmaes(_) => false,
        }
    }
}

/// Builds the searcher `config` describes over `bounds`, starting near `x0` where the
/// searcher uses a start point. Errors name the offending field.
pub fn build(
    config: &SearcherConfig,
    bounds: Bounds,
    x0: Option<Vec<f64>>,
    seed: u64,
) -> Result<AnySearcher, SearchError> {
    if let Some(x) = &x0 {
        if !bounds.contains(x) {
            return Err(SearchError::Config(format!(
                "x0 must lie inside the {}-dimensional search box, got {x:?}",
                bounds.dim()
            )));
        }
    }
    Ok(match config {
        SearcherConfig::Random { sampler } => {
            AnySearcher::Random(Box::new(RandomSearch::new(bounds, *sampler, seed)))
        }
        SearcherConfig::Cmaes {
            sigma0,
            popsize,
            max_restarts,
        } => {
            let opts = CmaEsOptions {
                sigma0: sigma0.unwrap_or(DEFAULT_SIGMA0),
                popsize: *popsize,
                max_restarts: max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
            };
            AnySearcher::Cmaes(Box::new(CmaEs::new(bounds, x0, opts, seed)?))
        }
        SearcherConfig::Nsga2 { popsize } => {
            AnySearcher::Nsga2(Box::new(Nsga2::new(bounds, x0, *popsize, seed)?))
        }
    })
}

impl Searcher for AnySearcher {
    fn dim(&self) -> usize {
        match self {
            AnySearcher::Random(s) => s.dim(),
            AnySearcher::Cmaes(s) => s.dim(),
            AnySearcher::Nsga2(s) => s.dim(),
        }
    }

    fn ask(&mut self, n: usize) -> Vec<Vec<f64>> {
        match self {
            AnySearcher::Random(s) => s.ask(n),
            AnySearcher::Cmaes(s) => s.ask(n),
            AnySearcher::Nsga2(s) => s.ask(n),
        }
    }

    fn tell(&mut self, results: &[(Vec<f64>, Outcome)]) {
        match self {
            AnySearcher::Random(s) => s.tell(results),
            AnySearcher::Cmaes(s) => s.tell(results),
            AnySearcher::Nsga2(s) => s.tell(results),
        }
    }
}
