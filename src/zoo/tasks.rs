//! The zoo's synthetic tasks: four token tasks of different character, each a generator of
//! `(prompt, answer)` pairs over the word vocabulary of [`super::vocab`].
//!
//! | task | example | what it needs |
//! |---|---|---|
//! | `add` | `add 4 7 5 9 =` → `2 5` | arithmetic over four digits (two-digit sum) |
//! | `reverse` | `rev c a f b e =` → `e b f a c` | position-based copying |
//! | `sort` | `sort 7 2 9 4 2 =` → `2 2 4 7 9` | comparison / counting smaller elements |
//! | `count` | `count a c b a d a b a =` → `4` | aggregation over the sequence |

use rand::{Rng, RngCore};

use super::vocab::{DIGITS, LETTERS};

/// One of the zoo's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Sum of four digits, written as two digits.
    Add,
    /// Five letters in reverse order.
    Reverse,
    /// Five digits in ascending order.
    Sort,
    /// How often `a` occurs among eight letters drawn from `a`–`d`.
    Count,
}

/// A prompt and its reference answer (space-separated words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text the model continues, ending in `=`.
    pub prompt: String,
    /// The expected continuation (without the end-of-sequence token).
    pub answer: String,
}

impl Task {
    /// Every task, in the zoo's order.
    pub const ALL: [Task; 4] = [Task::Add, Task::Reverse, Task::Sort, Task::Count];

    /// The task's name (file names, model names `ft-NAME`, metric prefixes).
    pub fn name(self) -> &'static str {
        match self {
            Task::Add => "add",
            Task::Reverse => "reverse",
            Task::Sort => "sort",
            Task::Count => "count",
        }
    }

    /// Input length of the task's examples (digits or letters).
    pub fn size(self) -> usize {
        match self {
            Task::Add => 4,
            Task::Reverse | Task::Sort => 5,
            Task::Count => 8,
        }
    }

    /// Draws one example.
    pub fn sample(self, rng: &mut impl RngCore) -> Example {
        let n = self.size();
        match self {
            Task::Add => {
                let d: Vec<String> = (0..n)
                    .map(|_| rng.random_range(0..10usize).to_string())
                    .collect();
                let s: usize = d.iter().map(|x| x.parse::<usize>().unwrap_or(0)).sum();
                Example {
                    prompt: format!("add {} =", d.join(" ")),
                    answer: format!("{} {}", s / 10, s % 10),
                }
            }
            Task::Reverse => {
                let w: Vec<&str> = (0..n)
                    .map(|_| LETTERS[rng.random_range(0..LETTERS.len())])
                    .collect();
                let rev: Vec<&str> = w.iter().rev().copied().collect();
                Example {
                    prompt: format!("rev {} =", w.join(" ")),
                    answer: rev.join(" "),
                }
            }
            Task::Sort => {
                let mut d: Vec<&str> = (0..n)
                    .map(|_| DIGITS[rng.random_range(0..DIGITS.len())])
                    .collect();
                let prompt = format!("sort {} =", d.join(" "));
                d.sort_unstable();
                Example {
                    prompt,
                    answer: d.join(" "),
                }
            }
            Task::Count => {
                let w: Vec<&str> = (0..n).map(|_| LETTERS[rng.random_range(0..4)]).collect();
                let n = w.iter().filter(|&&x| x == "a").count();
                Example {
                    prompt: format!("count {} =", w.join(" ")),
                    answer: n.to_string(),
                }
            }
        }
    }

    /// Three wrong answers of the same form as the right one, all distinct: the choices of
    /// the multiple-choice split. They are the near misses a half-trained model makes (a
    /// neighbouring sum or count, the prompt copied unchanged, two words swapped).
    pub fn distractors(self, ex: &Example, rng: &mut impl RngCore) -> Vec<String> {
        let words: Vec<&str> = ex.answer.split(' ').collect();
        let mut out: Vec<String> = Vec::new();
        let push = |out: &mut Vec<String>, s: String| {
            if s != ex.answer && !out.contains(&s) {
                out.push(s);
            }
        };
        // The prompt's own words (between the marker and `=`), copied unchanged.
        let body: Vec<&str> = ex
            .prompt
            .split(' ')
            .skip(1)
            .take_while(|w| *w != "=")
            .collect();
        match self {
            Task::Reverse | Task::Sort => push(&mut out, body.join(" ")),
            Task::Add | Task::Count => {}
        }
        while out.len() < 3 {
            let cand = match self {
                Task::Add => {
                    let s: i64 =
                        words[0].parse::<i64>().unwrap() * 10 + words[1].parse::<i64>().unwrap();
                    let off = [-2, -1, 1, 2, 10, -10][rng.random_range(0..6)];
                    let v = (s + off).clamp(0, 36);
                    format!("{} {}", v / 10, v % 10)
                }
                Task::Count => {
                    let n: i64 = ex.answer.parse().unwrap();
                    let off = [-3, -2, -1, 1, 2, 3][rng.random_range(0..6)];
                    (n + off).clamp(0, 8).to_string()
                }
                Task::Reverse | Task::Sort => {
                    // A swap of two words, or (always different) one word replaced.
                    let mut w = words.clone();
                    let i = rng.random_range(0..w.len());
                    if rng.random_bool(0.5) {
                        let j = rng.random_range(0..w.len());
                        w.swap(i, j);
                    } else {
                        let alphabet = if self == Task::Sort {
                            &DIGITS
                        } else {
                            &LETTERS
                        };
                        let other: Vec<&str> =
                            alphabet.iter().copied().filter(|x| *x != w[i]).collect();
                        w[i] = other[rng.random_range(0..other.len())];
                    }
                    w.join(" ")
                }
            };
            push(&mut out, cand);
        }
        out
    }
}

impl std::str::FromStr for Task {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown zoo task `{s}` (expected add, reverse, sort or count)"))
    }
}
