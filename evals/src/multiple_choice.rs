//! Log-likelihood multiple choice, as lm-evaluation-harness scores it.
//!
//! Each choice is scored by the summed log-likelihood of its continuation tokens given the
//! prompt. `acc` takes the argmax of the raw sums; `acc_norm` divides each sum by the
//! choice's length in bytes first, so long answers are not penalized for having more tokens.
//! Prompt and choice are tokenized separately and concatenated.
//!
//! ## References
//!
//! - Gao et al., *A framework for few-shot language model evaluation* (lm-evaluation-harness),
//!   `acc` / `acc_norm` of `multiple_choice` tasks,
//!   <https://github.com/EleutherAI/lm-evaluation-harness>.

use serde::Deserialize;

use crate::batching::for_each_logits;
use crate::data::DataSpec;
use crate::logprob::{log_softmax, row};
use crate::{CausalLm, Direction, EvalError, Harness, Metrics, Tally, TextTokenizer};

/// One JSONL line: `{"prompt": ..., "choices": [...], "answer": index}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    /// Text before the answer.
    pub prompt: String,
    /// Candidate continuations.
    pub choices: Vec<String>,
    /// Index of the correct choice.
    pub answer: usize,
}

/// `acc` and `acc_norm` (both maximized) over a set of questions.
#[derive(Debug, Clone)]
pub struct MultipleChoice {
    name: String,
    questions: Vec<Question>,
    unknown_warned: std::sync::OnceLock<()>,
}

impl MultipleChoice {
    /// A harness over already validated questions (`answer < choices.len()`).
    pub fn new(name: impl Into<String>, questions: Vec<Question>) -> Self {
        Self {
            name: name.into(),
            questions,
            unknown_warned: std::sync::OnceLock::new(),
        }
    }

    /// Reads questions from `data`; an empty choice list or an `answer` out of range is an
    /// error naming the file and line.
    pub fn from_jsonl(name: impl Into<String>, data: &DataSpec) -> Result<Self, EvalError> {
        let mut questions = Vec::new();
        for r in data.load::<Question>()? {
            let q = &r.value;
            if q.choices.is_empty() {
                return Err(r.error("\"choices\" is empty"));
            }
            if q.answer >= q.choices.len() {
                return Err(r.error(format!(
                    "\"answer\" is {} but there are {} choices (0-based index)",
                    q.answer,
                    q.choices.len()
                )));
            }
            questions.push(r.value);
        }
        Ok(Self::new(name, questions))
    }

    /// The prompt's token count and one sequence (prompt + choice) per choice of `q`.
    fn sequences(
        &self,
        q: &Question,
        tok: &dyn TextTokenizer,
    ) -> Result<(usize, Vec<Vec<u32>>), EvalError> {
        let invalid = |message: String| EvalError::Invalid {
            harness: self.name.clone(),
            message,
        };
        let prompt = tok.encode(&q.prompt)?;
        if prompt.is_empty() {
            return Err(invalid(format!(
                "prompt {:?} encodes to no tokens",
                q.prompt
            )));
        }
        let mut seqs = Vec::with_capacity(q.choices.len());
        for choice in &q.choices {
            let cont = tok.encode(choice)?;
            if cont.is_empty() {
                return Err(invalid(format!("choice {choice:?} encodes to no tokens")));
            }
            seqs.push([prompt.as_slice(), &cont].concat());
        }
        Ok((prompt.len(), seqs))
    }
}

/// Index of the largest value (the first one on ties, like `numpy.argmax`).
fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

impl Harness for MultipleChoice {
    fn metric_names(&self) -> &'static [(&'static str, Direction)] {
        &[
            ("acc", Direction::Maximize),
            ("acc_norm", Direction::Maximize),
        ]
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn examples(&self) -> usize {
        self.questions.len()
    }

    /// Two sums per question: 1 when the argmax of the raw log-likelihoods is the answer,
    /// and 1 when the argmax of the length-normalized ones is.
    fn score_examples(
        &self,
        model: &dyn CausalLm,
        tok: &dyn TextTokenizer,
        indices: &[usize],
    ) -> Result<Vec<Vec<f64>>, EvalError> {
        crate::harness::check_indices(&self.name, self.questions.len(), indices)?;
        crate::harness::warn_unknown_words(
            &self.unknown_warned,
            &self.name,
            tok,
            self.questions.iter().map(|q| q.prompt.as_str()),
        );
        // Every choice of every question in one list, batched by the model's token budget;
        // `first[j]` is where question `indices[j]`'s choices start.
        let (mut seqs, mut prompt_len, mut first) = (Vec::new(), Vec::new(), Vec::new());
        for &i in indices {
            let (p, s) = self.sequences(&self.questions[i], tok)?;
            first.push(seqs.len());
            prompt_len.extend(std::iter::repeat_n(p, s.len()));
            seqs.extend(s);
        }
        // Summed continuation log-likelihood of each sequence.
        let vocab = model.vocab_size();
        let mut lls = vec![0.0f64; seqs.len()];
        for_each_logits(model, &seqs, |j, lg| {
            let seq = &seqs[j];
            lls[j] = (prompt_len[j]..seq.len())
                .map(|t| log_softmax(row(lg, t - 1, vocab))[seq[t] as usize])
                .sum();
            Ok(())
        })?;
        let mut out = Vec::with_capacity(indices.len());
        for (j, &i) in indices.iter().enumerate() {
            let q = &self.questions[i];
            let ll = &lls[first[j]..first[j] + q.choices.len()];
            let normed: Vec<f64> = ll
                .iter()
                .zip(&q.choices)
                .map(|(l, c)| l / c.len() as f64)
                .collect();
            out.push(vec![
                f64::from(u8::from(argmax(ll) == q.answer)),
                f64::from(u8::from(argmax(&normed) == q.answer)),
            ]);
        }
        Ok(out)
    }

    fn metrics(&self, tally: &Tally) -> Result<Metrics, EvalError> {
        let mut m = Metrics::new();
        m.push(
            "acc",
            crate::harness::mean_of(&self.name, tally, 0)?,
            Direction::Maximize,
        );
        m.push(
            "acc_norm",
            crate::harness::mean_of(&self.name, tally, 1)?,
            Direction::Maximize,
        );
        Ok(m)
    }
}
