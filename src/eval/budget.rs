//! The token budget of one forward pass ([`CausalLm::max_batch_tokens`]), sized from the
//! model's shape and the memory available, unless `--max-batch-tokens` sets it.
//!
//! [`CausalLm::max_batch_tokens`]: mergesearch_evals::CausalLm::max_batch_tokens

use crate::models::LlamaConfig;

/// Sequence length assumed for the attention scores of one position (they grow with the
/// padded length; evaluation sequences are rarely longer).
const ATTENTION_SPAN: usize = 2048;

/// Bounds of the derived budget. Above 2048 tokens a CPU forward gets slower, not faster:
/// the element-wise passes over activations of that many positions leave the caches (the
/// 271M family of `bench merge`, perplexity of 64 × 128 tokens on 2 threads: 44 s at 1024
/// tokens, 50 s at 2048, 55 s at 4096, 57 s at 8192; README, Batching).
const MIN_TOKENS: usize = 256;
const MAX_TOKENS: usize = 2048;

/// Peak bytes one padded position of a full-logits forward holds in f32: the logits twice
/// (candle's output and the per-sequence copy handed to the harness), about eight
/// hidden-size activations of a layer (residual, norm, q/k/v, attention output), four of
/// the MLP's (gate, up, activation, product), and the attention scores and their softmax
/// over [`ATTENTION_SPAN`] keys for every head.
pub fn bytes_per_token(cfg: &LlamaConfig) -> usize {
    let floats = 2 * cfg.vocab_size
        + 8 * cfg.hidden_size
        + 4 * cfg.intermediate_size
        + 2 * cfg.num_attention_heads * ATTENTION_SPAN;
    4 * floats
}

/// The budget for `cfg` given `available` bytes of free memory: half of it over
/// [`bytes_per_token`], rounded down to a power of two (so small changes in free memory
/// between runs rarely change the batches), within 256..=2048 tokens.
pub fn tokens_for_memory(cfg: &LlamaConfig, available: u64) -> usize {
    let tokens = (available / 2 / bytes_per_token(cfg).max(1) as u64) as usize;
    let tokens = tokens.clamp(MIN_TOKENS, MAX_TOKENS);
    1 << tokens.ilog2()
}

/// The budget for `cfg`: `--max-batch-tokens` when given, else [`tokens_for_memory`] of
/// this model's share of the memory available now (Linux `MemAvailable` divided among the
/// models evaluated at once, [`crate::runtime::concurrent_models`]), else the evals crate's
/// default.
pub fn max_batch_tokens(cfg: &LlamaConfig) -> usize {
    if let Some(n) = crate::runtime::max_batch_tokens() {
        return n;
    }
    match available_memory() {
        Some(bytes) => tokens_for_memory(cfg, bytes / crate::runtime::concurrent_models() as u64),
        None => mergesearch_evals::DEFAULT_MAX_BATCH_TOKENS,
    }
}

/// `MemAvailable` of `/proc/meminfo` in bytes (Linux; `None` elsewhere or if unreadable).
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama_1b() -> LlamaConfig {
        // Llama 3.2 1B's shape (its config.json on the Hub).
        let json = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
            "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": true}"#;
        LlamaConfig::from_json_str(json, std::path::Path::new("<test>")).unwrap()
    }

    #[test]
    fn a_1b_model_fits_a_24_gib_machine() {
        let cfg = llama_1b();
        // 4·(2·128256 + 8·2048 + 4·8192 + 2·32·2048) = 1,746,944 bytes per position.
        assert_eq!(bytes_per_token(&cfg), 1_746_944);
        // 18 GiB free after its 4.9 GB of f32 weights: 9 GiB / 1.75 MB = 5532 tokens, over
        // the ceiling of 2048 (3.6 GB at the peak); 3 GiB free: 1.5 GiB / 1.75 MB = 922 →
        // 512 tokens.
        assert_eq!(tokens_for_memory(&cfg, 18 << 30), 2048);
        assert_eq!(tokens_for_memory(&cfg, 3 << 30), 512);
        // Little memory: the floor.
        assert_eq!(tokens_for_memory(&cfg, 1 << 20), 256);
    }
}
