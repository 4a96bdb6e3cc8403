//! Opening a Hugging Face model directory: `config.json` plus one `model.safetensors` or
//! shards listed in `model.safetensors.index.json`, memory-mapped, headers parsed up front.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::SafeTensors;

use super::dtype::DType;
use crate::error::{Error, Result};

/// Where one tensor lives and what it is, read from a safetensors header.
#[derive(Debug, Clone)]
pub struct TensorMeta {
    /// Index into [`ModelDir::shards`].
    pub shard: usize,
    /// Storage dtype.
    pub dtype: DType,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// Byte range of the data inside the shard file (absolute, header included).
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
}

impl TensorMeta {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One memory-mapped safetensors file.
#[derive(Debug)]
pub struct Shard {
    /// The file.
    pub path: PathBuf,
    /// Its mapping.
    pub mmap: Mmap,
}

/// An opened HF checkpoint directory. Only headers are read; tensor data is paged in on use.
#[derive(Debug)]
pub struct ModelDir {
    /// The directory.
    pub path: PathBuf,
    /// Parsed `config.json` (`Null` when absent).
    pub config: serde_json::Value,
    /// The memory-mapped shard files.
    pub shards: Vec<Shard>,
    /// Every floating-point tensor by name.
    pub tensors: HashMap<String, TensorMeta>,
    /// Tensors of other dtypes (integer buffers such as `position_ids`): (name, dtype).
    /// They are not merged; the plan warns about them.
    pub skipped: Vec<(String, String)>,
    /// Identity of these exact files (canonical path, sizes and modification times): caches
    /// keyed by it survive reopening the directory and miss once a file is rewritten.
    pub uid: u64,
}

impl ModelDir {
    /// Opens `path`, mapping every shard and validating every header (offsets, sizes, dtypes).
    pub fn open(path: &Path) -> Result<ModelDir> {
        if !path.is_dir() {
            return Err(Error::checkpoint(
                path,
                "not a directory (expected a Hugging Face model directory with config.json and *.safetensors)",
            ));
        }
        let config = read_config(path)?;
        let shard_files = shard_files(path)?;
        let mut shards = Vec::with_capacity(shard_files.len());
        let mut tensors = HashMap::new();
        let mut skipped = Vec::new();
        let canonical = path.canonicalize().map_err(|e| Error::io(path, e))?;
        let mut uid = crate::hash::fnv1a64(canonical.as_os_str().as_encoded_bytes());
        for (idx, file) in shard_files.iter().enumerate() {
            let f = File::open(file).map_err(|e| Error::io(file, e))?;
            let md = f.metadata().map_err(|e| Error::io(file, e))?;
            let mtime = md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            uid = crate::hash::fnv1a64_extend(uid, file.as_os_str().as_encoded_bytes());
            uid = crate::hash::fnv1a64_extend(uid, &md.len().to_le_bytes());
            uid = crate::hash::fnv1a64_extend(uid, &mtime.to_le_bytes());
            // SAFETY: the mapping is read-only; a checkpoint modified while we merge is the
            // user's race, as with every mmap-based loader (candle, safetensors, torch).
            let mmap = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(file, e))?;
            parse_header(file, &mmap, idx, &mut tensors, &mut skipped)?;
            shards.push(Shard {
                path: file.clone(),
                mmap,
            });
        }
        Ok(ModelDir {
            path: path.to_path_buf(),
            config,
            shards,
            tensors,
            skipped,
            uid,
        })
    }

    /// Metadata of `name`, if present.
    pub fn meta(&self, name: &str) -> Option<&TensorMeta> {
        self.tensors.get(name)
    }

    /// The raw little-endian bytes of a tensor (zero-copy view into the mapping).
    pub fn bytes(&self, meta: &TensorMeta) -> &[u8] {
        &self.shards[meta.shard].mmap[meta.start..meta.end]
    }

    /// Number of transformer layers: `num_hidden_layers` from config.json, else inferred
    /// from tensor names.
    pub fn num_layers(&self) -> usize {
        if let Some(n) = self
            .config
            .get("num_hidden_layers")
            .and_then(|v| v.as_u64())
        {
            return n as usize;
        }
        self.tensors
            .keys()
            .filter_map(|n| super::names::layer_index(n).map(|(_, i, _)| i + 1))
            .max()
            .unwrap_or(0)
    }
}

fn read_config(dir: &Path) -> Result<serde_json::Value> {
    let p = dir.join("config.json");
    if !p.exists() {
        return Err(Error::checkpoint(dir, "config.json is missing"));
    }
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&text).map_err(|e| Error::checkpoint(&p, format!("invalid JSON: {e}")))
}

/// Lists the shard files: the index's `weight_map` when present, else `model.safetensors`.
fn shard_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::checkpoint(&index, format!("invalid JSON: {e}")))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| Error::checkpoint(&index, "expected an object field \"weight_map\""))?;
        let mut files: BTreeMap<String, ()> = BTreeMap::new();
        for (tensor, file) in map {
            let f = file.as_str().ok_or_else(|| {
                Error::checkpoint(
                    &index,
                    format!("weight_map[\"{tensor}\"] should be a file name string"),
                )
            })?;
            files.insert(f.to_string(), ());
        }
        let mut out = Vec::new();
        for f in files.keys() {
            let p = dir.join(f);
            if !p.exists() {
                return Err(Error::checkpoint(
                    &index,
                    format!("shard {f} listed in weight_map does not exist"),
                ));
            }
            out.push(p);
        }
        return Ok(out);
    }
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    Err(Error::checkpoint(
        dir,
        "no model.safetensors or model.safetensors.index.json found",
    ))
}

