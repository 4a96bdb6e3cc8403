//! Reproducible random streams for DARE/DELLA masks.
//!
//! Each (tensor, model) pair gets its own ChaCha8 stream under a key derived from the global
//! seed. Element `i` always consumes word `i` of its stream, so any chunk can seek to its
//! start: the mask is identical for every thread count and chunking.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::hash::fnv1a64;

/// The mask stream of model `model` (its position among the tensor's non-base inputs) for
/// `tensor`.
#[derive(Clone)]
pub struct MaskStream {
    rng: ChaCha8Rng,
}

impl MaskStream {
    /// The stream for (seed, tensor name, model index).
    pub fn new(seed: u64, tensor: &str, model: usize) -> MaskStream {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut id = fnv1a64(tensor.as_bytes());
        id ^= (model as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        rng.set_stream(id);
        MaskStream { rng }
    }

    /// Fills `out` with uniform draws in [0, 1) for elements `start..start + out.len()`.
    pub fn uniforms(&self, start: usize, out: &mut [f64]) {
        let mut rng = self.rng.clone();
        rng.set_word_pos(start as u128);
        // Whole ChaCha blocks at a time (same words, in order, as repeated next_u32).
        let mut words = [0u32; 512];
        for chunk in out.chunks_mut(words.len()) {
            let w = &mut words[..chunk.len()];
            rng.fill_bytes(bytemuck::cast_slice_mut(w));
            for (o, x) in chunk.iter_mut().zip(w.iter()) {
                *o = *x as f64 * (1.0 / 4_294_967_296.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeking_gives_the_same_draws_as_reading_through() {
        let s = MaskStream::new(7, "model.layers.0.mlp.up_proj.weight", 1);
        let mut all = vec![0.0; 100];
        s.uniforms(0, &mut all);
        let mut tail = vec![0.0; 37];
        s.uniforms(63, &mut tail);
        assert_eq!(&all[63..], &tail[..]);
    }

    #[test]
    fn block_fill_gives_the_words_of_next_u32() {
        let s = MaskStream::new(1, "t", 0);
        let mut rng = s.rng.clone();
        let want: Vec<f64> = (0..1000)
            .map(|_| rng.next_u32() as f64 / 4_294_967_296.0)
            .collect();
        let mut got = vec![0.0; 1000];
        s.uniforms(0, &mut got);
        assert_eq!(got, want);
    }

    #[test]
    fn streams_differ_by_tensor_and_model() {
        let mut a = vec![0.0; 8];
        let mut b = vec![0.0; 8];
        let mut c = vec![0.0; 8];
        MaskStream::new(7, "x", 0).uniforms(0, &mut a);
        MaskStream::new(7, "x", 1).uniforms(0, &mut b);
        MaskStream::new(7, "y", 0).uniforms(0, &mut c);
        assert_ne!(a, b);
        assert_ne!(a, c);
        // Uniforms lie in [0, 1).
        assert!(a.iter().all(|&u| (0.0..1.0).contains(&u)));
    }
}
