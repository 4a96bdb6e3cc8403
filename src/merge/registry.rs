//! The one table of merge methods. Each entry declares its parameter schema; config
//! validation, CLI help and (later) the search space all derive from it.

use super::inputs::TensorInputs;
use super::job::TensorJob;
use super::methods;
use crate::error::Result;

/// Where a parameter is set: once per tensor, or per input model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Evaluated once per output tensor (`parameters:` at top or slice level).
    Global,
    /// Evaluated per input model (`models[i].parameters`), falling back to global levels.
    PerModel,
}

/// How a parameter's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Real number.
    Float,
    /// `true`/`false` (0/1 accepted).
    Bool,
    /// Non-negative integer.
    Int,
}

/// Default of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamDefault {
    /// Must be given (for per-model parameters: for every non-base model).
    Required,
    /// Optional with no value (e.g. passthrough `scale`).
    Absent,
    /// Optional with this value.
    Value(f64),
}

/// One parameter of a method.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    /// Name as written in YAML.
    pub name: &'static str,
    /// Global or per model.
    pub scope: Scope,
    /// Value kind.
    pub kind: Kind,
    /// Default.
    pub default: ParamDefault,
}

const fn p(name: &'static str, scope: Scope, kind: Kind, default: ParamDefault) -> ParamDef {
    ParamDef {
        name,
        scope,
        kind,
        default,
    }
}

/// What a method needs of the base model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseRule {
    /// A base model must be given.
    Required,
    /// Used when given.
    Optional,
}

/// How many non-base inputs a method accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// At least this many.
    AtLeast(usize),
    /// Exactly this many.
    Exactly(usize),
}

/// A merge kernel: merges one output tensor into `dst`, the output's bytes in
/// `job.out_dtype` (`numel × dtype size`; the caller reuses the buffer across tensors).
pub type Kernel = fn(&TensorJob, &TensorInputs, &MergeOptions, &mut [u8]) -> Result<()>;

/// Options that are not part of the recipe.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Seed of the ChaCha streams random masks are drawn from.
    pub seed: u64,
    /// Task-vector rankings shared across merges (a search's candidates); `None` computes
    /// magnitude thresholds afresh each time. Results are identical either way.
    pub ranks: Option<std::sync::Arc<super::rank_cache::RankCache>>,
}

/// A registered merge method.
#[derive(Debug, Clone, Copy)]
pub struct MethodDef {
    /// Name as written in `merge_method`.
    pub name: &'static str,
    /// Paper or reference for the formulas.
    pub reference: &'static str,
    /// Parameter schema.
    pub params: &'static [ParamDef],
    /// Base model requirement.
    pub base: BaseRule,
    /// Non-base input count (passthrough counts every source).
    pub arity: Arity,
    /// Whether the base model's tensor is one of the merged inputs (linear, karcher,
    /// passthrough) rather than a separate anchor.
    pub base_is_input: bool,
    /// The kernel.
    pub kernel: Kernel,
}

impl MethodDef {
    /// The schema entry for `name`.
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }
}

use Kind::{Bool, Float, Int};
use ParamDefault::{Absent, Required, Value};
use Scope::{Global, PerModel};

const GTA_BASE: [ParamDef; 4] = [
    p("weight", PerModel, Float, Required),
    p("density", PerModel, Float, Value(1.0)),
    p("lambda", Global, Float, Value(1.0)),
    p("int8_mask", Global, Bool, Value(0.0)),
];

macro_rules! gta_params {
    ($normalize:expr, $rescale:expr $(, $extra:expr)*) => {
        &[
            GTA_BASE[0],
            GTA_BASE[1],
            GTA_BASE[2],
            GTA_BASE[3],
            p("normalize", Global, Bool, Value($normalize)),
            p("rescale", Global, Bool, Value($rescale)),
            $($extra,)*
        ]
    };
}

const GAMMA: ParamDef = p("gamma", PerModel, Float, Value(0.01));
const EPSILON: ParamDef = p("epsilon", PerModel, Float, Value(0.15));

