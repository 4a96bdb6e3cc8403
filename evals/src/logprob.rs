//! Numerically stable log-softmax and entropy of one logits row, in f64.

/// `log_softmax(x)_v = x_v − max − ln Σ_u exp(x_u − max)`, computed in f64.
///
/// Subtracting the maximum first keeps every `exp` at most 1, so large logits cannot
/// overflow. `-inf` logits (masked tokens) give `-inf` log-probabilities.
pub fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row
        .iter()
        .map(|&x| f64::from(x))
        .fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = row.iter().map(|&x| (f64::from(x) - max).exp()).sum();
    let lse = max + sum.ln();
    row.iter().map(|&x| f64::from(x) - lse).collect()
}

/// Shannon entropy `H = −Σ_v p_v ln p_v` (natural log) of `softmax(row)`.
pub fn entropy(row: &[f32]) -> f64 {
    log_softmax(row)
        .into_iter()
        .filter(|lp| lp.is_finite())
        .map(|lp| -lp.exp() * lp)
        .sum()
}

/// Index of the largest logit (the first one on ties, like `numpy.argmax`).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// The logits row at position `pos` of a flattened `[seq_len × vocab]` buffer.
pub(crate) fn row(logits: &[f32], pos: usize, vocab: usize) -> &[f32] {
    &logits[pos * vocab..(pos + 1) * vocab]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_is_stable_for_huge_logits() {
        // Softmax is shift-invariant: [1000, 1000] is [0, 0], so each log-prob is ln(1/2).
        let lp = log_softmax(&[1000.0, 1000.0]);
        for v in lp {
            assert!((v - 0.5f64.ln()).abs() < 1e-12);
        }
    }

    #[test]
    fn entropy_of_uniform_is_ln_v() {
        // Uniform over V outcomes has entropy ln V (Cover & Thomas, Thm 2.6.4).
        assert!((entropy(&[3.0; 8]) - 8f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn argmax_takes_first_tie() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    }
}
