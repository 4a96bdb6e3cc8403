//! The model-based harnesses on a hand-specified bigram model; every expected value is
//! computed by hand from the table in the test.

mod common;

use common::{ab_model, close, write, Bigram, Chars};
use mergesearch_evals::data::DataSpec;
use mergesearch_evals::{
    score_tally, CausalLm, Direction, Entropy, EvalError, ExactMatch, Harness, MultipleChoice,
    Perplexity, TextTokenizer,
};

/// Conformance: every harness gives finite metrics, the same ones twice; scored in two
/// parts (the second half first, each part in reverse order, as successive halving may),
/// the tallies give exactly the metrics of one full evaluation; an index past the data is
/// an error naming the harness.
fn conformance(h: &dyn Harness, model: &dyn CausalLm, tok: &dyn TextTokenizer) {
    let a = h.evaluate(model, tok).unwrap();
    let b = h.evaluate(model, tok).unwrap();
    assert_eq!(a, b, "{}: evaluation is not deterministic", h.name());
    assert!(!a.is_empty());
    for m in &a {
        assert!(
            !m.name.is_empty() && m.value.is_finite(),
            "{}: {m:?}",
            h.name()
        );
    }
    let n = h.examples();
    let (first, second): (Vec<usize>, Vec<usize>) =
        ((0..n / 2).rev().collect(), (n / 2..n).rev().collect());
    let mut tally = score_tally(h, model, tok, &second).unwrap();
    tally
        .extend(h.name(), score_tally(h, model, tok, &first).unwrap())
        .unwrap();
    assert_eq!(
        h.metrics(&tally).unwrap(),
        a,
        "{}: incremental scoring",
        h.name()
    );
    let e = h.score_examples(model, tok, &[n]).unwrap_err().to_string();
    assert!(e.contains(h.name()) && e.contains(&n.to_string()), "{e}");
}

#[test]
fn perplexity_matches_hand_computation() {
    let (model, tok) = ab_model();
    // "aba": ln p(b|a) + ln p(a|b) = ln .5 + ln .25; "ab": ln .5. Three scored tokens:
    // nll = (ln 2 + ln 4 + ln 2) / 3 = 4 ln 2 / 3, perplexity = 2^(4/3).
    let h = Perplexity::new("ppl", vec!["aba".into(), "ab".into(), "b".into()]);
    let m = h.evaluate(&model, &tok).unwrap();
    assert!(close(m.value("nll").unwrap(), 4.0 * 2f64.ln() / 3.0));
    assert!(close(m.value("perplexity").unwrap(), 2f64.powf(4.0 / 3.0)));
    assert_eq!(m.get("perplexity").unwrap().direction, Direction::Minimize);
    conformance(&h, &model, &tok);

    // The brief's case: "aba" alone, nll = -(ln .5 + ln .25)/2, perplexity = sqrt(8).
    let m = Perplexity::new("ppl", vec!["aba".into()])
        .evaluate(&model, &tok)
        .unwrap();
    assert!(close(
        m.value("nll").unwrap(),
        -(0.5f64.ln() + 0.25f64.ln()) / 2.0
    ));
    assert!(close(m.value("perplexity").unwrap(), 8f64.sqrt()));
}

#[test]
fn perplexity_without_scorable_tokens_is_an_error() {
    let (model, tok) = ab_model();
    let err = Perplexity::new("ppl", vec!["a".into()])
        .evaluate(&model, &tok)
        .unwrap_err();
    assert!(matches!(err, EvalError::Invalid { .. }), "{err}");
}

#[test]
fn multiple_choice_acc_and_acc_norm_differ() {
    let dir = tempfile::tempdir().unwrap();
    // Q1 prompt "a": "b" has ll = ln .5 = -0.693 (per byte -0.693); "bbb" has
    // ln .5 + 2 ln .75 = -1.269 (per byte -0.423). acc picks "b", acc_norm picks "bbb" (the
    // answer). Q2 prompt "b": "a" ln .25 = -1.386, "b" ln .75 = -0.288; both pick "b" (right).
    // So acc = 1/2, acc_norm = 2/2.
    let path = write(
        dir.path(),
        "mc.jsonl",
        concat!(
            r#"{"prompt": "a", "choices": ["b", "bbb"], "answer": 1}"#,
            "\n\n",
            r#"{"prompt": "b", "choices": ["a", "b"], "answer": 1}"#,
            "\n"
        ),
    );
    let (model, tok) = ab_model();
    let h = MultipleChoice::from_jsonl("mc", &DataSpec::new(&path)).unwrap();
    let m = h.evaluate(&model, &tok).unwrap();
    assert_eq!(m.value("acc"), Some(0.5));
    assert_eq!(m.value("acc_norm"), Some(1.0));
    assert_eq!(m.get("acc").unwrap().direction, Direction::Maximize);
    conformance(&h, &model, &tok);
}

