//! Things outstanding by token: O(1) insertion, lookup and removal, iteration in token order.
//!
//! The service hands out tokens from one counter in increasing order, so the entries of one
//! map are keyed by an increasing sequence: a window of slots from the oldest outstanding
//! token (`base`) to the newest, each slot the entry of `base + index` or empty. Removing the
//! oldest entry moves the window forward past the empty slots. Iteration is in token order,
//! never in hash order (ARCHITECTURE.md, invariant 3).

use std::collections::VecDeque;

/// Entries keyed by token, for tokens inserted in increasing order.
#[derive(Clone, Debug)]
pub(super) struct TokenMap<T> {
    /// The token of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<T>>,
    len: usize,
}

impl<T> Default for TokenMap<T> {
    fn default() -> Self {
        TokenMap {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> TokenMap<T> {
    /// An empty map.
    pub(super) fn new() -> TokenMap<T> {
        TokenMap::default()
    }

    /// Adds the entry of `token`, which must be newer than every token in the map.
    pub(super) fn insert(&mut self, token: u64, value: T) {
        if self.slots.is_empty() {
            self.base = token;
        }
        assert!(
            token >= self.base + self.slots.len() as u64,
            "tokens are inserted in increasing order"
        );
        let idx = (token - self.base) as usize;
        self.slots.resize_with(idx, || None);
        self.slots.push_back(Some(value));
        self.len += 1;
    }

    fn idx(&self, token: u64) -> Option<usize> {
        let idx = token.checked_sub(self.base)?;
        (idx < self.slots.len() as u64).then_some(idx as usize)
    }

    /// The entry of `token`.
    pub(super) fn get(&self, token: u64) -> Option<&T> {
        self.slots.get(self.idx(token)?)?.as_ref()
    }

    /// The entry of `token`, to change.
    pub(super) fn get_mut(&mut self, token: u64) -> Option<&mut T> {
        let idx = self.idx(token)?;
        self.slots.get_mut(idx)?.as_mut()
    }

    /// Whether `token` has an entry.
    pub(super) fn contains(&self, token: u64) -> bool {
        self.get(token).is_some()
    }

    /// Removes and returns the entry of `token`.
    pub(super) fn remove(&mut self, token: u64) -> Option<T> {
        let idx = self.idx(token)?;
        let value = self.slots[idx].take()?;
        self.len -= 1;
        while self.slots.front().is_some_and(Option::is_none) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(value)
    }

    /// Whether the map is empty.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry.
    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    /// The entries with their tokens, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| v.as_ref().map(|v| (base + i as u64, v)))
    }

    /// The tokens, oldest first.
    pub(super) fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(t, _)| t)
    }
}

/// A set of tokens, inserted in increasing order (what a stage or an operation waits for).
pub(super) type TokenSet = TokenMap<()>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_removals_in_any_order_iterate_in_token_order() {
        let mut m = TokenMap::new();
        for t in [5, 6, 9, 12] {
            m.insert(t, t * 10);
        }
        assert_eq!(m.get(9), Some(&90));
        assert_eq!(m.get(7), None);
        assert_eq!(m.get(4), None);
        assert_eq!(m.get(13), None);
        assert_eq!(m.remove(6), Some(60));
        assert_eq!(m.remove(6), None);
        assert_eq!(m.remove(5), Some(50));
        // The window moved past the empty slots to the oldest entry left.
        assert_eq!(m.base, 9);
        m.insert(20, 200);
        assert_eq!(m.tokens().collect::<Vec<_>>(), vec![9, 12, 20]);
        assert_eq!(
            m.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            vec![90, 120, 200]
        );
        for t in [20, 9, 12] {
            assert!(m.remove(t).is_some());
        }
        assert!(m.is_empty());
        // An empty map starts again at the next token.
        m.insert(30, 1);
        assert!(m.contains(30));
        assert!(!m.contains(31));
        assert_eq!(m.slots.len(), 1);
        // Cleared, it holds nothing, and takes newer tokens again.
        m.insert(32, 3);
        m.clear();
        assert!(m.is_empty());
        assert!(!m.contains(30));
        assert_eq!(m.tokens().count(), 0);
        m.insert(40, 4);
        assert_eq!(m.tokens().collect::<Vec<_>>(), vec![40]);
    }

    #[test]
    #[should_panic(expected = "increasing order")]
    fn an_older_token_is_refused() {
        let mut m = TokenMap::new();
        m.insert(5, ());
        m.insert(3, ());
    }
}