fn parse_header(
    file: &Path,
    buf: &[u8],
    shard: usize,
    out: &mut HashMap<String, TensorMeta>,
    skipped: &mut Vec<(String, String)>,
) -> Result<()> {
    check_header(file, buf)?;
    let (n, meta) = SafeTensors::read_metadata(buf).map_err(|e| {
        let what = match e {
            safetensors::SafeTensorError::MetadataIncompleteBuffer => {
                "file is truncated or has trailing bytes (data size does not match the header)"
                    .to_string()
            }
            other => format!("corrupt safetensors header: {other}"),
        };
        Error::checkpoint(file, what)
    })?;
    let data_start = 8 + n;
    for (name, info) in meta.tensors() {
        let Some(dtype) = DType::from_safetensors(info.dtype) else {
            if is_parameter(&name) {
                return Err(Error::checkpoint(
                    file,
                    format!(
                        "tensor {name} has dtype {:?} (shape {:?}), which mergesearch cannot read: \
                         weights must be F32, F16 or BF16 (dequantize the checkpoint first)",
                        info.dtype, info.shape
                    ),
                ));
            }
            skipped.push((name, format!("{:?}", info.dtype)));
            continue;
        };
        if out.contains_key(&name) {
            return Err(Error::checkpoint(
                file,
                format!("tensor {name} appears in more than one shard"),
            ));
        }
        out.insert(
            name,
            TensorMeta {
                shard,
                dtype,
                shape: info.shape.clone(),
                start: data_start + info.data_offsets.0,
                end: data_start + info.data_offsets.1,
            },
        );
    }
    Ok(())
}

/// Whether `name` is a model parameter (`….weight`, `….bias`) rather than a buffer such as
/// `position_ids`: a parameter in a dtype we cannot read is an error, a buffer is skipped.
fn is_parameter(name: &str) -> bool {
    name.ends_with(".weight") || name.ends_with(".bias")
}

/// Bits per element of a safetensors dtype name, `None` for names safetensors does not define.
fn dtype_bits(name: &str) -> Option<u64> {
    Some(match name {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Checks each tensor entry of the header before the safetensors crate does, so that a huge
/// shape, an unknown dtype or offsets that disagree with the shape are reported with the
/// tensor's name, dtype and shape (the crate reports only "invalid offset").
fn check_header(file: &Path, buf: &[u8]) -> Result<()> {
    let Some(len) = buf.get(..8) else {
        return Err(Error::checkpoint(
            file,
            "file is shorter than the 8-byte safetensors header length",
        ));
    };
    let n = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let data_len = (buf.len() as u64).saturating_sub(8);
    if n > data_len {
        return Err(Error::checkpoint(
            file,
            format!(
                "file is truncated: the header claims {n} bytes but the file holds {data_len} after the length"
            ),
        ));
    }
    let header = &buf[8..8 + n as usize];
    // Malformed JSON is left to the safetensors parser, which names the problem.
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(header)
    else {
        return Ok(());
    };
    let data_len = data_len - n;
    for (name, info) in &map {
        if name == "__metadata__" {
            continue;
        }
        let dtype = info.get("dtype").and_then(|d| d.as_str()).unwrap_or("");
        let shape = info.get("shape").and_then(|s| s.as_array());
        let offsets = info.get("data_offsets").and_then(|s| s.as_array());
        let (Some(shape), Some(offsets)) = (shape, offsets) else {
            return Err(Error::checkpoint(
                file,
                format!("tensor {name}: header entry lacks \"shape\" or \"data_offsets\""),
            ));
        };
        let shape_text = serde_json::Value::Array(shape.clone()).to_string();
        let Some(bits) = dtype_bits(dtype) else {
            return Err(Error::checkpoint(
                file,
                format!("tensor {name} (shape {shape_text}) has unknown dtype {dtype:?}"),
            ));
        };
        let dims: Option<Vec<u64>> = shape.iter().map(|d| d.as_u64()).collect();
        let Some(dims) = dims else {
            return Err(Error::checkpoint(
                file,
                format!(
                    "tensor {name} ({dtype}) has shape {shape_text}, which is not a list of sizes"
                ),
            ));
        };
        let nbytes = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .and_then(|numel| numel.checked_mul(bits))
            .map(|b| b.div_ceil(8));
        let Some(nbytes) = nbytes.filter(|&b| usize::try_from(b).is_ok()) else {
            return Err(Error::checkpoint(
                file,
                format!("tensor {name} ({dtype}) has shape {shape_text}, too large to address"),
            ));
        };
        let range: Option<Vec<u64>> = offsets.iter().map(|d| d.as_u64()).collect();
        let (start, end) = match range.as_deref() {
            Some(&[s, e]) if s <= e => (s, e),
            _ => {
                return Err(Error::checkpoint(
                    file,
                    format!(
                        "tensor {name} ({dtype}, shape {shape_text}) has data_offsets {}, expected [start, end] with start <= end",
                        serde_json::Value::Array(offsets.clone())
                    ),
                ))
            }
        };
        if end - start != nbytes {
            return Err(Error::checkpoint(
                file,
                format!(
                    "tensor {name} ({dtype}, shape {shape_text}) needs {nbytes} bytes but its data_offsets [{start}, {end}] span {}",
                    end - start
                ),
            ));
        }
        if end > data_len {
            return Err(Error::checkpoint(
                file,
                format!(
                    "tensor {name} ({dtype}, shape {shape_text}): data_offsets [{start}, {end}] run past the end of the data ({data_len} bytes); the file is truncated"
                ),
            ));
        }
    }
    Ok(())
}