/// Every merge method, in the order `--help` lists them.
pub static METHODS: &[MethodDef] = &[
    MethodDef {
        name: "linear",
        reference: "https://arxiv.org/abs/2203.05482",
        params: &[
            p("weight", PerModel, Float, Required),
            p("normalize", Global, Bool, Value(1.0)),
        ],
        base: BaseRule::Optional,
        arity: Arity::AtLeast(1),
        base_is_input: true,
        kernel: methods::linear::merge,
    },
    MethodDef {
        name: "task_arithmetic",
        reference: "https://arxiv.org/abs/2212.04089",
        params: gta_params!(0.0, 0.0),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::task_arithmetic,
    },
    MethodDef {
        name: "ties",
        reference: "https://arxiv.org/abs/2306.01708",
        params: gta_params!(1.0, 0.0),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::ties,
    },
    MethodDef {
        name: "dare_ties",
        reference: "https://arxiv.org/abs/2311.03099",
        params: gta_params!(0.0, 1.0),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::dare_ties,
    },
    MethodDef {
        name: "dare_linear",
        reference: "https://arxiv.org/abs/2311.03099",
        params: gta_params!(0.0, 1.0),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::dare_linear,
    },
    MethodDef {
        name: "breadcrumbs",
        reference: "https://arxiv.org/abs/2312.06795",
        params: gta_params!(0.0, 0.0, GAMMA),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::breadcrumbs,
    },
    MethodDef {
        name: "breadcrumbs_ties",
        reference: "https://arxiv.org/abs/2312.06795",
        params: gta_params!(0.0, 0.0, GAMMA),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::breadcrumbs_ties,
    },
    MethodDef {
        name: "della",
        reference: "https://arxiv.org/abs/2406.11617",
        params: gta_params!(1.0, 1.0, EPSILON),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::della,
    },
    MethodDef {
        name: "della_linear",
        reference: "https://arxiv.org/abs/2406.11617",
        params: gta_params!(0.0, 1.0, EPSILON),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::della_linear,
    },
    MethodDef {
        name: "slerp",
        reference: "https://en.wikipedia.org/wiki/Slerp",
        params: &[p("t", Global, Float, Required)],
        base: BaseRule::Required,
        arity: Arity::Exactly(1),
        base_is_input: false,
        kernel: methods::slerp::merge,
    },
    MethodDef {
        name: "nuslerp",
        reference: "https://github.com/arcee-ai/mergekit (mergekit/merge_methods/nuslerp.py)",
        params: &[
            p("weight", PerModel, Float, Required),
            p("nuslerp_flatten", Global, Bool, Value(1.0)),
            p("nuslerp_row_wise", Global, Bool, Value(0.0)),
        ],
        base: BaseRule::Optional,
        arity: Arity::Exactly(2),
        base_is_input: false,
        kernel: methods::nuslerp::merge,
    },
    MethodDef {
        name: "multislerp",
        reference: "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea",
        params: &[
            p("weight", PerModel, Float, Required),
            p("normalize_weights", Global, Bool, Value(1.0)),
            p("eps", Global, Float, Value(1e-8)),
        ],
        base: BaseRule::Optional,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::multislerp::merge,
    },
    MethodDef {
        name: "karcher",
        reference: "https://arxiv.org/abs/2603.04972",
        params: &[
            p("max_iter", Global, Int, Value(10.0)),
            p("tol", Global, Float, Value(1e-5)),
        ],
        base: BaseRule::Optional,
        arity: Arity::AtLeast(1),
        base_is_input: true,
        kernel: methods::karcher::merge,
    },
    MethodDef {
        name: "model_stock",
        reference: "https://arxiv.org/abs/2403.19522",
        params: &[p("filter_wise", Global, Bool, Value(0.0))],
        base: BaseRule::Required,
        arity: Arity::AtLeast(2),
        base_is_input: false,
        kernel: methods::model_stock::merge,
    },
    MethodDef {
        name: "sce",
        reference: "https://arxiv.org/abs/2408.07990",
        params: &[
            p("select_topk", Global, Float, Value(1.0)),
            p("int8_mask", Global, Bool, Value(0.0)),
        ],
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::sce::merge,
    },
    MethodDef {
        name: "nearswap",
        reference: "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001",
        params: &[p("t", Global, Float, Required)],
        base: BaseRule::Required,
        arity: Arity::Exactly(1),
        base_is_input: false,
        kernel: methods::nearswap::merge,
    },
    MethodDef {
        name: "passthrough",
        reference: "https://github.com/arcee-ai/mergekit (mergekit/merge_methods/passthrough.py)",
        params: &[p("scale", PerModel, Float, Absent)],
        base: BaseRule::Optional,
        arity: Arity::Exactly(1),
        base_is_input: true,
        kernel: methods::passthrough::merge,
    },
    MethodDef {
        name: "ram",
        reference: "https://arxiv.org/abs/2601.13572",
        params: &[p("epsilon", Global, Float, Value(1e-5))],
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::ram::merge,
    },
    MethodDef {
        name: "arcee_fusion",
        reference: "https://github.com/arcee-ai/mergekit (mergekit/merge_methods/arcee_fusion.py)",
        params: &[],
        base: BaseRule::Required,
        arity: Arity::Exactly(1),
        base_is_input: false,
        kernel: methods::arcee_fusion::merge,
    },
];

/// Looks a method up by name.
pub fn method(name: &str) -> Option<&'static MethodDef> {
    METHODS.iter().find(|m| m.name == name)
}

/// Names of all methods, for error messages and help.
pub fn method_names() -> Vec<&'static str> {
    METHODS.iter().map(|m| m.name).collect()
}
