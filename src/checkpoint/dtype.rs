//! Storage dtypes the merge engine reads and writes, and their conversion to/from f32.

use half::f16;
use serde::{Deserialize, Serialize};

/// A floating-point storage dtype of a checkpoint tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    /// IEEE float32.
    F32,
    /// IEEE float16.
    F16,
    /// bfloat16.
    BF16,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
        }
    }

    /// The safetensors header spelling (`F32`, `F16`, `BF16`).
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
        }
    }

    /// The `torch_dtype` spelling used in `config.json`.
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
        }
    }

    /// Parses a mergekit/torch dtype name (`float32`, `fp16`, `bfloat16`, `bf16`, ...).
    pub fn parse(name: &str) -> Option<DType> {
        match name.to_ascii_lowercase().as_str() {
            "float32" | "fp32" | "f32" | "float" => Some(DType::F32),
            "float16" | "fp16" | "f16" | "half" => Some(DType::F16),
            "bfloat16" | "bf16" => Some(DType::BF16),
            _ => None,
        }
    }

    /// Maps a safetensors dtype; `None` for dtypes the merge engine does not handle.
    pub fn from_safetensors(d: safetensors::Dtype) -> Option<DType> {
        match d {
            safetensors::Dtype::F32 => Some(DType::F32),
            safetensors::Dtype::F16 => Some(DType::F16),
            safetensors::Dtype::BF16 => Some(DType::BF16),
            _ => None,
        }
    }
}

/// Decodes `out.len()` elements of `dtype` from little-endian `bytes` into f32.
/// Compiled for several SIMD levels and dispatched at run time (AVX-512 / AVX2 / baseline).
#[multiversion::multiversion(targets = "simd")]
pub fn decode_into(dtype: DType, bytes: &[u8], out: &mut [f32]) {
    match dtype {
        DType::F32 => match bytemuck::try_cast_slice::<u8, f32>(bytes) {
            Ok(src) => out.copy_from_slice(&src[..out.len()]),
            Err(_) => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
        },
        DType::BF16 => match bytemuck::try_cast_slice::<u8, u16>(bytes) {
            // Aligned fast path (the common case: safetensors data is 8-byte aligned).
            Ok(src) => {
                for (o, b) in out.iter_mut().zip(src) {
                    *o = f32::from_bits((*b as u32) << 16);
                }
            }
            Err(_) => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
                }
            }
        },
        DType::F16 => {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
            }
        }
    }
}

/// f32 → bf16 bits, round to nearest even; NaN stays NaN (same as torch and `half`).
#[inline]
pub fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let rounded = b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16;
    if x.is_nan() {
        ((b >> 16) | 0x40) as u16
    } else {
        rounded as u16
    }
}

/// Encodes f32 values into `dtype` little-endian bytes (round to nearest even, as torch does).
/// Compiled for several SIMD levels and dispatched at run time.
#[multiversion::multiversion(targets = "simd")]
pub fn encode_into(dtype: DType, values: &[f32], out: &mut [u8]) {
    match dtype {
        DType::F32 => match bytemuck::try_cast_slice_mut::<u8, f32>(out) {
            Ok(dst) => dst[..values.len()].copy_from_slice(values),
            Err(_) => {
                for (v, c) in values.iter().zip(out.chunks_exact_mut(4)) {
                    c.copy_from_slice(&v.to_le_bytes());
                }
            }
        },
        DType::BF16 => match bytemuck::try_cast_slice_mut::<u8, u16>(out) {
            Ok(dst) => {
                for (v, d) in values.iter().zip(dst.iter_mut()) {
                    *d = bf16_bits(*v);
                }
            }
            Err(_) => {
                for (v, c) in values.iter().zip(out.chunks_exact_mut(2)) {
                    c.copy_from_slice(&bf16_bits(*v).to_le_bytes());
                }
            }
        },
        DType::F16 => {
            for (v, c) in values.iter().zip(out.chunks_exact_mut(2)) {
                c.copy_from_slice(&f16::from_f32(*v).to_bits().to_le_bytes());
            }
        }
    }
}

/// Rounds each value to the precision of `dtype` (what torch's `.to(dtype)` does on load).
pub fn round_to(dtype: DType, values: &mut [f32]) {
    match dtype {
        DType::F32 => {}
        DType::BF16 => values
            .iter_mut()
            .for_each(|v| *v = f32::from_bits((bf16_bits(*v) as u32) << 16)),
        DType::F16 => values
            .iter_mut()
            .for_each(|v| *v = f16::from_f32(*v).to_f32()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::bf16;

    #[test]
    fn bf16_round_trip_is_exact_for_representable_values() {
        // 1.5, -2.0 and 0.09375 (= 3/32) have at most 8 significant bits: exact in bf16.
        let v = [1.5f32, -2.0, 0.09375];
        let mut bytes = vec![0u8; 6];
        encode_into(DType::BF16, &v, &mut bytes);
        let mut back = [0f32; 3];
        decode_into(DType::BF16, &bytes, &mut back);
        assert_eq!(back, v);
    }

    #[test]
    fn bf16_encoding_agrees_with_the_half_crate() {
        // `half` is the reference implementation of IEEE-style bf16 rounding.
        let vals = [
            0.0f32,
            -0.0,
            1.0,
            1.003_906_3,
            1.011_718_8,
            -3.3e-5,
            65504.0,
            1e38,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            1.0e-40,
            3.5e-3,
            -7.25,
        ];
        for v in vals {
            assert_eq!(bf16_bits(v), bf16::from_f32(v).to_bits(), "{v}");
        }
        assert!(f32::from_bits((bf16_bits(f32::NAN) as u32) << 16).is_nan());
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        // 1 + 2^-8 lies exactly between bf16 neighbours 1.0 and 1 + 2^-7: ties go to even (1.0).
        let mut v = [1.0f32 + 1.0 / 256.0, 1.0 + 3.0 / 256.0];
        round_to(DType::BF16, &mut v);
        assert_eq!(v, [1.0, 1.0 + 4.0 / 256.0]);
    }
}
