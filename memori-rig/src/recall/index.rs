//! One entity's recall data, kept in memory between recalls: memories by slot, their
//! embeddings ([`super::vectors`]), BM25 postings, the knowledge graph, and the episode order
//! for neighbours. Pure (no IO), so a search never waits on the database and can run on a
//! blocking thread.
//!
//! An index follows its entity's writes: [`EntityIndex::apply`] takes the memories, vectors and
//! graph edges written since the index was built (and the memories deleted) and updates every
//! structure in place, so that a recall after a write costs what changed, not the entity's
//! size. A deleted memory leaves its slot empty until the index is compacted. Nothing in a
//! search depends on where a memory sits: candidates are ordered by score and then by memory
//! id, so an index that applied changes ranks exactly like one built fresh from the same rows
//! (tested against a fresh build and against the brute-force reference [`rank::rank`]).
//!
//! A search takes the top [`RecallConfig::depth`] candidates of each source (a scan of the
//! vectors, BM25 postings of the query's terms with each turn's neighbours taken into account,
//! graph proximity), fuses them with [`rank::score`], lifts what is by or about a person the
//! query names ([`super::context`]), and keeps the best.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::context::{self, Speakers};
use super::lexical::{self, Bm25Index};
use super::rank::{self, Evidence, Factors, Provenance, QueryContext, Scored};
use super::time::TimeRange;
use super::vectors::{Vectors, best};
use crate::config::RecallConfig;
use crate::graph::{Edge, KnowledgeGraph, Node};
use crate::model::{Explanation, Memory, MemoryKind, Neighbour, Superseded};

/// Which memories a search may return.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Filter<'a> {
    /// As of this time: later memories are ignored, and memories invalidated after it count as
    /// current.
    pub(crate) as_of: Option<DateTime<Utc>>,
    /// Include invalidated memories.
    pub(crate) history: bool,
    /// Only these kinds.
    pub(crate) kinds: Option<&'a [MemoryKind]>,
    /// Only memories from this session (external id).
    pub(crate) session: Option<&'a str>,
    /// Only memories from this process (external id).
    pub(crate) process: Option<&'a str>,
    /// Only memories said at or after this time.
    pub(crate) since: Option<DateTime<Utc>>,
    /// Only memories said before this time.
    pub(crate) until: Option<DateTime<Utc>>,
}

impl Filter<'_> {
    /// Whether this is the plain "what holds now" filter, which the index answers from a
    /// precomputed bit per memory.
    fn is_current_only(&self) -> bool {
        self.as_of.is_none()
            && !self.history
            && self.kinds.is_none()
            && self.session.is_none()
            && self.process.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// Whether `m` may be returned.
    pub(crate) fn keeps(&self, m: &Memory) -> bool {
        if self.as_of.is_some_and(|t| m.valid_from > t)
            || self.since.is_some_and(|t| m.valid_from < t)
            || self.until.is_some_and(|t| m.valid_from >= t)
        {
            return false;
        }
        if !self.history && m.invalidated_at.is_some_and(|inv| self.as_of.is_none_or(|t| inv <= t)) {
            return false;
        }
        self.kinds.is_none_or(|k| k.contains(&m.kind))
            && self.session.is_none_or(|s| m.session.as_deref() == Some(s))
            && self.process.is_none_or(|p| m.process.as_deref() == Some(p))
    }
}

/// A query, prepared once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    /// The raw text (the graph looks for node names in it).
    pub(crate) text: &'a str,
    /// Its search terms.
    pub(crate) terms: &'a [String],
    /// Its embedding, if there is one.
    pub(crate) vector: Option<&'a [f32]>,
    /// Recall as of this time.
    pub(crate) now: DateTime<Utc>,
    /// A time range it names.
    pub(crate) time: Option<&'a TimeRange>,
}

