//! Glue between the models and `mergesearch-evals`: the [`CausalLm`](mergesearch_evals::CausalLm)
//! adapter over [`crate::models::Model`] ([`LlamaLm`]) and the
//! [`TextTokenizer`](mergesearch_evals::TextTokenizer) adapter over HF `tokenizer.json` files
//! ([`HfTokenizer`]).

mod lm;
mod tokenizer;

pub use lm::{disk_var_builder, LlamaLm};
pub use tokenizer::HfTokenizer;
