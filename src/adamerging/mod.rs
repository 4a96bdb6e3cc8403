//! AdaMerging: merge coefficients learned by gradient descent on unlabeled (entropy) or
//! labeled (cross-entropy) data, as a searcher of a study.
//!
//! - [`merge`]: the differentiable merge, `λ` as one candle variable, every merged weight a
//!   custom op whose backward is the merge kernel's vector–Jacobian product;
//! - [`loss`]: the per-task objectives on seeded batches;
//! - [`Trainer::step`] (here): one loss and gradient over all tasks, a backward pass per
//!   task with the gradients summed, so no graph outlives its task;
//! - the study loop lives in [`crate::study::gradient`] (Adam from `mergesearch-searchers`,
//!   trials, resume).
//!
//! ## References
//! - Yang et al., *AdaMerging: Adaptive Model Merging for Multi-Task Learning*, ICLR 2024,
//!   <https://arxiv.org/abs/2310.02575>.

pub mod loss;
pub mod merge;

use std::path::Path;
use std::sync::Arc;

use candle_core::Var;

use mergesearch_evals::entropy::Sample;
use mergesearch_evals::{Split, Suite};
use mergesearch_searchers::{AdaMergingConfig, GradientObjective};

pub use loss::Task;
pub use merge::DiffMerge;

use crate::error::{Error, Result};
use crate::eval::HfTokenizer;
use crate::merge::MergeOptions;
use crate::space::SearchSpace;

/// The loss and gradient of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// `Σ_tasks weight · loss` on this step's batches.
    pub loss: f64,
    /// Each task's mean loss on its batch, in task order.
    pub per_task: Vec<f64>,
    /// `∂loss/∂λ`, one entry per gene.
    pub grad: Vec<f64>,
}

/// Everything a gradient step needs: the differentiable merge, the tasks and the settings.
#[derive(Debug)]
pub struct Trainer {
    /// The differentiable merge.
    pub merge: Arc<DiffMerge>,
    /// The tasks, in suite order.
    pub tasks: Vec<Task>,
    /// Entropy or cross-entropy.
    pub objective: GradientObjective,
    /// Records per task per step.
    pub batch_size: usize,
    /// Seed of the batches.
    pub seed: u64,
}

impl Trainer {
    /// Builds the trainer of a study: the merge of `space`, and the tasks named in
    /// `config.tasks` (default: every `entropy` harness of `suite`), tokenized with the
    /// merge's tokenizer. `opts` seeds the batches and random masks and carries the ranking
    /// cache. `file` names the study file in errors.
    pub fn new(
        space: &SearchSpace,
        config: &AdaMergingConfig,
        suite: &Suite,
        opts: MergeOptions,
        file: &Path,
    ) -> Result<Self> {
        let seed = opts.seed;
        let merge = Arc::new(DiffMerge::new(space, opts, file)?);
        let data = suite.entropy_data(Split::Search);
        let names: Vec<String> = data.iter().map(|(n, _)| n.clone()).collect();
        let chosen: Vec<(String, f64)> = match &config.tasks {
            Some(t) => {
                for name in t.keys() {
                    if !names.contains(name) {
                        return Err(Error::config(
                            file,
                            format!(
                                "searcher.tasks: `{name}` is not an entropy harness of the eval suite (those are: {})",
                                if names.is_empty() { "none".to_string() } else { names.join(", ") }
                            ),
                        ));
                    }
                }
                t.iter()
                    .filter(|(_, w)| **w > 0.0)
                    .map(|(n, w)| (n.clone(), *w))
                    .collect()
            }
            None => names.iter().map(|n| (n.clone(), 1.0)).collect(),
        };
        if chosen.is_empty() {
            return Err(Error::config(
                file,
                "searcher: adamerging needs data: add `type: entropy` harnesses ({prompt, continuation} records) to the eval suite, or name them in searcher.tasks",
            ));
        }
        let tok_dir = &merge_tokenizer_dir(space);
        let tok = HfTokenizer::from_dir(Path::new(tok_dir))?;
        let mut tasks = Vec::with_capacity(chosen.len());
        for (name, weight) in chosen {
            let spec = &data.iter().find(|(n, _)| *n == name).expect("checked").1;
            let samples: Vec<Sample> = spec
                .load::<Sample>()?
                .into_iter()
                .map(|r| r.value)
                .collect();
            tasks.push(Task::new(&name, weight, &samples, &tok)?);
        }
        Ok(Self {
            merge,
            tasks,
            objective: config.objective,
            batch_size: config.batch_size,
            seed,
        })
    }

    /// The weighted loss and its gradient at `lambda` on the batches of `step`: the merged
    /// model is built once, then each task runs forward and backward on its own, its
    /// gradient added to the sum (memory: one task's graph at a time).
    pub fn step(&self, lambda: &[f64], step: usize) -> Result<StepResult> {
        let mut grad = vec![0f64; lambda.len()];
        let (loss, per_task) = self.run_tasks(lambda, step, |var, task, l| {
            let err = |e: candle_core::Error| Error::model(format!("task `{}`", task.name), e);
            let grads = (l * task.weight).and_then(|l| l.backward()).map_err(err)?;
            if let Some(g) = grads.get(var.as_tensor()) {
                let g: Vec<f64> = g.to_vec1().map_err(err)?;
                grad.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            }
            Ok(())
        })?;
        Ok(StepResult {
            loss,
            per_task,
            grad,
        })
    }

    /// The weighted loss at `lambda` on the batches of `step`, without gradients (for
    /// finite-difference checks).
    pub fn loss(&self, lambda: &[f64], step: usize) -> Result<f64> {
        Ok(self.run_tasks(lambda, step, |_, _, _| Ok(()))?.0)
    }

    /// Builds the merged model at `lambda`, computes each task's loss on its batch of `step`
    /// and hands it to `each` (with the coefficient variable); returns the weighted sum and
    /// the per-task values.
    fn run_tasks(
        &self,
        lambda: &[f64],
        step: usize,
        mut each: impl FnMut(&Var, &Task, candle_core::Tensor) -> Result<()>,
    ) -> Result<(f64, Vec<f64>)> {
        let var = self.merge.coefficients(lambda)?;
        let model = self.merge.model(&var)?;
        let (mut loss, mut per_task) = (0.0, Vec::with_capacity(self.tasks.len()));
        for (i, task) in self.tasks.iter().enumerate() {
            let which = task.batch(self.seed, step, i, self.batch_size);
            let l = task.loss(&model, &which, self.objective)?;
            let value = l
                .to_scalar::<f32>()
                .map_err(|e| Error::model(format!("task `{}`", task.name), e))?
                as f64;
            each(&var, task, l)?;
            loss += task.weight * value;
            per_task.push(value);
        }
        Ok((loss, per_task))
    }
}

/// The directory whose tokenizer the merge uses (the base, else the first model), as the
/// planner picks it for a merged checkpoint.
fn merge_tokenizer_dir(space: &SearchSpace) -> String {
    space
        .merge
        .base_model
        .clone()
        .unwrap_or_else(|| space.merge.models[0].clone())
}