/// What changed in an entity's recall data since an index was built: memories written (new or
/// changed, with their current embedding), memories deleted, graph nodes and edges written.
#[derive(Clone, Debug, Default)]
pub(crate) struct IndexDelta {
    pub(crate) memories: Vec<(Memory, Option<Vec<f32>>)>,
    pub(crate) deleted: Vec<i64>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
}

impl IndexDelta {
    /// How many rows it touches.
    pub(crate) fn len(&self) -> usize {
        self.memories.len() + self.deleted.len() + self.edges.len()
    }
}

struct Slot {
    memory: Memory,
    terms: Vec<String>,
    sources: Vec<i64>,
    /// Where the episode sits in its session: (session, first source message id).
    episode: Option<(String, i64)>,
    /// Who said it (an episode) or who it is about, lower case ([`context::who`]).
    who: Option<String>,
}

impl Slot {
    fn new(memory: Memory) -> Self {
        let terms = lexical::terms(&memory.text);
        let sources = memory.sources.iter().map(|s| s.message_id).collect();
        let episode = (memory.kind == MemoryKind::Episode)
            .then(|| Some((memory.session.clone()?, memory.sources.first()?.message_id)))
            .flatten();
        let who = context::who(&memory);
        Self { memory, terms, sources, episode, who }
    }

    fn bytes(&self) -> usize {
        self.memory.text.len() * 2 + 200 + self.memory.sources.len() * 80 + self.terms.len() * 24
    }
}

