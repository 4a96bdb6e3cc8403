//! The two small traits a harness needs from a model: a causal LM and a tokenizer.
//!
//! The main crate implements them for its candle models; tests implement them with tiny
//! hand-written tables.

use crate::EvalError;

/// The token budget of one forward pass for a model that does not size its own.
pub const DEFAULT_MAX_BATCH_TOKENS: usize = 4096;

/// A causal language model that returns full-sequence logits.
pub trait CausalLm {
    /// Size of the vocabulary (the length of one logits row).
    fn vocab_size(&self) -> usize;

    /// The most padded tokens (sequences × longest length) one `logits` or `greedy` call
    /// should be given: harnesses pack their batches by it ([`crate::batching`]). A model
    /// that knows its memory cost per token overrides it.
    fn max_batch_tokens(&self) -> usize {
        DEFAULT_MAX_BATCH_TOKENS
    }

    /// Logits for each sequence of `batch`, flattened row-major as `[seq_len × vocab]`.
    ///
    /// Row `i` is the distribution of token `i + 1` given tokens `0..=i` (the HF
    /// `labels = input_ids` convention). Sequences may have different lengths; the implementor
    /// pads internally and returns exactly `seq_len × vocab` values per sequence.
    fn logits(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EvalError>;

    /// Greedy continuations of `prompts` (each non-empty), at most `max_new_tokens` each.
    /// After each new token, `stop(i, generated)` says whether sequence `i` is done (its
    /// tokens, the new one included, are kept). The default recomputes every sequence in
    /// full at each step ([`greedy_without_cache`]); a model with a key/value cache
    /// overrides it, and must produce the same tokens.
    fn greedy(
        &self,
        prompts: &[Vec<u32>],
        max_new_tokens: usize,
        stop: &mut dyn FnMut(usize, &[u32]) -> bool,
    ) -> Result<Vec<Vec<u32>>, EvalError> {
        greedy_without_cache(self, prompts, max_new_tokens, stop)
    }
}

/// [`CausalLm::greedy`] by full-sequence logits: every step scores each live sequence
/// whole and takes the argmax of its last row.
pub fn greedy_without_cache<M: CausalLm + ?Sized>(
    model: &M,
    prompts: &[Vec<u32>],
    max_new_tokens: usize,
    stop: &mut dyn FnMut(usize, &[u32]) -> bool,
) -> Result<Vec<Vec<u32>>, EvalError> {
    let vocab = model.vocab_size();
    let mut seqs: Vec<Vec<u32>> = prompts.to_vec();
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); prompts.len()];
    let mut live: Vec<usize> = (0..seqs.len()).collect();
    for _ in 0..max_new_tokens {
        if live.is_empty() {
            break;
        }
        let batch: Vec<Vec<u32>> = live.iter().map(|&i| seqs[i].clone()).collect();
        let logits = checked_logits(model, &batch)?;
        let mut still = Vec::with_capacity(live.len());
        for (&i, lg) in live.iter().zip(&logits) {
            let next =
                crate::logprob::argmax(crate::logprob::row(lg, seqs[i].len() - 1, vocab)) as u32;
            seqs[i].push(next);
            out[i].push(next);
            if !stop(i, &out[i]) {
                still.push(i);
            }
        }
        live = still;
    }
    Ok(out)
}

/// A tokenizer that turns text into token ids and back.
pub trait TextTokenizer {
    /// Token ids of `text` (special tokens such as BOS are the tokenizer's choice).
    fn encode(&self, text: &str) -> Result<Vec<u32>, EvalError>;

    /// Text of `ids`.
    fn decode(&self, ids: &[u32]) -> Result<String, EvalError>;

    /// The end-of-sequence token, which stops generation, if the tokenizer has one.
    fn eos_id(&self) -> Option<u32>;

    /// The words of `text` the tokenizer has no token for (they encode to its unknown
    /// token), in order. The default, for tokenizers that cannot tell (or never fall back to
    /// an unknown token), is none.
    fn unknown_words(&self, text: &str) -> Vec<String> {
        let _ = text;
        Vec::new()
    }
}

/// Calls `model.logits` and checks that every sequence got `seq_len × vocab` values.
pub(crate) fn checked_logits<M: CausalLm + ?Sized>(
    model: &M,
    batch: &[Vec<u32>],
) -> Result<Vec<Vec<f32>>, EvalError> {
    let vocab = model.vocab_size();
    let out = model.logits(batch)?;
    if out.len() != batch.len() {
        return Err(EvalError::Model(format!(
            "returned logits for {} sequences, expected {}",
            out.len(),
            batch.len()
        )));
    }
    for (i, (seq, logits)) in batch.iter().zip(&out).enumerate() {
        if logits.len() != seq.len() * vocab {
            return Err(EvalError::Model(format!(
                "sequence {i}: {} logits, expected {} tokens × {vocab} vocab = {}",
                logits.len(),
                seq.len(),
                seq.len() * vocab
            )));
        }
    }
    Ok(out)
}