#[test]
fn multiple_choice_answer_out_of_range_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "mc.jsonl",
        concat!(
            r#"{"prompt": "a", "choices": ["b", "a"], "answer": 0}"#,
            "\n",
            r#"{"prompt": "a", "choices": ["b", "a"], "answer": 2}"#,
            "\n"
        ),
    );
    let err = MultipleChoice::from_jsonl("mc", &DataSpec::new(&path))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");
    assert!(err.contains("\"answer\" is 2"), "{err}");
}

/// Vocabulary "ab=$" with '$' (id 3) the eos. Greedy transitions: a → b (0.6), b → = (0.7),
/// = → $ (0.8), $ → a (0.4).
fn chain() -> (Bigram, Chars) {
    let model = Bigram {
        table: vec![
            vec![0.1, 0.6, 0.2, 0.1],
            vec![0.1, 0.1, 0.7, 0.1],
            vec![0.1, 0.05, 0.05, 0.8],
            vec![0.4, 0.3, 0.2, 0.1],
        ],
    };
    (model, Chars::new("ab=$", Some(3)))
}

fn examples(pairs: &[(&str, &str)]) -> Vec<mergesearch_evals::exact_match::Example> {
    pairs
        .iter()
        .map(|(p, a)| mergesearch_evals::exact_match::Example {
            prompt: p.to_string(),
            answer: a.to_string(),
        })
        .collect()
}

#[test]
fn exact_match_generates_greedily_and_stops_at_eos() {
    let (model, tok) = chain();
    // "a" → "b=" then eos (right); "=" → eos at once → "" (wrong, answer "a");
    // "$" → "ab=" then eos, compared after trimming (right).
    let h = ExactMatch::new(
        "em",
        examples(&[("a", "b="), ("=", "a"), ("$", " ab= ")]),
        10,
    );
    let m = h.evaluate(&model, &tok).unwrap();
    assert!(close(m.value("accuracy").unwrap(), 2.0 / 3.0));
    conformance(&h, &model, &tok);

    // max_new_tokens caps generation: "a" → "b" only.
    let m = ExactMatch::new("em", examples(&[("a", "b")]), 1)
        .evaluate(&model, &tok)
        .unwrap();
    assert_eq!(m.value("accuracy"), Some(1.0));
}

#[test]
fn exact_match_regex_uses_first_group_or_whole_match() {
    let (model, tok) = chain();
    // "$" generates "ab=": `(b)=` captures "b"; `a.` (no group) matches "ab";
    // `x` never matches, so the example is wrong.
    let cases = [(r"(b)=", "b", 1.0), (r"a.", "ab", 1.0), (r"x", "", 0.0)];
    for (pattern, answer, want) in cases {
        let h = ExactMatch::new("em", examples(&[("$", answer)]), 10)
            .with_regex(regex::Regex::new(pattern).unwrap());
        let m = h.evaluate(&model, &tok).unwrap();
        assert_eq!(m.value("accuracy"), Some(want), "pattern {pattern}");
    }
}

#[test]
fn entropy_of_known_distributions() {
    // Uniform over V = 4 has entropy ln 4 at every position.
    let uniform = Bigram {
        table: vec![vec![0.25; 4]; 4],
    };
    let tok = Chars::new("abcd", None);
    let h = Entropy::new(
        "ent",
        vec![mergesearch_evals::entropy::Sample {
            prompt: "ab".into(),
            continuation: "cd".into(),
        }],
    );
    let m = h.evaluate(&uniform, &tok).unwrap();
    assert!(close(m.value("entropy").unwrap(), 4f64.ln()));
    assert_eq!(m.get("entropy").unwrap().direction, Direction::Minimize);
    conformance(&h, &uniform, &tok);

    // Prompt "a", continuation "ab": positions after 'a' and after 'a' again (the last token,
    // 'b', predicts nothing scored). H(.5, .5) = ln 2 both times, mean ln 2.
    // Prompt "b", continuation "a": H(.25, .75) = -(.25 ln .25 + .75 ln .75) = 0.5623.
    // Mean over the three positions: (2 ln 2 + 0.5623) / 3.
    let (model, tok) = ab_model();
    let h = Entropy::new(
        "ent",
        vec![
            mergesearch_evals::entropy::Sample {
                prompt: "a".into(),
                continuation: "ab".into(),
            },
            mergesearch_evals::entropy::Sample {
                prompt: "b".into(),
                continuation: "a".into(),
            },
        ],
    );
    let h_b = -(0.25f64 * 0.25f64.ln() + 0.75 * 0.75f64.ln());
    let m = h.evaluate(&model, &tok).unwrap();
    assert!(close(
        m.value("entropy").unwrap(),
        (2.0 * 2f64.ln() + h_b) / 3.0
    ));
}

