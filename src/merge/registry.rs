//! The one table of merge methods. Each entry declares its parameter schema (scope, kind,
//! default and [`Domain`]); config validation ([`super::plan`]), `mergesearch methods`
//! ([`methods_table`]) and the search space ([`crate::space`]) all derive from it.
//!
//! Domains follow mergekit (`mergekit/merge_methods/*.py`, `mergekit/sparsify.py`): where
//! mergekit documents or enforces a range it is declared here; where it accepts any float
//! (weights, `lambda`, `scale`) the domain is the real line.

use super::inputs::TensorInputs;
use super::job::{Params, TensorJob};
use super::methods;
use crate::error::Result;

pub use super::domain::{Bound, Domain};

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

/// One parameter of a method: the single schema validation, help and search derive from.
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
    /// The values it may take (booleans: [`Domain::UNIT`], read as 0/1).
    pub domain: Domain,
}

impl ParamDef {
    /// Whether the resolved value `x` is admissible: inside [`ParamDef::domain`], and a
    /// whole number for [`Kind::Int`], 0 or 1 for [`Kind::Bool`].
    pub fn admits(&self, x: f64) -> bool {
        let kind_ok = match self.kind {
            Kind::Float => x.is_finite(),
            Kind::Int => x.fract() == 0.0,
            Kind::Bool => x == 0.0 || x == 1.0,
        };
        kind_ok && self.domain.contains(x)
    }

    /// One-line help: name, default and domain, e.g. `` `density` = 1.0 in [0, 1] ``,
    /// `` `weight` (required) ``, `` `normalize` = true ``.
    pub fn describe(&self) -> String {
        let mut s = match self.default {
            ParamDefault::Required => format!("`{}` (required)", self.name),
            ParamDefault::Absent => format!("`{}` (optional)", self.name),
            ParamDefault::Value(v) if self.kind == Kind::Bool => {
                format!("`{}` = {}", self.name, v != 0.0)
            }
            ParamDefault::Value(v) if self.kind == Kind::Int => format!("`{}` = {v}", self.name),
            ParamDefault::Value(v) => format!("`{}` = {v:?}", self.name),
        };
        if self.kind != Kind::Bool && !self.domain.is_real_line() {
            s += &format!(" in {}", self.domain);
        }
        s
    }
}

const fn p(
    name: &'static str,
    scope: Scope,
    kind: Kind,
    default: ParamDefault,
    domain: Domain,
) -> ParamDef {
    ParamDef {
        name,
        scope,
        kind,
        default,
        domain,
    }
}

/// A condition on several parameters of one input model that no single domain expresses
/// (della's `density ± epsilon` inside (0, 1)), declared next to its method's entry.
#[derive(Debug, Clone, Copy)]
pub struct JointRule {
    /// The condition in words, for help.
    pub describe: &'static str,
    /// The per-model parameters it reads (the search space checks it over their bounds).
    pub reads: &'static [&'static str],
    /// Gets one model's resolved per-model values; `Err` explains the violation without
    /// location (the caller adds model and tensor).
    pub check: fn(&Params) -> std::result::Result<(), String>,
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
    /// A joint condition on each non-base model's per-model values, if any.
    pub joint: Option<JointRule>,
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

    /// Checks [`MethodDef::joint`] on one model's per-model values.
    pub fn check_joint(&self, per_model: &Params) -> std::result::Result<(), String> {
        self.joint.map_or(Ok(()), |rule| (rule.check)(per_model))
    }
}

use Kind::{Bool, Float, Int};
use ParamDefault::{Absent, Required, Value};
use Scope::{Global, PerModel};

/// Booleans are 0/1.
const B: Domain = Domain::UNIT;

/// The generalized task-arithmetic parameters (`generalized_task_arithmetic.py`): `weight`
/// and `lambda` are any float (a negative weight subtracts a task vector); `density` is the
/// kept fraction, `[0, 1]` (`sparsify.py`: ≥ 1 keeps everything; below 0 means nothing).
const GTA_BASE: [ParamDef; 4] = [
    p("weight", PerModel, Float, Required, Domain::REAL),
    p("density", PerModel, Float, Value(1.0), Domain::UNIT),
    p("lambda", Global, Float, Value(1.0), Domain::REAL),
    p("int8_mask", Global, Bool, Value(0.0), B),
];

macro_rules! gta_params {
    ($normalize:expr, $rescale:expr $(, $extra:expr)*) => {
        &[
            GTA_BASE[0],
            GTA_BASE[1],
            GTA_BASE[2],
            GTA_BASE[3],
            p("normalize", Global, Bool, Value($normalize), B),
            p("rescale", Global, Bool, Value($rescale), B),
            $($extra,)*
        ]
    };
}

