//! The zoo's accuracy matrix: every model (and the task-arithmetic baseline merge) on every
//! task, scored with the zoo's own `evals.yaml`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mergesearch_evals::{Split, Suite};

use super::{finetune_name, Task};
use crate::error::{Error, Result};
use crate::eval::EvalTarget;
use crate::merge::{MergeConfig, MergeOptions, Plan};

/// Scaling of every task vector in the baseline merge (the usual task-arithmetic default).
pub const BASELINE_LAMBDA: f64 = 0.3;

/// Exact-match accuracy, rows = models, columns = [`Task::ALL`].
#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyMatrix {
    /// Row labels: `base`, `ft-TASK`..., `task_arithmetic(0.3)`.
    pub models: Vec<String>,
    /// `accuracy[model][task]`.
    pub accuracy: Vec<Vec<f64>>,
}

impl AccuracyMatrix {
    /// The accuracy of row `model` on `task`.
    pub fn get(&self, model: &str, task: Task) -> Option<f64> {
        let r = self.models.iter().position(|m| m == model)?;
        let c = Task::ALL.iter().position(|t| *t == task)?;
        Some(self.accuracy[r][c])
    }

    /// Mean accuracy over tasks of row `model`.
    pub fn mean(&self, model: &str) -> Option<f64> {
        let r = self.models.iter().position(|m| m == model)?;
        Some(self.accuracy[r].iter().sum::<f64>() / Task::ALL.len() as f64)
    }

    /// A fixed-width table with a mean column.
    pub fn table(&self) -> String {
        let mut s = format!("{:<22}", "model");
        for t in Task::ALL {
            let _ = write!(s, "{:>9}", t.name());
        }
        s.push_str("     mean\n");
        for (m, row) in self.models.iter().zip(&self.accuracy) {
            let _ = write!(s, "{m:<22}");
            for a in row {
                let _ = write!(s, "{a:>9.3}");
            }
            let _ = writeln!(s, "{:>9.3}", row.iter().sum::<f64>() / row.len() as f64);
        }
        s
    }

    /// The matrix as CSV (`model,add,reverse,sort,count,mean`).
    pub fn csv(&self) -> String {
        let mut s = String::from("model");
        for t in Task::ALL {
            s.push(',');
            s.push_str(t.name());
        }
        s.push_str(",mean\n");
        for (m, row) in self.models.iter().zip(&self.accuracy) {
            s.push_str(m);
            for a in row {
                let _ = write!(s, ",{a:.4}");
            }
            let _ = writeln!(s, ",{:.4}", row.iter().sum::<f64>() / row.len() as f64);
        }
        s
    }
}

/// The baseline merge: task arithmetic over every fine-tune with weight λ = 0.3 each.
pub fn baseline_config(zoo: &Path) -> Result<(MergeConfig, PathBuf)> {
    let abs = zoo.canonicalize().map_err(|e| Error::io(zoo, e))?;
    let mut yaml = String::from("merge_method: task_arithmetic\n");
    let _ = writeln!(yaml, "base_model: {}", abs.join("base").display());
    yaml.push_str("dtype: float32\nmodels:\n");
    for t in Task::ALL {
        let _ = writeln!(
            yaml,
            "  - model: {}\n    parameters: {{weight: {BASELINE_LAMBDA}}}",
            abs.join(finetune_name(t)).display()
        );
    }
    let label = zoo.join("task_arithmetic (baseline)");
    Ok((MergeConfig::from_yaml(&yaml, &label)?, label))
}

/// Scores the base, every fine-tune and the baseline merge on `split` of `zoo/evals.yaml`.
pub fn accuracy_matrix(zoo: &Path, split: Split) -> Result<AccuracyMatrix> {
    let harnesses = Suite::load(&zoo.join("evals.yaml"))?.resolve(split)?;
    let mut models = vec!["base".to_string()];
    models.extend(Task::ALL.map(finetune_name));
    let mut targets: Vec<EvalTarget> = models
        .iter()
        .map(|m| EvalTarget::Dir(zoo.join(m)))
        .collect();
    let (cfg, label) = baseline_config(zoo)?;
    targets.push(EvalTarget::Merge {
        plan: Box::new(Plan::build(cfg, &label)?),
        path: label,
        opts: MergeOptions::default(),
    });
    models.push(format!("task_arithmetic({BASELINE_LAMBDA})"));
    let mut accuracy = Vec::with_capacity(targets.len());
    for target in targets {
        let metrics = target.evaluate(&harnesses)?;
        let row = Task::ALL
            .iter()
            .map(|t| {
                metrics
                    .value(&format!("{}/accuracy", t.name()))
                    .ok_or_else(|| {
                        Error::config(
                            zoo.join("evals.yaml"),
                            format!("no `{}/accuracy` metric", t.name()),
                        )
                    })
            })
            .collect::<Result<Vec<f64>>>()?;
        accuracy.push(row);
    }
    Ok(AccuracyMatrix { models, accuracy })
}
