//! Trial-id bookkeeping shared by every searcher: which ids were ever asked, and which of
//! them are still pending.
//!
//! Ids come from the study's storage, so they are unique but may arrive in any order and with
//! gaps. The ids ever asked are kept as sorted disjoint ranges (a study's ids are mostly
//! consecutive, so this stays a handful of pairs however long the study runs), the pending
//! ones as a sorted deque with a payload each (where the searcher keeps the trial's point):
//! ids mostly arrive ascending and are told roughly oldest first, so inserts land at the back
//! and removals near the front, both cheap. Both are plain sequences so a snapshot is plain
//! JSON (serde's internally tagged enums cannot read maps with integer keys back).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::SearchError;

/// Ids ever asked and ids pending; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tickets<T> {
    /// Ids ever asked: sorted, disjoint, non-adjacent inclusive ranges `(first, last)`.
    asked: Vec<(u64, u64)>,
    /// Ids asked and not told, ascending, each with its payload.
    pending: VecDeque<(u64, T)>,
}

impl<T> Default for Tickets<T> {
    fn default() -> Self {
        Self {
            asked: Vec::new(),
            pending: VecDeque::new(),
        }
    }
}

impl<T> Tickets<T> {
    /// Whether `id` was ever asked.
    fn was_asked(&self, id: u64) -> bool {
        let i = self.asked.partition_point(|&(_, last)| last < id);
        self.asked.get(i).is_some_and(|&(first, _)| first <= id)
    }

    /// Fails with [`SearchError::AlreadyAsked`] if `id` was asked before; changes nothing.
    pub fn check_ask(&self, id: u64) -> Result<(), SearchError> {
        if self.was_asked(id) {
            return Err(SearchError::AlreadyAsked(id));
        }
        Ok(())
    }

    /// Records `id` as asked and pending with `payload` (after [`Tickets::check_ask`]
    /// succeeded).
    pub fn ask(&mut self, id: u64, payload: T) {
        debug_assert!(!self.was_asked(id));
        let i = self.asked.partition_point(|&(_, last)| last < id);
        let joins_prev = i > 0 && self.asked[i - 1].1 + 1 == id;
        let joins_next = i < self.asked.len() && Some(self.asked[i].0) == id.checked_add(1);
        match (joins_prev, joins_next) {
            (true, true) => {
                self.asked[i - 1].1 = self.asked[i].1;
                self.asked.remove(i);
            }
            (true, false) => self.asked[i - 1].1 = id,
            (false, true) => self.asked[i].0 = id,
            (false, false) => self.asked.insert(i, (id, id)),
        }
        let j = self.pending.partition_point(|(p, _)| *p < id);
        self.pending.insert(j, (id, payload));
    }

    /// Fails with [`SearchError::UnknownTrial`] if `id` was never asked, or
    /// [`SearchError::AlreadyTold`] if it is no longer pending; changes nothing.
    pub fn check_tell(&self, id: u64) -> Result<(), SearchError> {
        if self.find(id).is_ok() {
            Ok(())
        } else if self.was_asked(id) {
            Err(SearchError::AlreadyTold(id))
        } else {
            Err(SearchError::UnknownTrial(id))
        }
    }

    /// Clears `id` from the pending ids and returns its payload (`None` if not pending: call
    /// [`Tickets::check_tell`] first for the error).
    pub fn tell(&mut self, id: u64) -> Option<T> {
        let j = self.find(id).ok()?;
        self.pending.remove(j).map(|(_, t)| t)
    }

    /// Pending ids, ascending.
    pub fn pending(&self) -> Vec<u64> {
        self.pending.iter().map(|(id, _)| *id).collect()
    }

    /// Payloads of the pending ids, ascending by id.
    pub fn payloads(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.pending.iter().map(|(_, t)| t.clone()).collect()
    }

    /// The payload of pending `id`, if it is pending.
    pub fn payload(&self, id: u64) -> Option<&T> {
        self.find(id).ok().map(|j| &self.pending[j].1)
    }

    fn find(&self, id: u64) -> Result<usize, usize> {
        self.pending.binary_search_by_key(&id, |(p, _)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_errors_name_the_id() {
        let mut t = Tickets::default();
        for id in [5, 3, 4, 10, 0, 9, 1, u64::MAX] {
            t.check_ask(id).unwrap();
            t.ask(id, id.wrapping_mul(2));
        }
        assert_eq!(t.asked, vec![(0, 1), (3, 5), (9, 10), (u64::MAX, u64::MAX)]);
        assert_eq!(t.pending(), vec![0, 1, 3, 4, 5, 9, 10, u64::MAX]);
        assert!(matches!(t.check_ask(4), Err(SearchError::AlreadyAsked(4))));
        assert!(matches!(t.check_tell(2), Err(SearchError::UnknownTrial(2))));
        t.check_tell(4).unwrap();
        assert_eq!(t.tell(4), Some(8));
        assert_eq!(t.tell(4), None);
        assert!(matches!(t.check_tell(4), Err(SearchError::AlreadyTold(4))));
        assert!(matches!(t.check_ask(4), Err(SearchError::AlreadyAsked(4))));
        t.ask(2, 4);
        assert_eq!(t.asked, vec![(0, 5), (9, 10), (u64::MAX, u64::MAX)]);
        assert_eq!(t.pending(), vec![0, 1, 2, 3, 5, 9, 10, u64::MAX]);
    }
}