/// Breadcrumbs' fraction of largest-magnitude entries removed (`sparsify.py`
/// `magnitude_outliers`: `n_top = int(gamma · numel)`), so `[0, 1]`.
const GAMMA: ParamDef = p("gamma", PerModel, Float, Value(0.01), Domain::UNIT);
/// DELLA's spread of keep probabilities around `density` (`sparsify.py` `della_magprune`);
/// `≥ 0` on its own, and jointly `density ± epsilon` inside (0, 1): [`DELLA_KEEP_RANGE`].
const EPSILON: ParamDef = p(
    "epsilon",
    PerModel,
    Float,
    Value(0.15),
    Domain::NON_NEGATIVE,
);

/// DELLA's joint condition as a [`JointRule`].
pub const DELLA_KEEP_RANGE: JointRule = JointRule {
    describe: "0 < density − epsilon and density + epsilon < 1 where 0 < density < 1",
    reads: &["density", "epsilon"],
    check: della_keep_range,
};

/// DELLA's joint condition (`sparsify.py` `della_magprune`: "Epsilon must be chosen such
/// that density +/- epsilon is in (0, 1)"), checked only where MagPrune runs, i.e. for
/// `0 < density < 1` (mergekit returns early for density ≥ 1 and ≤ 0).
pub fn della_keep_range(p: &Params) -> std::result::Result<(), String> {
    let (Some(d), Some(e)) = (p.get("density"), p.get("epsilon")) else {
        return Ok(());
    };
    if d < 1.0 && d > 0.0 && (d - e <= 0.0 || d + e >= 1.0) {
        return Err(format!(
            "della keeps entries with probability in [density − epsilon, density + epsilon], which must lie inside (0, 1); density = {d}, epsilon = {e}"
        ));
    }
    Ok(())
}

