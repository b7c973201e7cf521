//! Entity indexes kept between recalls, each with the memory revision it reflects (see
//! `store::capture::memory_revision`). A recall that reads a newer revision brings the index
//! up to date (one task at a time per entity; the others wait for it) instead of building a
//! new one. Bounded by an approximate byte budget, least recently used first out.
//!
//! Hand-written rather than `lru`/`moka`: entries are few (one per active entity) and large,
//! eviction is by bytes, and the whole thing is a map and a counter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use super::index::{EntityIndex, IndexDelta};

/// Not built yet: the first recall builds it.
pub(crate) const UNBUILT: i64 = -1;

/// One entity's index and the revision it reflects.
pub(crate) struct CachedIndex {
    model: String,
    state: RwLock<(i64, EntityIndex)>,
    /// Held by the one task that brings the index up to date.
    pub(crate) updating: tokio::sync::Mutex<()>,
}

impl CachedIndex {
    fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            state: RwLock::new((UNBUILT, EntityIndex::default())),
            updating: tokio::sync::Mutex::new(()),
        }
    }

    fn lock_read(&self) -> RwLockReadGuard<'_, (i64, EntityIndex)> {
        // A panic while applying leaves a half-updated index: rebuild rather than trust it.
        self.state.read().unwrap_or_else(|poisoned| {
            self.state.clear_poison();
            poisoned.into_inner()
        })
    }

    /// The revision the index reflects ([`UNBUILT`] before the first build).
    pub(crate) fn revision(&self) -> i64 {
        if self.state.is_poisoned() {
            return UNBUILT;
        }
        self.lock_read().0
    }

    /// The index, for a search.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, (i64, EntityIndex)> {
        self.lock_read()
    }

    /// Replace the index with one built at `revision`.
    pub(crate) fn replace(&self, revision: i64, index: EntityIndex) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        *state = (revision, index);
        self.state.clear_poison();
    }

    /// Apply what changed up to `revision`.
    pub(crate) fn apply(&self, revision: i64, delta: IndexDelta) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.1.apply(delta);
        state.0 = revision;
    }

    fn bytes(&self) -> usize {
        self.lock_read().1.bytes()
    }
}

struct Entry {
    index: Arc<CachedIndex>,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct State {
    map: HashMap<i64, Entry>,
    tick: u64,
    bytes: usize,
}

/// The cache; `budget` 0 keeps nothing between recalls.
pub(crate) struct IndexCache {
    budget: usize,
    state: Mutex<State>,
}

impl IndexCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self { budget, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The index of an entity row for `model`: the cached one, or a new unbuilt one that the
    /// caller builds (and that concurrent callers then share).
    pub(crate) fn entry(&self, entity_row: i64, model: &str) -> Arc<CachedIndex> {
        let mut state = self.state();
        state.tick += 1;
        let tick = state.tick;
        if let Some(e) = state.map.get_mut(&entity_row).filter(|e| e.index.model == model) {
            e.used = tick;
            return Arc::clone(&e.index);
        }
        let index = Arc::new(CachedIndex::new(model));
        if self.budget > 0
            && let Some(old) = state.map.insert(entity_row, Entry { index: Arc::clone(&index), bytes: 0, used: tick })
        {
            state.bytes -= old.bytes;
        }
        index
    }

    /// Account for an index's new size after a build or an update, evicting the least
    /// recently used others beyond the budget (an index alone over the budget is dropped).
    pub(crate) fn resized(&self, entity_row: i64, index: &Arc<CachedIndex>) {
        let size = index.bytes();
        let mut state = self.state();
        let Some(entry) = state.map.get_mut(&entity_row).filter(|e| Arc::ptr_eq(&e.index, index)) else { return };
        let old = std::mem::replace(&mut entry.bytes, size);
        state.bytes = state.bytes - old + size;
        if size > self.budget {
            // Too large to keep: the next recall builds it again.
            if let Some(e) = state.map.remove(&entity_row) {
                state.bytes -= e.bytes;
            }
            return;
        }
        while state.bytes > self.budget {
            let victim = state
                .map
                .iter()
                .filter(|(row, _)| **row != entity_row)
                .min_by_key(|(_, e)| e.used)
                .map(|(row, _)| *row);
            let Some(victim) = victim else { break };
            if let Some(e) = state.map.remove(&victim) {
                state.bytes -= e.bytes;
            }
        }
    }

    /// Forget an entity's index (it was erased).
    pub(crate) fn remove(&self, entity_row: i64) {
        let mut state = self.state();
        if let Some(e) = state.map.remove(&entity_row) {
            state.bytes -= e.bytes;
        }
    }

    /// Entries and their approximate bytes.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let state = self.state();
        (state.map.len(), state.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(texts: &[&str]) -> EntityIndex {
        let memories = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                crate::model::test_memory(i as i64, crate::model::MemoryKind::Fact, t, chrono::DateTime::UNIX_EPOCH)
            })
            .collect();
        EntityIndex::new(memories, vec![None; texts.len()], Default::default())
    }

    #[test]
    fn entries_are_shared_per_model_and_evicted_by_bytes_oldest_first() {
        let one = index(&["a b c"]).bytes();
        let cache = IndexCache::new(one * 2 + 10);
        let first = cache.entry(1, "m");
        assert_eq!(first.revision(), UNBUILT);
        first.replace(5, index(&["a b c"]));
        cache.resized(1, &first);
        assert!(Arc::ptr_eq(&cache.entry(1, "m"), &first), "shared while cached");
        assert_eq!(cache.entry(1, "m").revision(), 5);
        assert_eq!(cache.entry(1, "other-model").revision(), UNBUILT, "another model: another index");
        let first = cache.entry(1, "m");
        first.replace(5, index(&["a b c"]));
        cache.resized(1, &first);
        let second = cache.entry(2, "m");
        second.replace(1, index(&["d e f"]));
        cache.resized(2, &second);
        cache.entry(1, "m"); // touch 1, so 2 is the oldest
        let third = cache.entry(3, "m");
        third.replace(1, index(&["g h i"]));
        cache.resized(3, &third);
        assert_eq!(cache.usage().0, 2);
        assert_eq!(cache.entry(2, "m").revision(), UNBUILT, "evicted");
        cache.remove(2);
        cache.remove(3);
        assert_eq!(cache.usage().0, 1);
        assert_eq!(IndexCache::new(0).entry(1, "m").revision(), UNBUILT);
        assert_eq!(IndexCache::new(0).usage(), (0, 0));
    }
}
