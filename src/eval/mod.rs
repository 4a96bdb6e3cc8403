//! Glue between the models and `mergesearch-evals`: the [`CausalLm`](mergesearch_evals::CausalLm)
//! adapter over [`crate::models::Model`] ([`LlamaLm`]) and the
//! [`TextTokenizer`](mergesearch_evals::TextTokenizer) adapter over HF `tokenizer.json` files
//! ([`HfTokenizer`]), and scoring a suite on a directory or a lazily merged config
//! ([`EvalTarget`]).

pub mod budget;
mod lm;
mod target;
mod tokenizer;

pub use lm::{disk_var_builder, load_tensors, LlamaLm};
pub use target::{evaluate_suite, EvalTarget, LoadedTarget};
pub use tokenizer::HfTokenizer;
