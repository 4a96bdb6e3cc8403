//! The method table `mergesearch methods` prints, derived from the registry's schemas
//! (names, defaults and domains) so help cannot drift from validation.

use super::registry::{Arity, BaseRule, Scope, METHODS};

/// A Markdown table of every method: base-model rule, input count, and each parameter as
/// [`ParamDef::describe`](super::registry::ParamDef::describe) writes it
/// (`` `density` = 1.0 in [0, 1] ``).
pub fn methods_table() -> String {
    let mut out = String::from(
        "| method | base model | inputs | global parameters | per-model parameters |\n|---|---|---|---|---|\n",
    );
    for m in METHODS {
        let fmt = |scope: Scope| {
            let v: Vec<String> = m
                .params
                .iter()
                .filter(|p| p.scope == scope)
                .map(|p| p.describe())
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
        let mut params = fmt(Scope::PerModel);
        if let Some(rule) = m.joint {
            params += &format!("; {}", rule.describe);
        }
        out += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            m.name,
            base,
            inputs,
            fmt(Scope::Global),
            params
        );
    }
    out
}
