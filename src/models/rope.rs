//! Rotary position embedding frequencies, with the RoPE scaling types of transformers
//! (`modeling_rope_utils.py`, `ROPE_INIT_FUNCTIONS`): `default`, `linear`, `dynamic`,
//! `llama3` and `yarn`.
//!
//! A [`Rope`] gives the inverse frequencies of one head (`head_dim / 2` of them) and the
//! factor the cos/sin tables are multiplied by (YaRN's attention factor, 1 otherwise).
//!
//! ## References
//! - Su et al. 2021, "RoFormer" (θ_i = base^(−2i/d)), <https://arxiv.org/abs/2104.09864>.
//! - Chen et al. 2023, "Extending Context Window of Large Language Models via Positional
//!   Interpolation" (`linear`: θ_i / factor), <https://arxiv.org/abs/2306.15595>.
//! - bloc97 / emozilla, dynamic NTK-aware scaling (`dynamic`: the base grows with the
//!   sequence length once it exceeds `max_position_embeddings`), as in transformers'
//!   `_compute_dynamic_ntk_parameters`.
//! - Meta, Llama 3.1 (`llama3`: low frequencies divided by `factor`, high ones kept, a smooth
//!   ramp between), as in transformers' `_compute_llama3_parameters`.
//! - Peng et al. 2023, "YaRN" (`yarn`: interpolation blended with extrapolation per
//!   dimension, attention factor 0.1 ln s + 1), <https://arxiv.org/abs/2309.00071>, as in
//!   transformers' `_compute_yarn_parameters`.

/// How the frequencies are scaled (`rope_type`).
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// `default`: no scaling.
    Default,
    /// `linear`: every frequency divided by `factor`.
    Linear {
        /// The scaling factor.
        factor: f64,
    },
    /// `dynamic` (NTK): for sequences longer than `max_position_embeddings`, the base becomes
    /// `base · (factor · t / max − (factor − 1))^(d / (d − 2))`.
    Dynamic {
        /// The scaling factor.
        factor: f64,
        /// `max_position_embeddings` of the config.
        max_position_embeddings: usize,
    },
    /// `llama3`: wavelengths above `original / low_freq_factor` divided by `factor`, those
    /// below `original / high_freq_factor` kept, a linear blend in between.
    Llama3 {
        /// The scaling factor (8 for Llama 3.1).
        factor: f64,
        /// 1 for Llama 3.1.
        low_freq_factor: f64,
        /// 4 for Llama 3.1.
        high_freq_factor: f64,
        /// The pretraining context (8192 for Llama 3.1).
        original_max_position_embeddings: f64,
    },
    /// `yarn`: per dimension, a blend of interpolation (θ / factor) and extrapolation (θ),
    /// ramped between the dimensions that rotate `beta_fast` and `beta_slow` times over the
    /// pretraining context; cos/sin scaled by the attention factor.
    Yarn {
        /// The scaling factor.
        factor: f64,
        /// The pretraining context.
        original_max_position_embeddings: f64,
        /// Multiplies cos and sin: `attention_factor` as given, else from `mscale` /
        /// `mscale_all_dim`, else `0.1 ln(factor) + 1`.
        attention_factor: f64,
        /// Rotations where extrapolation ends (default 32).
        beta_fast: f64,
        /// Rotations where interpolation starts (default 1).
        beta_slow: f64,
        /// Whether the ramp ends are rounded to whole dimensions (default true).
        truncate: bool,
    },
}

/// The RoPE of a model: base and scaling.
#[derive(Debug, Clone, PartialEq)]
pub struct Rope {
    /// The base θ (`rope_theta`).
    pub theta: f64,
    /// The scaling.
    pub scaling: RopeScaling,
}

impl Rope {
    /// Unscaled RoPE with base `theta`.
    pub fn plain(theta: f64) -> Self {
        Self {
            theta,
            scaling: RopeScaling::Default,
        }
    }

