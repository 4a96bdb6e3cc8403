//! Owen-scrambled Sobol points of any dimension and length, from the `sobol_burley` crate.
//!
//! The crate's table covers 256 dimensions and 2^16 points per scramble seed; beyond those a
//! fresh seed is derived per block of 256 dimensions and per block of 2^16 points (the
//! crate's documented way to extend it), so each block is still a scrambled Sobol sequence.
//!
//! ## References
//!
//! - B. Burley, "Practical Hash-based Owen Scrambling", JCGT 9(4), 2020.

/// Dimensions per `sobol_burley` scramble seed (the crate's table has 256).
const SOBOL_DIMS: usize = 256;
/// Points per `sobol_burley` sequence (the crate's maximum is 2^16).
const SOBOL_LEN: u64 = 1 << 16;

/// Coordinate `dim` of point `index` of the Sobol sequence scrambled with `seed`, in `[0, 1)`.
pub(crate) fn sobol(index: u64, dim: usize, seed: u32) -> f64 {
    let block = (index / SOBOL_LEN) * 1_000_003 + (dim / SOBOL_DIMS) as u64;
    let seed = seed ^ (splitmix(block) as u32);
    let u = sobol_burley::sample((index % SOBOL_LEN) as u32, (dim % SOBOL_DIMS) as u32, seed);
    f64::from(u)
}

/// Point `index` of the `d`-dimensional Sobol sequence scrambled with `seed`.
pub(crate) fn sobol_point(index: u64, d: usize, seed: u32) -> Vec<f64> {
    (0..d).map(|j| sobol(index, j, seed)).collect()
}

/// SplitMix64 finalizer: decorrelates block indices before they become seeds.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
