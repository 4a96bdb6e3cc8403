//! Serde for the ChaCha8 generator without `u128`.
//!
//! `rand_chacha`'s own serde writes the word position as a `u128`, which serde's buffered
//! formats (internally tagged enums such as [`crate::AnySearcher`], `serde_json::Value`)
//! reject. Here the position travels as two `u64` halves; the generator restores exactly.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
struct State {
    seed: [u8; 32],
    stream: u64,
    word_pos_hi: u64,
    word_pos_lo: u64,
}

/// `#[serde(with = "crate::rng")]` serializer.
pub(crate) fn serialize<S: Serializer>(rng: &ChaCha8Rng, s: S) -> Result<S::Ok, S::Error> {
    let pos = rng.get_word_pos();
    State {
        seed: rng.get_seed(),
        stream: rng.get_stream(),
        word_pos_hi: (pos >> 64) as u64,
        word_pos_lo: pos as u64,
    }
    .serialize(s)
}

/// `#[serde(with = "crate::rng")]` deserializer.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ChaCha8Rng, D::Error> {
    let st = State::deserialize(d)?;
    let mut rng = ChaCha8Rng::from_seed(st.seed);
    rng.set_stream(st.stream);
    rng.set_word_pos((u128::from(st.word_pos_hi) << 64) | u128::from(st.word_pos_lo));
    Ok(rng)
}
