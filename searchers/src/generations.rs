//! The generation queue shared by population searchers (CMA-ES, NSGA-II): a generation of
//! points is made at once, handed out one trial at a time, and told in any order; generations
//! are handed back to the searcher for its update only when fully told, oldest first (a
//! complete later generation waits for an earlier incomplete one). When every point made so
//! far has been handed out, the searcher makes the next generation from its current (not yet
//! updated) state — asking ahead, as the CyberAgentAILab `cmaes` ask/tell loop allows.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::tickets::Tickets;
use crate::SearchError;

/// What one point's trial was told. (Not `Option<V>`: with `V = Option<_>` a failed trial,
/// `Some(None)`, would serialize like an open slot and come back from a snapshot as one.)
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Slot<V> {
    Open,
    Told(V),
}

/// One generation: its points (`P`), what each point's trial was told (`V`), and what the
/// searcher tagged it with when making it (`T`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Generation<P, V, T> {
    /// Serial number (the key of a pending trial's slot).
    seq: u64,
    points: Vec<P>,
    /// Points handed out so far (always the first ones).
    handed: usize,
    told: Vec<Slot<V>>,
    n_told: usize,
    /// The searcher's own note on the generation (e.g. the distribution it came from).
    pub tag: T,
}

impl<P, V, T> Generation<P, V, T> {
    /// The points and their told values, in order (a fully told generation).
    pub fn into_told(self) -> (Vec<P>, Vec<V>, T) {
        let values = self
            .told
            .into_iter()
            .filter_map(|s| match s {
                Slot::Told(v) => Some(v),
                Slot::Open => None,
            })
            .collect();
        (self.points, values, self.tag)
    }
}

/// Generations being handed out and told, with the trial tickets that locate each point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Generations<P, V, T> {
    queue: VecDeque<Generation<P, V, T>>,
    next_seq: u64,
    /// Pending trial → (generation serial number, index in it); enqueued points carry the
    /// serial number [`EXTERNAL`] and their index in `external`.
    tickets: Tickets<(u64, usize)>,
    /// Points enqueued by the study (not drawn from a generation), by index.
    #[serde(default)]
    external: Vec<Vec<f64>>,
}

/// The generation serial number of an enqueued point's ticket.
const EXTERNAL: u64 = u64::MAX;

impl<P, V, T> Default for Generations<P, V, T> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            next_seq: 0,
            tickets: Tickets::default(),
            external: Vec::new(),
        }
    }
}

impl<P: Clone, V, T> Generations<P, V, T> {
    /// Fails if `trial` was asked before; changes nothing.
    pub fn check_ask(&self, trial: u64) -> Result<(), SearchError> {
        self.tickets.check_ask(trial)
    }

    /// Whether every point made so far has been handed out (the next ask needs a new
    /// generation, see [`Generations::push`]).
    pub fn exhausted(&self) -> bool {
        self.queue.iter().all(|g| g.handed == g.points.len())
    }

    /// Queues a new generation of `points` tagged `tag`.
    pub fn push(&mut self, points: Vec<P>, tag: T) {
        let n = points.len();
        self.queue.push_back(Generation {
            seq: self.next_seq,
            told: std::iter::repeat_with(|| Slot::Open).take(n).collect(),
            points,
            handed: 0,
            n_told: 0,
            tag,
        });
        self.next_seq += 1;
    }

    /// Hands the next point of the oldest generation with points left to `trial` (after
    /// [`Generations::check_ask`] succeeded and a generation was pushed if
    /// [`Generations::exhausted`]).
    pub fn hand_out(&mut self, trial: u64) -> P {
        let g = self
            .queue
            .iter_mut()
            .find(|g| g.handed < g.points.len())
            .expect("a generation with points left (push one when exhausted)");
        let k = g.handed;
        g.handed += 1;
        self.tickets.ask(trial, (g.seq, k));
        g.points[k].clone()
    }

    /// Registers `trial` as evaluating the enqueued point `x` (outside every generation);
    /// fails, changing nothing, if `trial` was asked before.
    pub fn enqueue(&mut self, trial: u64, x: Vec<f64>) -> Result<(), SearchError> {
        self.tickets.check_ask(trial)?;
        self.external.push(x);
        self.tickets.ask(trial, (EXTERNAL, self.external.len() - 1));
        Ok(())
    }

    /// If `trial` is a pending enqueued point, clears its ticket and returns the point.
    pub fn take_external(&mut self, trial: u64) -> Option<Vec<f64>> {
        let &(seq, k) = self.tickets.payload(trial)?;
        if seq != EXTERNAL {
            return None;
        }
        self.tickets.tell(trial);
        Some(self.external[k].clone())
    }

    /// Whether no generation was ever pushed.
    pub fn never_pushed(&self) -> bool {
        self.next_seq == 0
    }

    /// Fails if `trial` was never asked or was already told; changes nothing.
    pub fn check_tell(&self, trial: u64) -> Result<(), SearchError> {
        self.tickets.check_tell(trial)
    }

    /// Records what `trial` was told (after [`Generations::check_tell`] succeeded).
    pub fn tell(&mut self, trial: u64, value: V) -> Result<(), SearchError> {
        let Some((seq, k)) = self.tickets.tell(trial) else {
            return Err(SearchError::UnknownTrial(trial));
        };
        // A pending trial's generation stays queued until all its points are told.
        if let Some(g) = self.queue.iter_mut().find(|g| g.seq == seq) {
            g.told[k] = Slot::Told(value);
            g.n_told += 1;
        }
        Ok(())
    }

    /// The oldest generation, removed from the queue, if all its points are told.
    pub fn pop_complete(&mut self) -> Option<Generation<P, V, T>> {
        if self
            .queue
            .front()
            .is_some_and(|g| g.n_told == g.points.len())
        {
            self.queue.pop_front()
        } else {
            None
        }
    }

    /// Drops the points not handed out yet, and generations left empty (a restarted
    /// searcher does not hand out points of its old state).
    pub fn drop_unhanded(&mut self) {
        for g in &mut self.queue {
            g.points.truncate(g.handed);
            g.told.truncate(g.handed);
        }
        self.queue.retain(|g| !g.points.is_empty());
    }

    /// Trials asked and not yet told, ascending.
    pub fn pending(&self) -> Vec<u64> {
        self.tickets.pending()
    }
}
