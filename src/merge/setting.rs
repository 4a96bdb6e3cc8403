//! Parameter settings as mergekit writes them, and their evaluation for one tensor.
//!
//! A setting is a scalar, a gradient list (interpolated over the layers of a slice), or a
//! list of `{filter, value}` entries where the first entry whose filter is a substring of the
//! tensor name wins (`filter` absent or `*` matches everything). This mirrors mergekit's
//! `evaluate_setting` in `mergekit/config.py`.

use serde::{Deserialize, Serialize};

/// A scalar parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// Any number (integers included).
    Number(f64),
    /// A string (mergekit allows them; no built-in method takes one).
    Text(String),
}

/// One `{filter, value}` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditional {
    /// Substring of the tensor name this entry applies to; absent or `*` = every tensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The value: a scalar or a gradient.
    pub value: Setting,
}

/// An item of a list setting: gradients hold scalars, filter lists hold conditionals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ListItem {
    /// A gradient point.
    Scalar(Scalar),
    /// A filter entry.
    Conditional(Box<Conditional>),
}

/// A parameter setting as written in YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// A single value for every tensor.
    Scalar(Scalar),
    /// A gradient or a filter list.
    List(Vec<ListItem>),
    /// A single filter entry (mergekit only accepts it inside a list; we accept both).
    Conditional(Box<Conditional>),
}

impl Setting {
    /// Evaluates the setting for `tensor` at layer position `t ∈ [0, 1]`.
    /// `None` when a filter list has no matching entry.
    pub fn evaluate(&self, tensor: &str, t: f64) -> Option<Scalar> {
        match self {
            Setting::Scalar(s) => Some(s.clone()),
            Setting::Conditional(c) => {
                Setting::List(vec![ListItem::Conditional(c.clone())]).evaluate(tensor, t)
            }
            Setting::List(items) => {
                if items.is_empty() {
                    return None;
                }
                let nums: Option<Vec<f64>> = items
                    .iter()
                    .map(|i| match i {
                        ListItem::Scalar(Scalar::Number(v)) => Some(*v),
                        _ => None,
                    })
                    .collect();
                if let Some(nums) = nums {
                    return Some(Scalar::Number(interpolate(&nums, t)));
                }
                if items.iter().all(|i| matches!(i, ListItem::Scalar(_))) {
                    // Non-numeric gradient: step function, as mergekit does.
                    let idx = (t * (items.len() - 1) as f64) as usize;
                    if let ListItem::Scalar(s) = &items[idx.min(items.len() - 1)] {
                        return Some(s.clone());
                    }
                }
                for item in items {
                    if let ListItem::Conditional(c) = item {
                        let matches = match c.filter.as_deref() {
                            None | Some("*") => true,
                            Some(f) => tensor.contains(f),
                        };
                        if matches {
                            return c.value.evaluate(tensor, t);
                        }
                    }
                }
                None
            }
        }
    }
}

/// Piecewise-linear interpolation of a gradient `[v0, ..., vn]` at `t ∈ [0, 1]`
/// (mergekit: `scaled = t·(n−1)`, `i0 = ⌊scaled⌋`, blend with `i0 + 1`).
pub fn interpolate(values: &[f64], t: f64) -> f64 {
    let n = values.len();
    if n == 1 {
        return values[0];
    }
    let scaled = t * (n - 1) as f64;
    let i0 = (scaled as usize).min(n - 1);
    let i1 = (i0 + 1).min(n - 1);
    let frac = scaled - i0 as f64;
    (1.0 - frac) * values[i0] + frac * values[i1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Setting {
        serde_saphyr::from_str(y).unwrap()
    }

    #[test]
    fn gradient_interpolates_between_anchor_points() {
        // [0, 1, 0.5] at t = 0.25: scaled = 0.5 → halfway between 0 and 1.
        let s = parse("[0, 1, 0.5]");
        assert_eq!(s.evaluate("x", 0.25), Some(Scalar::Number(0.5)));
        // t = 0.75: scaled = 1.5 → halfway between 1 and 0.5.
        assert_eq!(s.evaluate("x", 0.75), Some(Scalar::Number(0.75)));
        assert_eq!(s.evaluate("x", 1.0), Some(Scalar::Number(0.5)));
    }

    #[test]
    fn first_matching_filter_wins() {
        let s = parse(
            "- filter: self_attn\n  value: 0.1\n- filter: attn\n  value: 0.2\n- value: 0.3\n",
        );
        assert_eq!(
            s.evaluate("model.layers.0.self_attn.q_proj.weight", 0.0),
            Some(Scalar::Number(0.1))
        );
        assert_eq!(
            s.evaluate("model.layers.0.cross_attn.q.weight", 0.0),
            Some(Scalar::Number(0.2))
        );
        assert_eq!(
            s.evaluate("model.layers.0.mlp.up_proj.weight", 0.0),
            Some(Scalar::Number(0.3))
        );
    }

    #[test]
    fn filter_values_may_be_gradients() {
        let s = parse("- filter: mlp\n  value: [0, 1]\n- value: 7\n");
        assert_eq!(s.evaluate("a.mlp.b", 0.5), Some(Scalar::Number(0.5)));
        assert_eq!(s.evaluate("a.attn.b", 0.5), Some(Scalar::Number(7.0)));
    }

    #[test]
    fn no_match_gives_none() {
        let s = parse("- filter: mlp\n  value: 1\n");
        assert_eq!(s.evaluate("a.attn.b", 0.5), None);
    }
}
