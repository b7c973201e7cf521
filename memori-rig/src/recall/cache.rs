//! Entity indexes kept between recalls, each stamped with the memory revision it was built
//! at (see `store::memory_revision`); a recall that reads a newer revision rebuilds. Bounded
//! by an approximate byte budget, least recently used first out.
//!
//! Hand-written rather than `lru`/`moka`: entries are few (one per active entity) and large,
//! eviction is by bytes, and the whole thing is a map and a counter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::index::EntityIndex;

struct Entry {
    revision: i64,
    model: String,
    index: Arc<EntityIndex>,
    used: u64,
}

#[derive(Default)]
struct State {
    map: HashMap<i64, Entry>,
    tick: u64,
    bytes: usize,
}

/// The cache; `budget` 0 disables it.
pub(crate) struct IndexCache {
    budget: usize,
    state: Mutex<State>,
}

impl IndexCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self { budget, state: Mutex::new(State::default()) }
    }

    /// The index of an entity row if it was built at `revision` for `model`.
    pub(crate) fn get(&self, entity_row: i64, revision: i64, model: &str) -> Option<Arc<EntityIndex>> {
        let mut state = self.state.lock().ok()?;
        state.tick += 1;
        let tick = state.tick;
        let entry = state.map.get_mut(&entity_row)?;
        if entry.revision != revision || entry.model != model {
            return None;
        }
        entry.used = tick;
        Some(Arc::clone(&entry.index))
    }

    /// Keep an index, evicting the least recently used ones beyond the budget. An index that
    /// alone exceeds the budget is not kept. A newer revision is never replaced by an older.
    pub(crate) fn put(&self, entity_row: i64, revision: i64, model: &str, index: Arc<EntityIndex>) {
        let size = index.bytes();
        if size > self.budget {
            return;
        }
        let Ok(mut state) = self.state.lock() else { return };
        if state.map.get(&entity_row).is_some_and(|e| e.revision > revision && e.model == model) {
            return;
        }
        state.tick += 1;
        let used = state.tick;
        if let Some(old) = state.map.insert(entity_row, Entry { revision, model: model.to_owned(), index, used }) {
            state.bytes -= old.index.bytes();
        }
        state.bytes += size;
        while state.bytes > self.budget {
            let Some((&victim, _)) = state.map.iter().min_by_key(|(_, e)| e.used) else { break };
            if let Some(e) = state.map.remove(&victim) {
                state.bytes -= e.index.bytes();
            }
        }
    }

    /// Entries and their approximate bytes.
    pub(crate) fn usage(&self) -> (usize, usize) {
        self.state.lock().map(|s| (s.map.len(), s.bytes)).unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(texts: &[&str]) -> Arc<EntityIndex> {
        let memories = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                crate::model::test_memory(i as i64, crate::model::MemoryKind::Fact, t, chrono::DateTime::UNIX_EPOCH)
            })
            .collect();
        Arc::new(EntityIndex::new(memories, vec![None; texts.len()], Default::default()))
    }

    #[test]
    fn hits_only_the_same_revision_and_model_and_evicts_the_oldest() {
        let one = index(&["a b c"]);
        let cache = IndexCache::new(one.bytes() * 2 + 10);
        cache.put(1, 5, "m", Arc::clone(&one));
        assert!(cache.get(1, 5, "m").is_some());
        assert!(cache.get(1, 6, "m").is_none(), "another process wrote: rebuild");
        assert!(cache.get(1, 5, "other-model").is_none());
        cache.put(2, 1, "m", index(&["d e f"]));
        assert!(cache.get(1, 5, "m").is_some(), "touch 1, so 2 is the oldest");
        cache.put(3, 1, "m", index(&["g h i"]));
        assert!(cache.get(2, 1, "m").is_none(), "evicted");
        assert!(cache.get(1, 5, "m").is_some() && cache.get(3, 1, "m").is_some());
        cache.put(1, 4, "m", index(&["older"]));
        assert!(cache.get(1, 5, "m").is_some(), "an older revision does not replace a newer one");
        assert_eq!(cache.usage().0, 2);
        assert!(IndexCache::new(0).get(1, 5, "m").is_none());
    }
}