    /// The `dim / 2` inverse frequencies for a batch of `seq_len` positions, and the factor
    /// cos and sin are multiplied by.
    pub fn inv_freq(&self, dim: usize, seq_len: usize) -> (Vec<f64>, f64) {
        let plain = |base: f64| -> Vec<f64> {
            (0..dim / 2)
                .map(|i| 1.0 / base.powf((2 * i) as f64 / dim as f64))
                .collect()
        };
        match &self.scaling {
            RopeScaling::Default => (plain(self.theta), 1.0),
            RopeScaling::Linear { factor } => {
                (plain(self.theta).iter().map(|f| f / factor).collect(), 1.0)
            }
            RopeScaling::Dynamic {
                factor,
                max_position_embeddings,
            } => {
                let max = *max_position_embeddings as f64;
                let t = (seq_len as f64).max(max);
                let d = dim as f64;
                let base = self.theta * ((factor * t / max) - (factor - 1.0)).powf(d / (d - 2.0));
                (plain(base), 1.0)
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: old,
            } => {
                let (low_wavelen, high_wavelen) = (old / low_freq_factor, old / high_freq_factor);
                let f = plain(self.theta)
                    .into_iter()
                    .map(|f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen < high_wavelen {
                            f
                        } else if wavelen > low_wavelen {
                            f / factor
                        } else {
                            let smooth = (old / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect();
                (f, 1.0)
            }
            RopeScaling::Yarn {
                factor,
                original_max_position_embeddings: old,
                attention_factor,
                beta_fast,
                beta_slow,
                truncate,
            } => {
                let d = dim as f64;
                // The dimension whose frequency turns `rotations` times over the context.
                let correction = |rotations: f64| {
                    d * (old / (rotations * 2.0 * std::f64::consts::PI)).ln()
                        / (2.0 * self.theta.ln())
                };
                let (mut low, mut high) = (correction(*beta_fast), correction(*beta_slow));
                if *truncate {
                    (low, high) = (low.floor(), high.ceil());
                }
                let (low, mut high) = (low.max(0.0), high.min(d - 1.0));
                if low == high {
                    high += 0.001;
                }
                let f = plain(self.theta)
                    .into_iter()
                    .enumerate()
                    .map(|(i, extrapolation)| {
                        let ramp = ((i as f64 - low) / (high - low)).clamp(0.0, 1.0);
                        let keep = 1.0 - ramp;
                        extrapolation / factor * (1.0 - keep) + extrapolation * keep
                    })
                    .collect();
                (f, *attention_factor)
            }
        }
    }
}

/// YaRN's default attention factor: `0.1 · mscale · ln(scale) + 1` for scale > 1, else 1.
pub fn yarn_mscale(scale: f64, mscale: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * mscale * scale.ln() + 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_linear_frequencies_follow_the_formula() {
        // θ_i = base^(−2i/d): d = 4, base 100 → 1, 0.1.
        let (f, a) = Rope::plain(100.0).inv_freq(4, 10);
        assert_eq!(a, 1.0);
        assert!((f[0] - 1.0).abs() < 1e-15 && (f[1] - 0.1).abs() < 1e-15);
        let lin = Rope {
            theta: 100.0,
            scaling: RopeScaling::Linear { factor: 2.0 },
        };
        assert!((lin.inv_freq(4, 10).0[1] - 0.05).abs() < 1e-15);
    }

    #[test]
    fn dynamic_scaling_only_acts_past_max_position_embeddings() {
        let r = Rope {
            theta: 100.0,
            scaling: RopeScaling::Dynamic {
                factor: 2.0,
                max_position_embeddings: 16,
            },
        };
        assert_eq!(r.inv_freq(4, 16), Rope::plain(100.0).inv_freq(4, 16));
        // t = 32: base = 100 · (2 · 32/16 − 1)^(4/2) = 900 → θ_1 = 1/30.
        assert!((r.inv_freq(4, 32).0[1] - 1.0 / 30.0).abs() < 1e-15);
    }

    #[test]
    fn llama3_keeps_high_frequencies_and_divides_low_ones() {
        // d = 8, base 10000: θ = 1, 0.1, 0.01, 0.001, wavelengths 2π/θ = 6.3, 62.8, 628, 6283.
        // original 64, low_freq_factor 1, high 4: wavelengths below 64/4 = 16 are kept (i = 0),
        // above 64/1 = 64 divided by 8 (i = 2, 3), 62.8 (i = 1) blended with
        // smooth = (64/62.83 − 1) / (4 − 1).
        let r = Rope {
            theta: 10000.0,
            scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 64.0,
            },
        };
        let (f, _) = r.inv_freq(8, 10);
        let plain = Rope::plain(10000.0).inv_freq(8, 10).0;
        assert_eq!(f[0], plain[0]);
        let smooth = (64.0 / (2.0 * std::f64::consts::PI / plain[1]) - 1.0) / 3.0;
        assert!((f[1] - ((1.0 - smooth) * plain[1] / 8.0 + smooth * plain[1])).abs() < 1e-15);
        assert!(smooth > 0.0 && smooth < 1.0);
        assert_eq!(f[2], plain[2] / 8.0);
        assert_eq!(f[3], plain[3] / 8.0);
    }

    #[test]
    fn yarn_attention_factor_defaults_to_one_tenth_log_plus_one() {
        assert!((yarn_mscale(4.0, 1.0) - (0.1 * 4f64.ln() + 1.0)).abs() < 1e-15);
        assert_eq!(yarn_mscale(1.0, 1.0), 1.0);
    }
}
