//! Evaluation harnesses (`Harness`) and the small `CausalLm` trait they need.
//!
//! The built-in harnesses (perplexity, multiple choice, exact match, entropy, command) land
//! with the models/zoo/evals issue; this crate exists now so the workspace has the shape
//! the design card fixes.
#![warn(missing_docs)]