/// Every merge method, in the order `--help` lists them.
pub static METHODS: &[MethodDef] = &[
    MethodDef {
        name: "linear",
        reference: "https://arxiv.org/abs/2203.05482",
        params: &[
            p("weight", PerModel, Float, Required, Domain::REAL),
            p("normalize", Global, Bool, Value(1.0), B),
        ],
        joint: None,
        base: BaseRule::Optional,
        arity: Arity::AtLeast(1),
        base_is_input: true,
        kernel: methods::linear::merge,
    },
    MethodDef {
        name: "task_arithmetic",
        reference: "https://arxiv.org/abs/2212.04089",
        params: gta_params!(0.0, 0.0),
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::task_arithmetic,
    },
    MethodDef {
        name: "ties",
        reference: "https://arxiv.org/abs/2306.01708",
        params: gta_params!(1.0, 0.0),
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::ties,
    },
    MethodDef {
        name: "dare_ties",
        reference: "https://arxiv.org/abs/2311.03099",
        params: gta_params!(0.0, 1.0),
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::dare_ties,
    },
    MethodDef {
        name: "dare_linear",
        reference: "https://arxiv.org/abs/2311.03099",
        params: gta_params!(0.0, 1.0),
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::dare_linear,
    },
    MethodDef {
        name: "breadcrumbs",
        reference: "https://arxiv.org/abs/2312.06795",
        params: gta_params!(0.0, 0.0, GAMMA),
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::breadcrumbs,
    },
    MethodDef {
        name: "breadcrumbs_ties",
        reference: "https://arxiv.org/abs/2312.06795",
        params: gta_params!(0.0, 0.0, GAMMA),
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::breadcrumbs_ties,
    },
    MethodDef {
        name: "della",
        reference: "https://arxiv.org/abs/2406.11617",
        params: gta_params!(1.0, 1.0, EPSILON),
        joint: Some(DELLA_KEEP_RANGE),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::della,
    },
    MethodDef {
        name: "della_linear",
        reference: "https://arxiv.org/abs/2406.11617",
        params: gta_params!(0.0, 1.0, EPSILON),
        joint: Some(DELLA_KEEP_RANGE),
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::task_arithmetic::della_linear,
    },
    MethodDef {
        name: "slerp",
        reference: "https://en.wikipedia.org/wiki/Slerp",
        // `slerp.py`: "t: Float value between 0.0 and 1.0" (base at 0, other model at 1).
        params: &[p("t", Global, Float, Required, Domain::UNIT)],
        joint: None,
        base: BaseRule::Required,
        arity: Arity::Exactly(1),
        base_is_input: false,
        kernel: methods::slerp::merge,
    },
    MethodDef {
        name: "nuslerp",
        reference: "https://github.com/arcee-ai/mergekit (mergekit/merge_methods/nuslerp.py)",
        params: &[
            p("weight", PerModel, Float, Required, Domain::REAL),
            p("nuslerp_flatten", Global, Bool, Value(1.0), B),
            p("nuslerp_row_wise", Global, Bool, Value(0.0), B),
        ],
        joint: None,
        base: BaseRule::Optional,
        arity: Arity::Exactly(2),
        base_is_input: false,
        kernel: methods::nuslerp::merge,
    },
    MethodDef {
        name: "multislerp",
        reference: "https://goddard.blog/posts/multislerp-wow-what-a-cool-idea",
        params: &[
            p("weight", PerModel, Float, Required, Domain::REAL),
            p("normalize_weights", Global, Bool, Value(1.0), B),
            // `multislerp.py` divides by `norms + eps` and compares norms to it: > 0.
            p("eps", Global, Float, Value(1e-8), Domain::POSITIVE),
        ],
        joint: None,
        base: BaseRule::Optional,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::multislerp::merge,
    },
    MethodDef {
        name: "karcher",
        reference: "https://arxiv.org/abs/2603.04972",
        params: &[
            // `karcher.py`: an iteration count and a convergence tolerance.
            p("max_iter", Global, Int, Value(10.0), Domain::AT_LEAST_ONE),
            p("tol", Global, Float, Value(1e-5), Domain::POSITIVE),
        ],
        joint: None,
        base: BaseRule::Optional,
        arity: Arity::AtLeast(1),
        base_is_input: true,
        kernel: methods::karcher::merge,
    },
    MethodDef {
        name: "model_stock",
        reference: "https://arxiv.org/abs/2403.19522",
        params: &[p("filter_wise", Global, Bool, Value(0.0), B)],
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(2),
        base_is_input: false,
        kernel: methods::model_stock::merge,
    },
    MethodDef {
        name: "sce",
        reference: "https://arxiv.org/abs/2408.07990",
        params: &[
            // `sce.py`: the kept fraction of highest-variance entries.
            p("select_topk", Global, Float, Value(1.0), Domain::UNIT),
            p("int8_mask", Global, Bool, Value(0.0), B),
        ],
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::sce::merge,
    },
    MethodDef {
        name: "nearswap",
        reference: "https://huggingface.co/alchemonaut/QuartetAnemoi-70B-t0.0001",
        // `nearswap.py`: `t` is a distance threshold, `w = clamp(t / |a − b|, 0, 1)`, so
        // `≥ 0` (mergekit does not check; a negative `t` would act as 0).
        params: &[p("t", Global, Float, Required, Domain::NON_NEGATIVE)],
        joint: None,
        base: BaseRule::Required,
        arity: Arity::Exactly(1),
        base_is_input: false,
        kernel: methods::nearswap::merge,
    },
    MethodDef {
        name: "passthrough",
        reference: "https://github.com/arcee-ai/mergekit (mergekit/merge_methods/passthrough.py)",
        params: &[p("scale", PerModel, Float, Absent, Domain::REAL)],
        joint: None,
        base: BaseRule::Optional,
        arity: Arity::Exactly(1),
        base_is_input: true,
        kernel: methods::passthrough::merge,
    },
    MethodDef {
        name: "ram",
        reference: "https://arxiv.org/abs/2601.13572",
        // `ram.py`: the magnitude below which a task-vector entry counts as zero.
        params: &[p(
            "epsilon",
            Global,
            Float,
            Value(1e-5),
            Domain::NON_NEGATIVE,
        )],
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::ram::merge,
    },
    MethodDef {
        name: "ramplus_tl",
        reference: "https://arxiv.org/abs/2601.13572",
        // `ram.py` (`ramplus_tl_merge`): `r` scales the boost of a model's unique entries,
        // `alpha` caps the shared/unique ratio it is proportional to, `epsilon` as in `ram`.
        params: &[
            p("r", Global, Float, Value(0.1), Domain::REAL),
            p("alpha", Global, Float, Value(0.2), Domain::NON_NEGATIVE),
            p("epsilon", Global, Float, Value(1e-5), Domain::NON_NEGATIVE),
        ],
        joint: None,
        base: BaseRule::Required,
        arity: Arity::AtLeast(1),
        base_is_input: false,
        kernel: methods::ram::merge_plus,
    },
    MethodDef {
        name: "arcee_fusion",
        reference: "https://github.com/arcee-ai/mergekit (mergekit/merge_methods/arcee_fusion.py)",
        params: &[],
        joint: None,
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
