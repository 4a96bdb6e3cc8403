//! `mergesearch methods`: the merge methods and their parameters, from the registry.

/// The method table printed by `mergesearch methods`, derived from the registry's schemas.
pub fn methods_table() -> String {
    use mergesearch::merge::registry::{Arity, BaseRule, Kind, ParamDefault, Scope};
    let mut out = String::from(
        "| method | base model | inputs | global parameters | per-model parameters |\n|---|---|---|---|---|\n",
    );
    for m in mergesearch::merge::METHODS {
        let fmt = |scope: Scope| {
            let v: Vec<String> = m
                .params
                .iter()
                .filter(|p| p.scope == scope)
                .map(|p| match p.default {
                    ParamDefault::Required => format!("`{}` (required)", p.name),
                    ParamDefault::Absent => format!("`{}` (optional)", p.name),
                    ParamDefault::Value(v) if p.kind == Kind::Bool => {
                        format!("`{}` = {}", p.name, v != 0.0)
                    }
                    ParamDefault::Value(v) => format!("`{}` = {:?}", p.name, v),
                })
                .collect();
            if v.is_empty() {
                "–".to_string()
            } else {
                v.join(", ")
            }
        };
        let base = match m.base {
            BaseRule::Required => "required",
            BaseRule::Optional => "optional",
        };
        let what = if m.base_is_input { "" } else { " non-base" };
        let inputs = match m.arity {
            Arity::AtLeast(k) => format!("≥ {k}{what}"),
            Arity::Exactly(k) => format!("{k}{what}"),
        };
        out += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            m.name,
            base,
            inputs,
            fmt(Scope::Global),
            fmt(Scope::PerModel)
        );
    }
    out
}
