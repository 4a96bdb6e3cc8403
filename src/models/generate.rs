//! Batched greedy generation with a key/value cache: the prompts are left-padded into one
//! batch and run once (prefill), then every step feeds one token per sequence and attends to
//! the cached keys and values, as transformers' `generate(do_sample=False)` does.
//!
//! Left padding puts every sequence's next token in the same column, so the cache grows by
//! one column per step; each sequence's positions start at 0 at its first real token (RoPE
//! sees the same positions as for the unpadded prompt) and its padding is masked out of
//! every attention. A sequence that stops leaves the batch.

use candle_core::{Device, Result, Tensor};
use mergesearch_evals::logprob::argmax;

use super::layers::{attention_bias, rope_tables_at};
use super::llama::{KvCache, Model};

/// Greedy continuations of `prompts` (token ids; each non-empty), at most `max_new_tokens`
/// each. After each new token, `stop(i, generated)` says whether sequence `i` is done (its
/// generated tokens, the new one included, are kept as they are).
pub fn greedy(
    model: &Model,
    prompts: &[Vec<u32>],
    max_new_tokens: usize,
    stop: &mut dyn FnMut(usize, &[u32]) -> bool,
) -> Result<Vec<Vec<u32>>> {
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); prompts.len()];
    if prompts.is_empty() || max_new_tokens == 0 {
        return Ok(out);
    }
    if prompts.iter().any(Vec::is_empty) {
        candle_core::bail!("greedy generation needs non-empty prompts");
    }
    let dev = Device::Cpu;
    let b = prompts.len();
    let t = prompts.iter().map(Vec::len).max().unwrap_or(0);
    // Left padding: sequence i starts at column pad[i].
    let mut pad: Vec<usize> = prompts.iter().map(|p| t - p.len()).collect();
    let mut ids = Vec::with_capacity(b * t);
    let mut positions = Vec::with_capacity(b * t);
    for (p, &n) in prompts.iter().zip(&pad) {
        ids.extend(std::iter::repeat_n(0u32, n).chain(p.iter().copied()));
        positions.extend((0..t).map(|c| c.saturating_sub(n) as u32));
    }
    let ids = Tensor::from_vec(ids, (b, t), &dev)?;
    let rope = rope_for(model, &positions, b, t)?;
    let mask = left_padded_mask(&pad, t)?;
    let biases = model.biases(|w| attention_bias(&mask, t, w))?;
    let mut cache = KvCache::new(model, t + max_new_tokens);
    let hidden = model.hidden(&ids, &rope, &biases, Some(&mut cache))?;
    let mut logits = model.logits(&hidden.narrow(1, t - 1, 1)?)?;
    // Batch row → sequence index, and each row's next position.
    let mut live: Vec<usize> = (0..b).collect();
    let mut next_pos: Vec<u32> = prompts.iter().map(|p| p.len() as u32).collect();
    for step in 0..max_new_tokens {
        let rows = logits.dims3()?.0;
        let flat: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        let vocab = flat.len() / rows;
        let mut keep = Vec::with_capacity(rows);
        let mut tokens = Vec::with_capacity(rows);
        for (r, &seq) in live.iter().enumerate() {
            // The first of equal maxima, as `torch.argmax` and the evals crate take it.
            let next = argmax(&flat[r * vocab..(r + 1) * vocab]) as u32;
            out[seq].push(next);
            if !stop(seq, &out[seq]) {
                keep.push(r);
                tokens.push(next);
            }
        }
        if keep.is_empty() || step + 1 == max_new_tokens {
            break;
        }
        if keep.len() < rows {
            let idx = Tensor::from_vec(
                keep.iter().map(|&r| r as u32).collect::<Vec<_>>(),
                keep.len(),
                &dev,
            )?;
            cache.keep_rows(&idx)?;
            live = keep.iter().map(|&r| live[r]).collect();
            pad = keep.iter().map(|&r| pad[r]).collect();
            next_pos = keep.iter().map(|&r| next_pos[r]).collect();
        }
        let n = live.len();
        let ids = Tensor::from_vec(tokens, (n, 1), &dev)?;
        let rope = rope_for(model, &next_pos, n, 1)?;
        // Columns once the new token is in: the prompt's, the `step` tokens before it, itself.
        let columns = t + step + 1;
        let mask = left_padded_mask(&pad, columns)?;
        let biases = model.biases(|w| attention_bias(&mask, 1, w))?;
        let hidden = model.hidden(&ids, &rope, &biases, Some(&mut cache))?;
        logits = model.logits(&hidden)?;
        for p in next_pos.iter_mut() {
            *p += 1;
        }
    }
    Ok(out)
}

/// Per-sequence RoPE tables `[b, s, d/2]` for `positions` (`b × s`, row-major), in the
/// model's dtype. The frequencies are those for a batch as long as the furthest position
/// (transformers' dynamic scaling grows with it).
fn rope_for(model: &Model, positions: &[u32], b: usize, s: usize) -> Result<(Tensor, Tensor)> {
    let longest = positions.iter().max().map_or(1, |&p| p as usize + 1);
    let (cos, sin) = rope_tables_at(positions, longest, model.head_dim(), model.rope())?;
    let d = model.head_dim() / 2;
    Ok((
        cos.reshape((b, s, d))?.to_dtype(model.dtype())?,
        sin.reshape((b, s, d))?.to_dtype(model.dtype())?,
    ))
}

/// The key mask `[b, columns]` of left-padded rows: row i's tokens start at `pad[i]`.
fn left_padded_mask(pad: &[usize], columns: usize) -> Result<Tensor> {
    let mask: Vec<u8> = pad
        .iter()
        .flat_map(|&p| (0..columns).map(move |k| u8::from(k >= p)))
        .collect();
    Tensor::from_vec(mask, (pad.len(), columns), &Device::Cpu)
}
