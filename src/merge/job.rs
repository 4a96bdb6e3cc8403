//! One output tensor's fully resolved merge: its inputs, their roles and parameter values.

use std::collections::BTreeMap;

use crate::checkpoint::DType;

/// Resolved parameter values (booleans are 0/1, integers whole numbers).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub BTreeMap<&'static str, f64>);

impl Params {
    /// Builds from pairs.
    pub fn from_pairs(pairs: &[(&'static str, f64)]) -> Params {
        Params(pairs.iter().copied().collect())
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    /// The value of `name`, or `default`.
    pub fn or(&self, name: &str, default: f64) -> f64 {
        self.get(name).unwrap_or(default)
    }

    /// A boolean parameter (absent = `default`).
    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.get(name).map(|v| v != 0.0).unwrap_or(default)
    }
}

/// One input of a tensor merge.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRef {
    /// Index of the model in the plan's model list.
    pub model: usize,
    /// Name of the tensor in that model.
    pub tensor: String,
    /// Per-model parameter values.
    pub params: Params,
}

/// Everything needed to merge one output tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorJob {
    /// Output tensor name.
    pub name: String,
    /// Output shape (the common sub-matrix for embeddings of different vocab sizes).
    pub shape: Vec<usize>,
    /// Output dtype.
    pub out_dtype: DType,
    /// Dtype inputs are rounded to before merging (mergekit's `dtype`), if any.
    pub load_dtype: Option<DType>,
    /// Layer position used for gradients (`layer/(n − 1)` in a slice; 0 outside the layers).
    pub t: f64,
    /// Inputs in config order.
    pub sources: Vec<SourceRef>,
    /// Which input is the base model, if any.
    pub base: Option<usize>,
    /// Global parameter values.
    pub global: Params,
}

impl TensorJob {
    /// Number of elements of the output.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Indices of the inputs that are not the base.
    pub fn others(&self) -> Vec<usize> {
        (0..self.sources.len())
            .filter(|&i| Some(i) != self.base)
            .collect()
    }

    /// A job over in-memory inputs, for tests and the lazy candidate: source `i` reads
    /// model `i`, tensor `name`.
    pub fn in_memory(
        name: &str,
        shape: &[usize],
        base: Option<usize>,
        per_model: Vec<Params>,
        global: Params,
    ) -> TensorJob {
        TensorJob {
            name: name.to_string(),
            shape: shape.to_vec(),
            out_dtype: DType::F32,
            load_dtype: None,
            t: 0.0,
            sources: per_model
                .into_iter()
                .enumerate()
                .map(|(i, params)| SourceRef {
                    model: i,
                    tensor: name.to_string(),
                    params,
                })
                .collect(),
            base,
            global,
        }
    }
}
