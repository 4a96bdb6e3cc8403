//! `mergesearch bench generate`: batched greedy generation with our key/value cache
//! ([`crate::models::generate::greedy`]) beside transformers' `generate` (greedy, KV cache,
//! same shape, batch, prompts and thread count) when a Python with torch and transformers is
//! installed, and optionally beside our no-cache loop. Random weights (speed does not depend
//! on them); the default shape is a 135M-parameter llama (SmolLM-135M's: hidden 576, 30
//! layers, 9 query / 3 key-value heads, intermediate 1536, vocab 49152, tied embeddings).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use clap::Args;
use mergesearch_evals::greedy_without_cache;

use crate::eval::LlamaLm;
use crate::models::{ForwardMode, LlamaConfig, Model};

/// Arguments of `bench generate`.
#[derive(Debug, Args)]
pub struct BenchGenerateArgs {
    /// Sequences generated together.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// New tokens per sequence (no end token: every sequence runs to the end).
    #[arg(long, default_value_t = 48)]
    pub new_tokens: usize,
    /// Prompt lengths are spread over 16..=this (mixed, so the batch is padded).
    #[arg(long, default_value_t = 40)]
    pub max_prompt: usize,
    /// Also time our no-cache loop (every step rescores every sequence in full; slow).
    #[arg(long)]
    pub no_cache: bool,
    /// The Python that runs transformers (skipped, saying so, when it has no torch).
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Worker threads, ours and torch's (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The model's `config.json` (transformers' `LlamaConfig` keys).
fn config_json() -> serde_json::Value {
    serde_json::json!({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "rms_norm_eps": 1e-5,
        "vocab_size": 49152, "tie_word_embeddings": true, "max_position_embeddings": 2048,
        "rope_theta": 100000.0, "hidden_act": "silu",
    })
}

/// A model of `cfg` with N(0, 0.02) weights (norms 1), f32 on the CPU.
fn random_model(cfg: &LlamaConfig) -> Result<Model> {
    let dev = Device::Cpu;
    let mut tensors = HashMap::new();
    for (name, shape) in cfg.tensor_shapes() {
        let t = if name.ends_with("norm.weight") {
            Tensor::ones(shape.as_slice(), DType::F32, &dev)?
        } else {
            Tensor::randn(0f32, 0.02, shape.as_slice(), &dev)?
        };
        tensors.insert(name, t);
    }
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &dev);
    Ok(Model::load(cfg, vb, ForwardMode::Fast)?)
}

/// `batch` prompts of lengths spread over 16..=`max_len`, ids from a fixed LCG.
fn prompts(batch: usize, max_len: usize, vocab: usize) -> Vec<Vec<u32>> {
    let mut x: u64 = 7;
    let mut next = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    (0..batch)
        .map(|i| {
            let n = 16 + (i * 7919) % (max_len.max(16) - 15);
            (0..n).map(|_| (next() % vocab as u64) as u32).collect()
        })
        .collect()
}

/// The transformers side: reads `{config, prompts, new_tokens, threads}` as JSON on stdin,
/// builds the model from the config (random init), generates once to warm up and once
/// timed, and prints the seconds.
const TRANSFORMERS: &str = r#"
import json, sys, time
import torch, transformers
job = json.load(sys.stdin)
torch.set_num_threads(job["threads"])
cfg = transformers.LlamaConfig(**{k: v for k, v in job["config"].items() if k not in ("model_type", "architectures")})
model = transformers.LlamaForCausalLM(cfg).eval()
prompts = job["prompts"]
width = max(len(p) for p in prompts)
ids = torch.zeros(len(prompts), width, dtype=torch.long)
mask = torch.zeros_like(ids)
for i, p in enumerate(prompts):
    ids[i, width - len(p):] = torch.tensor(p)
    mask[i, width - len(p):] = 1
model.generation_config.eos_token_id = None
model.generation_config.pad_token_id = 0
n = job["new_tokens"]
kw = dict(attention_mask=mask, do_sample=False, min_new_tokens=n, max_new_tokens=n)
with torch.no_grad():
    model.generate(input_ids=ids, **{**kw, "min_new_tokens": 2, "max_new_tokens": 2})
    t0 = time.perf_counter()
    out = model.generate(input_ids=ids, **kw)
    dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "new": int(out.shape[1] - width), "torch": torch.__version__, "transformers": transformers.__version__}))
"#;

/// What transformers measured: seconds, and a line naming the versions.
fn run_transformers(
    a: &BenchGenerateArgs,
    prompts: &[Vec<u32>],
    threads: usize,
) -> Result<(f64, String)> {
    let job = serde_json::json!({
        "config": config_json(), "prompts": prompts, "new_tokens": a.new_tokens, "threads": threads,
    });
    let v = super::torch::run_json(&a.python, TRANSFORMERS, &job)?;
    let secs = v["seconds"]
        .as_f64()
        .context("no seconds from the transformers run")?;
    anyhow::ensure!(
        v["new"].as_u64() == Some(a.new_tokens as u64),
        "transformers generated {} tokens, not {}",
        v["new"],
        a.new_tokens
    );
    Ok((secs, super::torch::versions(&v)))
}

/// Runs the benchmark and prints the table.
pub fn run_generate_bench(a: BenchGenerateArgs) -> Result<()> {
    crate::runtime::set_threads(a.threads)?;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cfg =
        LlamaConfig::from_json_str(&config_json().to_string(), Path::new("<bench generate>"))?;
    let model = random_model(&cfg)?;
    let p = prompts(a.batch, a.max_prompt, cfg.vocab_size);
    let lens: Vec<usize> = p.iter().map(Vec::len).collect();
    eprintln!(
        "llama hidden 576, 30 layers, 9/3 heads, vocab 49152 (135 M params, f32); batch {}, prompts of {}..={} tokens, {} new tokens, {threads} thread(s)",
        a.batch,
        lens.iter().min().unwrap_or(&0),
        lens.iter().max().unwrap_or(&0),
        a.new_tokens
    );
    let never = &mut |_: usize, _: &[u32]| false;
    // Warm-up: two tokens.
    crate::models::generate::greedy(&model, &p, 2, never)?;
    let t0 = Instant::now();
    let ours = crate::models::generate::greedy(&model, &p, a.new_tokens, never)?;
    let ours_s = t0.elapsed().as_secs_f64();
    anyhow::ensure!(ours.iter().all(|g| g.len() == a.new_tokens));
    let new = (a.batch * a.new_tokens) as f64;
    let mut rows: Vec<(String, f64)> = vec![("mergesearch, KV cache".into(), ours_s)];
    if a.no_cache {
        let lm = LlamaLm::new(model.clone(), &cfg);
        let t0 = Instant::now();
        let full = greedy_without_cache(&lm, &p, a.new_tokens, never)?;
        rows.push(("mergesearch, no cache".into(), t0.elapsed().as_secs_f64()));
        anyhow::ensure!(full == ours, "the no-cache loop generated other tokens");
    }
    let theirs = match run_transformers(&a, &p, threads) {
        Ok((s, versions)) => {
            rows.push((format!("transformers generate ({versions})"), s));
            Some(s)
        }
        Err(e) => {
            eprintln!("transformers not timed: {e}");
            None
        }
    };
    println!("| implementation | seconds | new tokens/s | × transformers |\n|---|---|---|---|");
    for (name, s) in &rows {
        let ratio = theirs.map_or("–".to_string(), |t| format!("{:.2}", t / s));
        println!("| {name} | {s:.2} | {:.0} | {ratio} |", new / s);
    }
    Ok(())
}