#[test]
fn wrong_logits_shape_is_a_model_error() {
    struct Short;
    impl CausalLm for Short {
        fn vocab_size(&self) -> usize {
            2
        }
        fn logits(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EvalError> {
            Ok(batch.iter().map(|_| vec![0.0; 1]).collect())
        }
    }
    let (_, tok) = ab_model();
    let err = Perplexity::new("ppl", vec!["ab".into()])
        .evaluate(&Short, &tok)
        .unwrap_err();
    assert!(matches!(err, EvalError::Model(_)), "{err}");
}

/// `model` with a token budget of `tokens`, recording the padded size of every call.
struct Budgeted<'a> {
    model: &'a dyn CausalLm,
    tokens: usize,
    /// (sequences, padded tokens) of each `logits` / `greedy` call.
    calls: std::sync::Mutex<Vec<(usize, usize)>>,
}

impl CausalLm for Budgeted<'_> {
    fn vocab_size(&self) -> usize {
        self.model.vocab_size()
    }
    fn max_batch_tokens(&self) -> usize {
        self.tokens
    }
    fn logits(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EvalError> {
        let widest = batch.iter().map(Vec::len).max().unwrap_or(0);
        self.calls
            .lock()
            .unwrap()
            .push((batch.len(), batch.len() * widest));
        self.model.logits(batch)
    }
    fn greedy(
        &self,
        prompts: &[Vec<u32>],
        max_new_tokens: usize,
        stop: &mut dyn FnMut(usize, &[u32]) -> bool,
    ) -> Result<Vec<Vec<u32>>, EvalError> {
        let widest = prompts.iter().map(Vec::len).max().unwrap_or(0) + max_new_tokens;
        self.calls
            .lock()
            .unwrap()
            .push((prompts.len(), prompts.len() * widest));
        mergesearch_evals::greedy_without_cache(self.model, prompts, max_new_tokens, stop)
    }
}

#[test]
fn harnesses_pack_batches_by_the_models_token_budget() {
    let (model, tok) = ab_model();
    let texts: Vec<String> = ["aba", "ab", "b", "abab", "ba", "aaaab"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mc = MultipleChoice::new(
        "mc",
        (0..3)
            .map(|i| mergesearch_evals::multiple_choice::Question {
                prompt: "a".repeat(i + 1),
                choices: vec!["b".into(), "ab".into(), "bba".into()],
                answer: i,
            })
            .collect(),
    );
    let samples = texts
        .iter()
        .map(|t| mergesearch_evals::entropy::Sample {
            prompt: "a".into(),
            continuation: t.clone(),
        })
        .collect();
    let (chain_model, chain_tok) = chain();
    let em = ExactMatch::new(
        "em",
        examples(&[("a", "b="), ("=", "a"), ("$", " ab= "), ("a", "b=")]),
        4,
    );
    let cases: Vec<(Box<dyn Harness>, &dyn CausalLm, &dyn TextTokenizer)> = vec![
        (
            Box::new(Perplexity::new("ppl", texts.clone())),
            &model,
            &tok,
        ),
        (Box::new(Entropy::new("ent", samples)), &model, &tok),
        (Box::new(mc), &model, &tok),
        (Box::new(em), &chain_model, &chain_tok),
    ];
    for (h, model, tok) in cases {
        let whole = h.evaluate(model, tok).unwrap();
        // 11 tokens: several calls, none padded past the budget unless it holds a single
        // sequence, some holding several; the metrics are those of the default budget.
        let budgeted = Budgeted {
            model,
            tokens: 11,
            calls: Default::default(),
        };
        assert_eq!(h.evaluate(&budgeted, tok).unwrap(), whole, "{}", h.name());
        let calls = budgeted.calls.into_inner().unwrap();
        assert!(calls.len() > 1, "{}: {calls:?}", h.name());
        for &(n, padded) in &calls {
            assert!(n == 1 || padded <= 11, "{}: {calls:?}", h.name());
        }
        assert!(calls.iter().any(|&(n, _)| n > 1), "{}: {calls:?}", h.name());
    }
}
