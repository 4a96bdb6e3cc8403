//! Tensor-name conventions of llama-family HF checkpoints (`model.layers.N.…`).

/// Splits a layer tensor name into (prefix, layer index, suffix):
/// `model.layers.3.mlp.up_proj.weight` → (`model.layers.`, 3, `.mlp.up_proj.weight`).
pub fn layer_index(name: &str) -> Option<(&str, usize, &str)> {
    let key = "layers.";
    let mut search = 0;
    while let Some(pos) = name[search..].find(key) {
        let at = search + pos;
        let boundary = at == 0 || name.as_bytes()[at - 1] == b'.';
        let digits_start = at + key.len();
        let digits = name[digits_start..]
            .bytes()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if boundary && digits > 0 {
            let end = digits_start + digits;
            if end == name.len() || name.as_bytes()[end] == b'.' {
                let idx = name[digits_start..end].parse().ok()?;
                return Some((&name[..digits_start], idx, &name[end..]));
            }
        }
        search = digits_start;
    }
    None
}

/// Whether a tensor is an embedding matrix (input embeddings or output head): these may
/// differ in vocabulary size between models, and mergekit merges their common sub-matrix.
pub fn is_embed(name: &str) -> bool {
    name.contains("embed_tokens") || name.starts_with("lm_head") || name.contains("wte")
}

/// Whether a non-layer tensor comes before the layers (embeddings) rather than after
/// (final norm, lm_head): it decides which slice's sources merge it.
pub fn is_pre_layer(name: &str) -> bool {
    name.contains("embed_tokens") || name.contains("wte")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layer_names() {
        assert_eq!(
            layer_index("model.layers.12.mlp.up_proj.weight"),
            Some(("model.layers.", 12, ".mlp.up_proj.weight"))
        );
        assert_eq!(layer_index("model.norm.weight"), None);
        assert_eq!(layer_index("model.xlayers.1.w"), None);
        assert_eq!(layer_index("layers.0.w"), Some(("layers.", 0, ".w")));
    }
}
