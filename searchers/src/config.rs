//! The searcher section of a study config, and the searcher it builds.

use serde::{Deserialize, Serialize};

use crate::adamerging::AdaMergingConfig;
use crate::bo::{Bo, BoConfig, Ehvi};
use crate::cmaes::{CmaEs, CmaEsOptions, DEFAULT_MAX_RESTARTS, DEFAULT_SIGMA0};
use crate::nsga2::Nsga2;
use crate::random::{RandomSearch, Sampler};
use crate::{Outcome, Problem, SearchError, Searcher};

/// Raw searcher config, as written in a study file (`type: random` / `type: cmaes` /
/// `type: nsga2` / `type: bo` / `type: parego` / `type: ehvi` / `type: adamerging`).
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
        /// Initial population, ≥ 2 and at most [`crate::cmaes::max_popsize`] (default
        /// `4 + ⌊3 ln d⌋`).
        #[serde(default)]
        popsize: Option<usize>,
        /// Restarts that double the population (default 9, at most
        /// [`crate::cmaes::MAX_RESTARTS`]).
        #[serde(default)]
        max_restarts: Option<usize>,
        /// Active covariance update with negative weights (default `true`; see
        /// [`CmaEsOptions::active`]).
        #[serde(default)]
        active: Option<bool>,
    },
    /// NSGA-II, for several objectives.
    Nsga2 {
        /// Population size, even, ≥ 4 and at most [`crate::nsga2::max_popsize`] (default
        /// `max(8, 2·(4 + ⌊3 ln d⌋))`).
        #[serde(default)]
        popsize: Option<usize>,
    },
    /// Bayesian optimization of the scalar view (GP + log EI or UCB).
    Bo(BoConfig),
    /// ParEGO: BO of random augmented-Chebyshev scalarizations, for several objectives.
    Parego(BoConfig),
    /// Expected hypervolume improvement over one GP per objective, for several objectives.
    Ehvi(BoConfig),
    /// AdaMerging: projected Adam on the merge coefficients, a gradient searcher that the
    /// study runs with its gradient loop ([`build`] refuses it).
    Adamerging(AdaMergingConfig),
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
    /// See [`Bo`].
    Bo(Box<Bo>),
    /// See [`Bo::parego`].
    Parego(Box<Bo>),
    /// See [`Ehvi`].
    Ehvi(Box<Ehvi>),
}

/// Builds the searcher `config` describes for `problem`, starting near `x0` where the
/// searcher uses a start point. `horizon` is the number of trials the searcher is expected to
/// serve — the study's trial budget, or the initial design size when it makes a model-based
/// searcher's design — and the span of a Latin hypercube ([`RandomSearch::with_horizon`];
/// `None`: [`crate::random::default_lhs_block`]). Errors name the offending field; a gradient
/// searcher (`adamerging`) is an error, since the study runs it with its gradient loop.
pub fn build(
    config: &SearcherConfig,
    problem: Problem,
    x0: Option<Vec<f64>>,
    seed: u64,
    horizon: Option<usize>,
) -> Result<AnySearcher, SearchError> {
    if let SearcherConfig::Adamerging(_) = config {
        return Err(not_ask_tell());
    }
    if let Some(x) = &x0 {
        if !problem.bounds.contains(x) {
            return Err(SearchError::Config(format!(
                "x0 must lie inside the {}-dimensional search box, got {x:?}",
                problem.bounds.dim()
            )));
        }
    }
    Ok(match config {
        SearcherConfig::Random { sampler } => AnySearcher::Random(Box::new(
            RandomSearch::with_horizon(problem, *sampler, seed, horizon)?,
        )),
        SearcherConfig::Cmaes {
            sigma0,
            popsize,
            max_restarts,
            active,
        } => {
            let opts = CmaEsOptions {
                sigma0: sigma0.unwrap_or(DEFAULT_SIGMA0),
                popsize: *popsize,
                max_restarts: max_restarts.unwrap_or(DEFAULT_MAX_RESTARTS),
                active: active.unwrap_or(true),
            };
            AnySearcher::Cmaes(Box::new(CmaEs::new(problem, x0, opts, seed)?))
        }
        SearcherConfig::Nsga2 { popsize } => {
            AnySearcher::Nsga2(Box::new(Nsga2::new(problem, x0, *popsize, seed)?))
        }
        SearcherConfig::Bo(c) => {
            let (options, kind) = c.resolve(problem.bounds.dim(), true)?;
            AnySearcher::Bo(Box::new(Bo::new(problem, x0, options, kind, seed)?))
        }
        SearcherConfig::Parego(c) => {
            let (options, _) = c.resolve(problem.bounds.dim(), false)?;
            AnySearcher::Parego(Box::new(Bo::parego(problem, x0, options, seed)?))
        }
        SearcherConfig::Ehvi(c) => {
            let (options, _) = c.resolve(problem.bounds.dim(), false)?;
            AnySearcher::Ehvi(Box::new(Ehvi::new(problem, x0, options, seed)?))
        }
        SearcherConfig::Adamerging(_) => return Err(not_ask_tell()),
    })
}

/// The error of [`build`] for a gradient searcher.
fn not_ask_tell() -> SearchError {
    SearchError::Config(
        "adamerging is a gradient searcher: the study runs it with its gradient loop, not \
         through ask/tell"
            .into(),
    )
}

impl AnySearcher {
    /// The searcher behind the enum.
    fn inner(&self) -> &dyn Searcher {
        match self {
            AnySearcher::Random(s) => s.as_ref(),
            AnySearcher::Cmaes(s) => s.as_ref(),
            AnySearcher::Nsga2(s) => s.as_ref(),
            AnySearcher::Bo(s) | AnySearcher::Parego(s) => s.as_ref(),
            AnySearcher::Ehvi(s) => s.as_ref(),
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Searcher {
        match self {
            AnySearcher::Random(s) => s.as_mut(),
            AnySearcher::Cmaes(s) => s.as_mut(),
            AnySearcher::Nsga2(s) => s.as_mut(),
            AnySearcher::Bo(s) | AnySearcher::Parego(s) => s.as_mut(),
            AnySearcher::Ehvi(s) => s.as_mut(),
        }
    }
}

impl Searcher for AnySearcher {
    fn problem(&self) -> &Problem {
        self.inner().problem()
    }

    fn dim(&self) -> usize {
        self.inner().dim()
    }

    fn multi_objective(&self) -> bool {
        self.inner().multi_objective()
    }

    fn ask(&mut self, trial: u64) -> Result<Vec<f64>, SearchError> {
        self.inner_mut().ask(trial)
    }

    fn tell(&mut self, trial: u64, outcome: &Outcome) -> Result<(), SearchError> {
        self.inner_mut().tell(trial, outcome)
    }

    fn pending(&self) -> Vec<u64> {
        self.inner().pending()
    }

    fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError> {
        self.inner_mut().enqueue(trial, x)
    }
}
