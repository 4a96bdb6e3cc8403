//! Zero-copy views of a tensor's inputs and the chunked, parallel drivers every kernel uses:
//! inputs are decoded to f32 one cache-sized chunk at a time and the result is encoded
//! straight into the output dtype, so no full-size f32 copy exists unless a method needs one.

use rayon::prelude::*;

use crate::checkpoint::dtype::{decode_into, encode_into, round_to};
use crate::checkpoint::DType;

/// Elements per chunk: 16 Ki f32 = 64 KiB per input, so a few inputs stay in L2.
pub const CHUNK: usize = 16 * 1024;

/// One input tensor: its raw bytes and, for embeddings merged on their common sub-matrix,
/// how many columns the stored rows have versus how many are used.
#[derive(Debug, Clone, Copy)]
pub struct SourceView<'a> {
    /// Raw little-endian data of the stored tensor.
    pub bytes: &'a [u8],
    /// Storage dtype.
    pub dtype: DType,
    /// Columns of the stored tensor (its last dimension; 1-D tensors: its length).
    pub src_cols: usize,
    /// Columns used by the output (≤ `src_cols`).
    pub cols: usize,
    /// Values are intermediate results in compute precision: never rounded to `dtype:`.
    pub exact: bool,
    /// Stable identity of the stored tensor (its file and name), for caches shared across
    /// merges; `None` for in-memory values.
    pub id: Option<u64>,
}

/// The inputs of one tensor merge, all viewed with the output's shape.
#[derive(Debug, Clone)]
pub struct TensorInputs<'a> {
    views: Vec<SourceView<'a>>,
    shape: Vec<usize>,
    numel: usize,
    load_dtype: Option<DType>,
}

impl<'a> TensorInputs<'a> {
    /// Inputs from views; `load_dtype` rounds every value as mergekit's `dtype:` cast does.
    pub fn new(views: Vec<SourceView<'a>>, shape: &[usize], load_dtype: Option<DType>) -> Self {
        TensorInputs {
            views,
            shape: shape.to_vec(),
            numel: shape.iter().product(),
            load_dtype,
        }
    }

