//! Zoo presets: model dimensions, training budgets and split sizes.

use super::tasks::Task;
use super::train::{Convergence, TrainSpec};
use super::vocab::VOCAB_SIZE;

/// Base pre-training shares: reversal is the slowest task to learn, counting the fastest.
const MIXTURE: [(Task, f64); 4] = [
    (Task::Add, 1.0),
    (Task::Reverse, 3.0),
    (Task::Sort, 1.0),
    (Task::Count, 0.2),
];

/// Fine-tunes stop once they answer 98% of 100 check prompts, checked every 50 steps from
/// step `min_steps` on.
const fn convergence(min_steps: usize) -> Convergence {
    Convergence {
        min_steps,
        every: 50,
        examples: 100,
        target: 0.98,
    }
}

/// Everything that determines a zoo besides its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// `full` (the README's zoo) or `test` (seconds to build, for the test suite).
    pub name: &'static str,
    /// Width of the residual stream.
    pub hidden: usize,
    /// Decoder layers (at least 4, so layer-sliced merges have room).
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (fewer than `heads`: the zoo exercises grouped-query attention).
    pub kv_heads: usize,
    /// MLP width.
    pub intermediate: usize,
    /// Pre-training of the base on the task mixture (`seed` is replaced per model).
    pub base: TrainSpec,
    /// Relative share of each task in the base's pre-training batches. The tasks differ in
    /// difficulty; the shares leave the base partly competent on every task, so that each
    /// fine-tune has something to add.
    pub base_mixture: [(Task, f64); 4],
    /// Fine-tuning of each task model from the base (`steps` is the most it may take).
    pub finetune: TrainSpec,
    /// When a fine-tune stops: once it answers its task's check prompts.
    pub convergence: Convergence,
    /// Share of a fine-tune's batches drawn from the other tasks (in their pre-training
    /// proportions), as real fine-tuning mixes in general data: the task vector then mostly
    /// adds its task instead of also erasing the others, which is the regime model merging
    /// works in. The full preset replays 15%: at 6%, the add and sort fine-tunes erased each
    /// other's skills so thoroughly that no merge of the two beat task arithmetic.
    pub finetune_replay: f64,
    /// Examples per task in the `search` split.
    pub search_examples: usize,
    /// Examples per task in the `heldout` split.
    pub heldout_examples: usize,
}

impl Preset {
    /// The default zoo: 4 layers, hidden 64, about 0.2 M parameters per model.
    pub fn full() -> Self {
        Preset {
            name: "full",
            hidden: 64,
            layers: 4,
            heads: 4,
            kv_heads: 2,
            intermediate: 176,
            base: TrainSpec {
                // Reversal is learned in a sudden jump (see `Convergence`); 500 steps let
                // the base make it on some seeds, leaving its fine-tune nothing to add.
                steps: 300,
                batch: 64,
                lr: 3e-3,
                weight_decay: 0.0,
                seed: 0,
            },
            base_mixture: MIXTURE,
            finetune: TrainSpec {
                steps: 1600,
                batch: 64,
                lr: 5e-4,
                weight_decay: 0.0,
                seed: 0,
            },
            convergence: convergence(400),
            finetune_replay: 0.15,
            search_examples: 200,
            heldout_examples: 200,
        }
    }

    /// A smaller zoo for tests: same tasks and files, a few seconds to build.
    pub fn test() -> Self {
        Preset {
            name: "test",
            hidden: 48,
            layers: 4,
            heads: 4,
            kv_heads: 2,
            intermediate: 128,
            base: TrainSpec {
                steps: 400,
                batch: 32,
                lr: 3e-3,
                weight_decay: 0.0,
                seed: 0,
            },
            base_mixture: MIXTURE,
            finetune: TrainSpec {
                steps: 1500,
                batch: 32,
                lr: 2e-3,
                weight_decay: 0.0,
                seed: 0,
            },
            convergence: convergence(300),
            finetune_replay: 0.06,
            search_examples: 48,
            heldout_examples: 48,
        }
    }

    /// The preset called `name`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "full" => Some(Self::full()),
            "test" => Some(Self::test()),
            _ => None,
        }
    }

    /// The HF `config.json` of the preset's models (`LlamaForCausalLM`, untied head).
    pub fn config_json(&self) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "head_dim": self.hidden / self.heads,
            "hidden_act": "silu",
            "max_position_embeddings": 64,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "vocab_size": VOCAB_SIZE,
            "tie_word_embeddings": false,
            "attention_bias": false,
            "mlp_bias": false,
            "initializer_range": 0.02,
            "bos_token_id": null,
            "eos_token_id": super::vocab::id(super::vocab::EOS),
            "torch_dtype": "float32",
        })
    }

    /// Every field as text (the cache key of trained models).
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}
