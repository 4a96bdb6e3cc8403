//! Batches sized by a token budget, longest sequences first.
//!
//! A forward pass holds memory proportional to the padded batch: batch size × longest
//! sequence, times the logits row and the activations of one position. Packing by a token
//! budget ([`CausalLm::max_batch_tokens`]) instead of a fixed number of sequences keeps that
//! bounded whatever the lengths; sorting by length puts similar lengths together, so little
//! of the budget goes to padding. Longest first, as lm-evaluation-harness's `Collator`
//! orders requests: the largest batch comes first, so a budget too large for the machine
//! fails at once rather than at the end.

use crate::model::checked_logits;
use crate::{CausalLm, EvalError};

/// Groups sequence indices into batches whose padded size (count × longest length) stays
/// within `max_tokens`; a sequence longer than the budget gets a batch of its own. Indices
/// are ordered by length, longest first, ties in index order, so the batches depend only on
/// the lengths and the budget.
pub fn token_batches(lengths: &[usize], max_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match batches.last_mut() {
            // The batch's first sequence is its longest: its length sets the padded width.
            Some(b) if (b.len() + 1) * lengths[b[0]].max(1) <= max_tokens => b.push(i),
            _ => batches.push(vec![i]),
        }
    }
    batches
}

/// Scores `seqs` in token-budget batches of `model` and calls `f(i, logits)` for each
/// sequence `i` with its `len × vocab` logits (in batch order, not index order).
pub(crate) fn for_each_logits<M, F>(model: &M, seqs: &[Vec<u32>], mut f: F) -> Result<(), EvalError>
where
    M: CausalLm + ?Sized,
    F: FnMut(usize, &[f32]) -> Result<(), EvalError>,
{
    let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
    for batch in token_batches(&lengths, model.max_batch_tokens()) {
        let ids: Vec<Vec<u32>> = batch.iter().map(|&i| seqs[i].clone()).collect();
        let logits = checked_logits(model, &ids)?;
        for (&i, lg) in batch.iter().zip(&logits) {
            f(i, lg)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::token_batches;

    #[test]
    fn packs_longest_first_within_the_budget() {
        // Lengths 3, 7, 5, 7, 1 with a budget of 14 tokens: 7 and 7 fill 14; then 5 (5 ≤ 14),
        // 5 and 3 pad to 2 × 5 = 10, adding 1 pads to 3 × 5 = 15 > 14, so 1 starts anew.
        assert_eq!(
            token_batches(&[3, 7, 5, 7, 1], 14),
            vec![vec![1, 3], vec![2, 0], vec![4]]
        );
    }

    #[test]
    fn a_sequence_over_the_budget_runs_alone() {
        assert_eq!(token_batches(&[20, 2, 2], 8), vec![vec![0], vec![1, 2]]);
        assert!(token_batches(&[], 8).is_empty());
    }
}