    /// Inputs from in-memory f32 tensors of the same shape.
    pub fn from_f32(tensors: &[&'a [f32]], shape: &[usize]) -> Self {
        let cols = *shape.last().unwrap_or(&1);
        let views = tensors
            .iter()
            .map(|t| SourceView {
                bytes: bytemuck::cast_slice(t),
                dtype: DType::F32,
                src_cols: cols,
                cols,
                exact: true,
                id: None,
            })
            .collect();
        Self::new(views, shape, None)
    }

    /// These inputs followed by in-memory f32 intermediates (e.g. sparsified task vectors)
    /// of the output's shape; the extra inputs get indices `len()..`.
    pub fn extended<'b>(&self, extra: &[&'b [f32]]) -> TensorInputs<'b>
    where
        'a: 'b,
    {
        let cols = *self.shape.last().unwrap_or(&1);
        let mut views: Vec<SourceView<'b>> = self.views.clone();
        views.extend(extra.iter().map(|t| SourceView {
            bytes: bytemuck::cast_slice(t),
            dtype: DType::F32,
            src_cols: cols,
            cols,
            exact: true,
            id: None,
        }));
        TensorInputs::new(views, &self.shape, self.load_dtype)
    }

    /// A key for what `decode_delta(k, base, ..)` produces, when both inputs are stored
    /// tensors: it names the two tensors, the columns used and the load dtype.
    pub fn delta_key(&self, k: usize, base: usize) -> Option<u64> {
        let (a, b) = (self.views[k].id?, self.views[base].id?);
        let mut h = crate::hash::fnv1a64(&a.to_le_bytes());
        h = crate::hash::fnv1a64_extend(h, &b.to_le_bytes());
        h = crate::hash::fnv1a64_extend(h, &(self.views[k].cols as u64).to_le_bytes());
        for d in &self.shape {
            h = crate::hash::fnv1a64_extend(h, &(*d as u64).to_le_bytes());
        }
        let load = self.load_dtype.map_or(0u8, |d| d as u8 + 1);
        Some(crate::hash::fnv1a64_extend(h, &[load]))
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// Whether there are no inputs.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    /// Output shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Output element count.
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// Bytes the inputs occupy in storage (for throughput accounting).
    pub fn bytes_read(&self) -> usize {
        self.views.iter().map(|v| self.numel * v.dtype.size()).sum()
    }

    /// Decodes elements `[start, start + out.len())` of input `k` into `out`.
    pub fn decode(&self, k: usize, start: usize, out: &mut [f32]) {
        let v = &self.views[k];
        let es = v.dtype.size();
        if v.cols == v.src_cols {
            decode_into(v.dtype, &v.bytes[start * es..(start + out.len()) * es], out);
        } else {
            // Common sub-matrix: walk row segments.
            let mut i = 0;
            while i < out.len() {
                let idx = start + i;
                let (row, col) = (idx / v.cols, idx % v.cols);
                let n = (v.cols - col).min(out.len() - i);
                let s = row * v.src_cols + col;
                decode_into(v.dtype, &v.bytes[s * es..(s + n) * es], &mut out[i..i + n]);
                i += n;
            }
        }
        if let Some(d) = self.load_dtype {
            if d != v.dtype && !v.exact {
                round_to(d, out);
            }
        }
    }

    /// Task vector `x_k − x_base` for elements `[start, start + out.len())`.
    pub fn decode_delta(&self, k: usize, base: usize, start: usize, out: &mut [f32]) {
        const B: usize = 1024;
        let mut b = [0f32; B];
        self.decode(k, start, out);
        for (i, o) in out.chunks_mut(B).enumerate() {
            let n = o.len();
            self.decode(base, start + i * B, &mut b[..n]);
            o.iter_mut().zip(&b[..n]).for_each(|(x, y)| *x -= y);
        }
    }

    /// Input `k` as a full f32 vector (for methods that need whole-tensor operations).
    pub fn to_vec(&self, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.numel];
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, dst)| self.decode(k, c * CHUNK, dst));
        out
    }

    /// Runs `f(start, inputs, out)` over chunks in parallel, where `inputs[j]` is the chunk of
    /// input `which[j]`, and encodes every `out` chunk into `dtype` in `dst`.
    pub fn map_chunks<F>(&self, which: &[usize], dtype: DType, dst: &mut [u8], f: F)
    where
        F: Fn(usize, &[&[f32]], &mut [f32]) + Sync,
    {
        let es = dtype.size();
        debug_assert_eq!(dst.len(), self.numel * es);
        dst.par_chunks_mut(CHUNK * es).enumerate().for_each_init(
            || (vec![vec![0f32; CHUNK]; which.len()], vec![0f32; CHUNK]),
            |(bufs, out), (c, dst)| {
                let start = c * CHUNK;
                let n = dst.len() / es;
                for (b, &k) in bufs.iter_mut().zip(which) {
                    self.decode(k, start, &mut b[..n]);
                }
                let ins: Vec<&[f32]> = bufs.iter().map(|b| &b[..n]).collect();
                f(start, &ins, &mut out[..n]);
                encode_into(dtype, &out[..n], dst);
            },
        );
    }

    /// Folds `f(acc, start, inputs)` over chunks in parallel and combines the per-chunk
    /// results with `combine` in chunk order, so float reductions give the same bits on any
    /// thread count; `identity` makes a fresh accumulator.
    pub fn fold_chunks<T, I, F, C>(&self, which: &[usize], identity: I, f: F, combine: C) -> T
    where
        T: Send,
        I: Fn() -> T + Sync + Send,
        F: Fn(T, usize, &[&[f32]]) -> T + Sync + Send,
        C: Fn(T, T) -> T + Sync + Send,
    {
        let n_chunks = self.numel.div_ceil(CHUNK);
        let partials: Vec<T> = (0..n_chunks)
            .into_par_iter()
            .map_init(
                || vec![vec![0f32; CHUNK]; which.len()],
                |bufs, c| {
                    let start = c * CHUNK;
                    let n = CHUNK.min(self.numel - start);
                    for (b, &k) in bufs.iter_mut().zip(which) {
                        self.decode(k, start, &mut b[..n]);
                    }
                    let ins: Vec<&[f32]> = bufs.iter().map(|b| &b[..n]).collect();
                    f(identity(), start, &ins)
                },
            )
            .collect();
        partials.into_iter().fold(identity(), combine)
    }
}

/// Encodes a full f32 tensor into `dtype` bytes in `dst`.
pub fn encode_to(dtype: DType, values: &[f32], dst: &mut [u8]) {
    let es = dtype.size();
    dst.par_chunks_mut(CHUNK * es)
        .zip(values.par_chunks(CHUNK))
        .for_each(|(d, s)| encode_into(dtype, s, d));
}

/// Encodes a full f32 tensor into new `dtype` bytes.
pub fn encode(dtype: DType, values: &[f32]) -> Vec<u8> {
    let mut bytes = vec![0u8; values.len() * dtype.size()];
    encode_to(dtype, values, &mut bytes);
    bytes
}

/// Decodes `dtype` bytes into f32 (for reading merged outputs back).
pub fn decode(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    let mut out = vec![0f32; bytes.len() / dtype.size()];
    decode_to(dtype, bytes, &mut out);
    out
}

/// Decodes `dtype` bytes into `out` (one f32 per element), in parallel chunks.
pub fn decode_to(dtype: DType, bytes: &[u8], out: &mut [f32]) {
    let es = dtype.size();
    debug_assert_eq!(bytes.len(), out.len() * es);
    out.par_chunks_mut(CHUNK)
        .zip(bytes.par_chunks(CHUNK * es))
        .for_each(|(o, b)| decode_into(dtype, b, o));
}