/// Slots for many memories: their terms (Snowball stemming is most of an index build) are
/// computed on every core.
fn slots(memories: Vec<Memory>) -> Vec<Slot> {
    const PER_THREAD: usize = 4_096;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(memories.len() / PER_THREAD).max(1);
    if threads == 1 {
        return memories.into_iter().map(Slot::new).collect();
    }
    let chunk = memories.len().div_ceil(threads);
    let mut rest = memories.into_iter();
    let chunks: Vec<Vec<Memory>> = (0..threads).map(|_| rest.by_ref().take(chunk).collect()).collect();
    std::thread::scope(|s| {
        let parts: Vec<_> =
            chunks.into_iter().map(|c| s.spawn(move || c.into_iter().map(Slot::new).collect::<Vec<_>>())).collect();
        parts.into_iter().flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// No slot (in `links`).
const NONE: u32 = u32::MAX;

thread_local! {
    /// BM25 accumulators, one per slot, reused by the searches of this thread.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// One entity's recall data.
#[derive(Default)]
pub(crate) struct EntityIndex {
    /// Memories by slot; `None` where a memory was deleted since the index was built.
    slots: Vec<Option<Slot>>,
    empty: usize,
    by_memory_id: HashMap<i64, u32>,
    lexical: Bm25Index,
    vectors: Vectors,
    /// Episodes of each session by their first message id, for neighbours.
    episodes: HashMap<String, BTreeMap<i64, u32>>,
    /// Per slot: the slots of the episodes before and after it in its session ([`NONE`]
    /// where there is none), kept in step with `episodes`.
    links: Vec<[u32; 2]>,
    /// Who said the episodes.
    speakers: Speakers,
    /// Memories extracted from each message (not episodes), by message id: what an episode
    /// said that a newer statement replaced.
    derived: HashMap<i64, Vec<u32>>,
    /// Per slot: holds a memory that is not invalidated (what a plain recall may return).
    current: Vec<bool>,
    graph: KnowledgeGraph,
    slot_bytes: usize,
}

impl std::fmt::Debug for EntityIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityIndex").field("memories", &self.by_memory_id.len()).finish_non_exhaustive()
    }
}

impl EntityIndex {
    /// Build from memories and their embeddings (same order; `None` where a memory has no
    /// embedding of the query model, or one of another length than the first).
    pub(crate) fn new(memories: Vec<Memory>, vectors: Vec<Option<Vec<f32>>>, graph: KnowledgeGraph) -> Self {
        let dim = vectors.iter().flatten().map(Vec::len).next().unwrap_or(0);
        let mut index = Self { vectors: Vectors::with_dim(dim), graph, ..Self::default() };
        index.slots.reserve(memories.len());
        for (slot, v) in slots(memories).into_iter().zip(vectors) {
            index.upsert_slot(slot, v.as_deref());
        }
        index
    }

    /// Apply what changed since this index was built (see [`IndexDelta`]). Applying the same
    /// delta twice changes nothing more.
    pub(crate) fn apply(&mut self, delta: IndexDelta) {
        for id in delta.deleted {
            self.remove(id);
        }
        for (m, v) in delta.memories {
            self.upsert(m, v.as_deref());
        }
        for n in delta.nodes {
            self.graph.upsert_node(n);
        }
        for e in delta.edges {
            self.graph.upsert_edge(e);
        }
        if self.empty > 64 && self.empty * 4 > self.slots.len() {
            self.compact();
        }
    }

    /// Rebuild without the empty slots of deleted memories.
    fn compact(&mut self) {
        let mut memories = Vec::with_capacity(self.by_memory_id.len());
        let mut vectors = Vec::with_capacity(self.by_memory_id.len());
        for (i, slot) in std::mem::take(&mut self.slots).into_iter().enumerate() {
            if let Some(slot) = slot {
                vectors.push(self.vectors.get(i).map(<[f32]>::to_vec));
                memories.push(slot.memory);
            }
        }
        // Slots in id order, as a fresh build has them (ties never depend on it, but it keeps
        // compaction a pure function of the memories).
        let mut order: Vec<usize> = (0..memories.len()).collect();
        order.sort_unstable_by_key(|&i| memories[i].id);
        let mut sorted: Vec<Option<(Memory, Option<Vec<f32>>)>> = memories.into_iter().zip(vectors).map(Some).collect();
        let (memories, vectors): (Vec<Memory>, Vec<Option<Vec<f32>>>) =
            order.into_iter().filter_map(|i| sorted[i].take()).unzip();
        let graph = std::mem::take(&mut self.graph);
        *self = Self::new(memories, vectors, graph);
    }

    fn remove(&mut self, memory_id: i64) {
        let Some(slot) = self.by_memory_id.remove(&memory_id) else { return };
        let i = slot as usize;
        if let Some(old) = self.slots[i].take() {
            self.lexical.remove(i, &old.terms);
            self.unlink(i, &old);
            self.slot_bytes -= old.bytes();
        }
        self.vectors.set(i, None);
        self.current[i] = false;
        self.empty += 1;
        self.graph.remove_edges_of_memory(memory_id);
    }

    fn upsert(&mut self, memory: Memory, vector: Option<&[f32]>) {
        self.upsert_slot(Slot::new(memory), vector);
    }

    fn upsert_slot(&mut self, new: Slot, vector: Option<&[f32]>) {
        let i = match self.by_memory_id.get(&new.memory.id) {
            Some(&slot) => {
                let i = slot as usize;
                if let Some(old) = self.slots[i].take() {
                    self.lexical.remove(i, &old.terms);
                    self.unlink(i, &old);
                    self.slot_bytes -= old.bytes();
                }
                i
            }
            None => {
                let i = self.slots.len();
                self.slots.push(None);
                self.current.push(false);
                self.links.push([NONE; 2]);
                self.by_memory_id.insert(new.memory.id, i as u32);
                i
            }
        };
        self.lexical.insert(i, &new.terms);
        self.vectors.set(i, vector);
        if let Some((session, first)) = &new.episode {
            let order = self.episodes.entry(session.clone()).or_default();
            order.insert(*first, i as u32);
            let before = order.range(..*first).next_back().map_or(NONE, |(_, &j)| j);
            let after = order.range(first + 1..).next().map_or(NONE, |(_, &j)| j);
            self.links[i] = [before, after];
            if before != NONE {
                self.links[before as usize][1] = i as u32;
            }
            if after != NONE {
                self.links[after as usize][0] = i as u32;
            }
            if let Some(who) = &new.who {
                self.speakers.add(who);
            }
        }
        if new.memory.kind != MemoryKind::Episode {
            for &m in &new.sources {
                self.derived.entry(m).or_default().push(i as u32);
            }
        }
        self.current[i] = new.memory.invalidated_at.is_none();
        self.slot_bytes += new.bytes();
        self.slots[i] = Some(new);
    }

    fn unlink(&mut self, i: usize, old: &Slot) {
        if old.memory.kind != MemoryKind::Episode {
            for m in &old.sources {
                if let Some(slots) = self.derived.get_mut(m) {
                    slots.retain(|&j| j as usize != i);
                    if slots.is_empty() {
                        self.derived.remove(m);
                    }
                }
            }
        }
        if let Some((session, first)) = &old.episode
            && let Some(order) = self.episodes.get_mut(session)
        {
            order.remove(first);
            if order.is_empty() {
                self.episodes.remove(session);
            }
            let [before, after] = std::mem::replace(&mut self.links[i], [NONE; 2]);
            if before != NONE {
                self.links[before as usize][1] = after;
            }
            if after != NONE {
                self.links[after as usize][0] = before;
            }
            if let Some(who) = &old.who {
                self.speakers.remove(who);
            }
        }
    }

    /// Memories indexed.
    pub(crate) fn len(&self) -> usize {
        self.by_memory_id.len()
    }

    fn slot(&self, i: usize) -> &Slot {
        self.slots[i].as_ref().expect("a search only returns occupied slots")
    }

    /// The memory in slot `i` (a slot a search returned).
    pub(crate) fn memory(&self, i: usize) -> &Memory {
        &self.slot(i).memory
    }

    /// The memory id of slot `i`, the tie-breaker of every ordering (empty slots sort last).
    fn id(&self, i: usize) -> i64 {
        self.slots[i].as_ref().map_or(i64::MAX, |s| s.memory.id)
    }

    /// Rough heap size, for the cache's budget.
    pub(crate) fn bytes(&self) -> usize {
        self.slot_bytes + self.vectors.bytes() + self.lexical.bytes() + self.slots.len() * 48
    }

    /// The best `limit` memories for a query, best first, each with its explanation.
    pub(crate) fn search(&self, q: &Query<'_>, filter: &Filter<'_>, cfg: &RecallConfig, limit: usize) -> Vec<Scored> {
        if limit == 0 || self.by_memory_id.is_empty() {
            return Vec::new();
        }
        let custom: Option<Vec<bool>> = (!filter.is_current_only())
            .then(|| self.slots.iter().map(|s| s.as_ref().is_some_and(|s| filter.keeps(&s.memory))).collect());
        let keep = |i: usize| match &custom {
            Some(k) => k[i],
            None => self.current[i],
        };
        let id = |i: usize| self.id(i);
        let depth = cfg.depth.max(limit);

        let vector = match q.vector {
            Some(qv) => self.vectors.top(qv, keep, id, depth),
            None => Vec::new(),
        };
        let people = if cfg.speaker_weight > 0.0 { self.speakers.named_in(q.text) } else { Vec::new() };
        let terms = context::without_names(q.terms, &people);
        let lexical = SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let hits = self.lexical.search(&terms, keep, &mut scratch);
            let raw = |j: usize| scratch.get(j).copied().unwrap_or(0.0);
            let receivers = |j: usize, out: &mut Vec<usize>| self.receivers(j, out);
            context::spread(&hits, raw, |j| self.around(j), receivers, keep, cfg.context_weight)
        });
        let lexical = best(lexical, depth, id);
        let factors = |i: usize| Factors {
            named: !people.is_empty() && self.slot(i).who.as_ref().is_some_and(|w| people.contains(w)),
            ..self.factors(i)
        };
        let max_lexical = lexical.first().map_or(0.0, |&(_, s)| s);
        let ctx = QueryContext { now: q.now, time: q.time, max_lexical };

        let mut evidence: HashMap<usize, Evidence> = HashMap::new();
        for (r, &(i, s)) in vector.iter().enumerate() {
            evidence.entry(i).or_default().vector = Some((s, r + 1));
        }
        for (r, &(i, s)) in lexical.iter().enumerate() {
            evidence.entry(i).or_default().lexical = Some((s, r + 1));
        }
        if cfg.graph_weight > 0.0 && self.graph.edge_count() > 0 {
            // Seeds: nodes the query names, then nodes of the best few text candidates.
            let mut first: Vec<(usize, f64)> =
                evidence.iter().map(|(&i, e)| (i, rank::score(e, &factors(i), &ctx, cfg).0)).collect();
            first.sort_by(|a, b| b.1.total_cmp(&a.1).then(id(a.0).cmp(&id(b.0))));
            let seeds: Vec<i64> = first.iter().take(3).map(|&(i, _)| id(i)).collect();
            let graph = self.graph_evidence(q.text, &seeds);
            let graph: Vec<(usize, f64)> =
                graph.into_iter().filter_map(|(m, s)| self.position(m).filter(|&i| keep(i)).map(|i| (i, s))).collect();
            for (r, &(i, s)) in best(graph, depth, id).iter().enumerate() {
                evidence.entry(i).or_default().graph = Some((s, r + 1));
            }
        }

        let scored = evidence
            .into_iter()
            .map(|(i, e)| {
                let (mut score, mut explanation) = rank::score(&e, &factors(i), &ctx, cfg);
                if !filter.history && self.replaced(i, q.now) {
                    score *= rank::SUPERSEDED;
                    explanation = explanation
                        .with(Explanation::new("superseded (a newer statement replaced it)", rank::SUPERSEDED));
                    explanation.value = score;
                }
                Scored { index: i, score, explanation }
            })
            .collect();
        let provenance = |i: usize| {
            let s = self.slot(i);
            Provenance { sources: &s.sources, terms: &s.terms, episode: s.memory.kind == MemoryKind::Episode }
        };
        rank::select(scored, provenance, id, limit, cfg.min_score)
    }

    /// Graph proximity of memories to a query: memories on edges touching a node the query
    /// names (weight 1) or a node of a seed memory's edges (weight 0.5), damped by how many
    /// edges the node has, so that a hub (the user themself) does not pull in everything.
    pub(crate) fn graph_evidence(&self, text: &str, seed_memories: &[i64]) -> HashMap<i64, f64> {
        let mut nodes: HashMap<i64, f64> = self.graph.mentioned_in(text).into_iter().map(|n| (n.id, 1.0)).collect();
        let seeds: HashSet<i64> = seed_memories.iter().copied().collect();
        for e in self.graph.edges().filter(|e| e.memory_id.is_some_and(|m| seeds.contains(&m))) {
            for node in [e.source, e.target] {
                nodes.entry(node).or_insert(0.5);
            }
        }
        // Nodes in id order, so that sums are added in the same order by every index.
        let mut nodes: Vec<(i64, f64)> = nodes.into_iter().collect();
        nodes.sort_unstable_by_key(|&(id, _)| id);
        let mut out: HashMap<i64, f64> = HashMap::new();
        for (node, weight) in nodes {
            let edges = self.graph.edges_of(node);
            let damp = 1.0 / (1.0 + (edges.len() as f64).ln());
            for e in edges {
                if let Some(m) = e.memory_id {
                    let s = out.entry(m).or_default();
                    *s = (*s + weight * damp).min(1.0);
                }
            }
        }
        out
    }

    /// Whether everything extracted from the episode in slot `i` was replaced by a newer
    /// statement as of `now` (an episode nothing was extracted from is not).
    fn replaced(&self, i: usize, now: DateTime<Utc>) -> bool {
        let slot = self.slot(i);
        if slot.memory.kind != MemoryKind::Episode {
            return false;
        }
        let mut derived = slot.sources.iter().flat_map(|m| self.derived.get(m)).flatten().peekable();
        derived.peek().is_some()
            && derived.all(|&j| self.slot(j as usize).memory.invalidated_at.is_some_and(|t| t <= now))
    }

    /// What replaced the memory in slot `i` as of `now`: the memory itself when it was
    /// invalidated, or for an episode, the latest statement extracted from it that was.
    pub(crate) fn superseded(&self, i: usize, now: DateTime<Utc>) -> Option<Superseded> {
        let slot = self.slot(i);
        let mine = std::iter::once(i as u32);
        let derived = slot.sources.iter().flat_map(|m| self.derived.get(m)).flatten().copied();
        let candidates: Vec<u32> =
            if slot.memory.kind == MemoryKind::Episode { derived.collect() } else { mine.collect() };
        candidates
            .into_iter()
            .map(|j| &self.slot(j as usize).memory)
            .filter_map(|m| Some((m.invalidated_at.filter(|&t| t <= now)?, m.invalidated_by)))
            .max_by_key(|(at, _)| *at)
            .map(|(at, by)| Superseded {
                at,
                by: by.and_then(|id| self.position(id)).map(|j| self.slot(j).memory.text.clone()),
            })
    }

    /// The slots of the episodes just before and after slot `i` in its session.
    fn adjacent(&self, i: usize) -> [Option<usize>; 2] {
        self.links[i].map(|j| (j != NONE).then_some(j as usize))
    }

    /// The episode the memory in slot `i` was said in: itself for an episode, the episode of
    /// its first source message for a memory extracted from one.
    fn origin(&self, i: usize) -> Option<usize> {
        let slot = self.slot(i);
        if slot.episode.is_some() {
            return Some(i);
        }
        let first = slot.sources.first()?;
        self.episodes.get(slot.memory.session.as_deref()?)?.get(first).map(|&j| j as usize)
    }

    /// The turns around the one the memory in slot `i` was said in (its context).
    fn around(&self, i: usize) -> [Option<usize>; 2] {
        self.origin(i).map_or([None, None], |o| self.adjacent(o))
    }

    /// The slots whose context holds episode `j`: the episodes next to it and the memories
    /// extracted from them (a memory holds no one's context).
    fn receivers(&self, j: usize, out: &mut Vec<usize>) {
        if self.slot(j).episode.is_none() {
            return;
        }
        for n in self.adjacent(j).into_iter().flatten() {
            out.push(n);
            let Some((_, first)) = &self.slot(n).episode else { continue };
            for &m in self.derived.get(first).into_iter().flatten() {
                if self.origin(m as usize) == Some(n) {
                    out.push(m as usize);
                }
            }
        }
    }

    /// The slot of a memory id.
    pub(crate) fn position(&self, memory_id: i64) -> Option<usize> {
        self.by_memory_id.get(&memory_id).map(|&i| i as usize)
    }

    /// What adjusts the score of the memory in slot `i`, apart from whether the query names
    /// who it is by or about (`named`, set by the search).
    pub(crate) fn factors(&self, i: usize) -> Factors {
        let m = &self.slot(i).memory;
        Factors {
            importance: m.importance,
            mention_count: m.mention_count,
            last_seen_at: m.last_seen_at,
            said_at: m.valid_from,
            referred_at: m.referred_at,
            named: false,
        }
    }

    /// The messages said just before and after the episode in slot `i` in its session (that
    /// `filter` keeps); empty for other kinds.
    pub(crate) fn neighbours(&self, i: usize, filter: &Filter<'_>) -> Vec<Neighbour> {
        let [before, after] = self.adjacent(i);
        [(before, true), (after, false)]
            .into_iter()
            .filter_map(|(j, is_before)| {
                let m = &self.slot(j?).memory;
                filter.keeps(m).then(|| Neighbour { before: is_before, text: m.text.clone(), said_at: m.valid_from })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
