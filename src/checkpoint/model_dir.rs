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
