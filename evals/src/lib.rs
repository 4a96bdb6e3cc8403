//! Evaluation harnesses (`Harness`) and the small `CausalLm` trait they need.
//!
//! A harness reads its JSONL data once, then scores any model that implements [`CausalLm`]
//! (with a [`TextTokenizer`]) and returns [`Metrics`]. The built-ins:
//!
//! - [`Perplexity`]: mean token negative log-likelihood and perplexity of plain text;
//! - [`MultipleChoice`]: log-likelihood multiple choice, `acc` and `acc_norm`;
//! - [`ExactMatch`]: greedy generation compared to a reference answer;
//! - [`Entropy`]: mean predictive entropy on unlabeled text (the AdaMerging objective);
//! - [`CommandHarness`]: an external command run on a model directory.
//!
//! An eval-suite YAML file ([`suite`]) lists harnesses with a search and a held-out data split.
//! This crate never depends on the main `mergesearch` crate or on a tensor library.
#![warn(missing_docs)]

pub mod batching;
pub mod command;
pub mod data;
pub mod entropy;
pub mod error;
pub mod exact_match;
pub mod harness;
pub mod logprob;
pub mod metrics;
pub mod model;
pub mod multiple_choice;
pub mod perplexity;
pub mod suite;
pub mod tally;

pub use command::CommandHarness;
pub use entropy::Entropy;
pub use error::EvalError;
pub use exact_match::ExactMatch;
pub use harness::{score_tally, Harness};
pub use metrics::{Direction, Metric, Metrics};
pub use model::{greedy_without_cache, CausalLm, TextTokenizer, DEFAULT_MAX_BATCH_TOKENS};
pub use multiple_choice::MultipleChoice;
pub use perplexity::Perplexity;
pub use suite::{ResolvedHarness, Split, Suite};
pub use tally::Tally;
