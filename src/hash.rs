//! FNV-1a 64: the one fixed, documented hash behind mask-stream ids, cache keys and zoo
//! seeds, so those values never change between releases or machines.

/// The FNV-1a 64 offset basis (the hash of no bytes).
pub const FNV1A64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_extend(FNV1A64_OFFSET, bytes)
}

/// Continues the FNV-1a 64 state `h` over `bytes`, to hash several fields in sequence.
pub fn fnv1a64_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
