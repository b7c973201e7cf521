//! One entity's recall data, kept in memory between recalls: memories, their embeddings as
//! one contiguous `f32` matrix, BM25 postings, the knowledge graph, and the episode order for
//! neighbours. Built from a store snapshot; pure (no IO), so a search never waits on the
//! database and can run on a blocking thread.
//!
//! A search takes the top [`RecallConfig::depth`] candidates of each source (a scan of the
//! vector matrix, BM25 postings of the query's terms, graph proximity), fuses them with
//! [`rank::score`], and keeps the best. With the same depth, this agrees with the reference
//! [`rank::rank`] (tested).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::lexical::{self, Bm25Index};
use super::rank::{self, Evidence, Factors, QueryContext, Scored};
use super::time::TimeRange;
use crate::config::RecallConfig;
use crate::graph::KnowledgeGraph;
use crate::model::{Memory, MemoryKind, Neighbour};

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

/// One entity's recall data.
#[derive(Clone, Debug, Default)]
pub(crate) struct EntityIndex {
    memories: Vec<Memory>,
    sources: Vec<Vec<i64>>,
    lexical: Bm25Index,
    dim: usize,
    vectors: Vec<f32>,
    has_vector: Vec<bool>,
    neighbours: Vec<(Option<u32>, Option<u32>)>,
    graph: KnowledgeGraph,
    by_memory_id: HashMap<i64, u32>,
    bytes: usize,
}

impl EntityIndex {
    /// Build from memories and their embeddings (same order; `None` where a memory has no
    /// embedding of the query model, or one of another dimension than the first).
    pub(crate) fn new(memories: Vec<Memory>, vectors: Vec<Option<Vec<f32>>>, graph: KnowledgeGraph) -> Self {
        let n = memories.len();
        let terms: Vec<Vec<String>> = memories.iter().map(|m| lexical::terms(&m.text)).collect();
        let lexical = Bm25Index::new(terms.iter().map(Vec::as_slice));
        let dim = vectors.iter().flatten().map(Vec::len).next().unwrap_or(0);
        let mut flat = vec![0.0f32; n * dim];
        let mut has_vector = vec![false; n];
        for (i, v) in vectors.into_iter().enumerate() {
            if let Some(v) = v.filter(|v| v.len() == dim && dim > 0) {
                flat[i * dim..(i + 1) * dim].copy_from_slice(&v);
                has_vector[i] = true;
            }
        }
        let sources: Vec<Vec<i64>> =
            memories.iter().map(|m| m.sources.iter().map(|s| s.message_id).collect()).collect();
        let by_memory_id = memories.iter().enumerate().map(|(i, m)| (m.id, i as u32)).collect();
        let neighbours = neighbours(&memories);
        let bytes = flat.len() * 4
            + memories.iter().map(|m| m.text.len() * 2 + 200 + m.sources.len() * 80).sum::<usize>()
            + terms.iter().map(|t| t.len() * 16).sum::<usize>();
        Self { memories, sources, lexical, dim, vectors: flat, has_vector, neighbours, graph, by_memory_id, bytes }
    }

    /// Memory `i`.
    pub(crate) fn memory(&self, i: usize) -> &Memory {
        &self.memories[i]
    }

    /// Rough heap size, for the cache's budget.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The best `limit` memories for a query, best first, each with its explanation.
    pub(crate) fn search(&self, q: &Query<'_>, filter: &Filter<'_>, cfg: &RecallConfig, limit: usize) -> Vec<Scored> {
        if limit == 0 || self.memories.is_empty() {
            return Vec::new();
        }
        let keep: Vec<bool> = self.memories.iter().map(|m| filter.keeps(m)).collect();
        let depth = cfg.depth.max(limit);

        let vector = match q.vector.filter(|v| v.len() == self.dim && self.dim > 0) {
            Some(qv) => top(
                self.vectors
                    .chunks_exact(self.dim)
                    .enumerate()
                    .filter(|&(i, _)| keep[i] && self.has_vector[i])
                    .map(|(i, v)| (i, f64::from(rank::dot(qv, v))))
                    .collect(),
                depth,
            ),
            None => Vec::new(),
        };
        let lexical = top(self.lexical.search(q.terms, |i| keep[i]), depth);
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
                evidence.iter().map(|(&i, e)| (i, rank::score(e, &self.factors(i), &ctx, cfg).0)).collect();
            first.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let seeds: Vec<i64> = first.iter().take(3).map(|&(i, _)| self.memories[i].id).collect();
            let graph = self.graph_evidence(q.text, &seeds);
            let graph = top(
                graph
                    .into_iter()
                    .filter_map(|(id, s)| self.position(id).filter(|&i| keep[i]).map(|i| (i, s)))
                    .collect(),
                depth,
            );
            for (r, &(i, s)) in graph.iter().enumerate() {
                evidence.entry(i).or_default().graph = Some((s, r + 1));
            }
        }

        let scored = evidence
            .into_iter()
            .map(|(i, e)| {
                let (score, explanation) = rank::score(&e, &self.factors(i), &ctx, cfg);
                Scored { index: i, score, explanation }
            })
            .collect();
        rank::select(scored, |i| &self.sources[i], limit, cfg.min_score)
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

    /// The position of a memory id.
    pub(crate) fn position(&self, memory_id: i64) -> Option<usize> {
        self.by_memory_id.get(&memory_id).map(|&i| i as usize)
    }

    /// What adjusts memory `i`'s score.
    pub(crate) fn factors(&self, i: usize) -> Factors {
        let m = &self.memories[i];
        Factors {
            importance: m.importance,
            mention_count: m.mention_count,
            last_seen_at: m.last_seen_at,
            said_at: m.valid_from,
            referred_at: m.referred_at,
        }
    }

    /// The messages said just before and after episode `i` in its session (that `filter`
    /// keeps); empty for other kinds.
    pub(crate) fn neighbours(&self, i: usize, filter: &Filter<'_>) -> Vec<Neighbour> {
        let (before, after) = self.neighbours[i];
        [(before, true), (after, false)]
            .into_iter()
            .filter_map(|(j, is_before)| {
                let m = &self.memories[j? as usize];
                filter.keeps(m).then(|| Neighbour { before: is_before, text: m.text.clone(), said_at: m.valid_from })
            })
            .collect()
    }
}

/// The best `depth` of `(index, score)`, best first, ties by index.
fn top(mut scored: Vec<(usize, f64)>, depth: usize) -> Vec<(usize, f64)> {
    let order = |a: &(usize, f64), b: &(usize, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > depth {
        scored.select_nth_unstable_by(depth, order);
        scored.truncate(depth);
    }
    scored.sort_unstable_by(order);
    scored
}

/// Previous and next episode of each episode in its session, by message order.
fn neighbours(memories: &[Memory]) -> Vec<(Option<u32>, Option<u32>)> {
    let mut out = vec![(None, None); memories.len()];
    let mut episodes: Vec<(&str, i64, u32)> = memories
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == MemoryKind::Episode)
        .filter_map(|(i, m)| Some((m.session.as_deref()?, m.sources.first()?.message_id, i as u32)))
        .collect();
    episodes.sort_unstable();
    for pair in episodes.windows(2) {
        let ((s1, _, a), (s2, _, b)) = (pair[0], pair[1]);
        if s1 == s2 {
            out[a as usize].1 = Some(b);
            out[b as usize].0 = Some(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::graph::{Edge, Node};
    use crate::model::SourceRef;
    use crate::recall::rank::RankDoc;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 5, 1, 12, 0, 0).unwrap()
    }

    fn memory(id: i64, text: &str, day: i64) -> Memory {
        let t = t0() + Duration::days(day);
        Memory {
            session: Some(format!("s{}", id / 10)),
            process: Some("bot".into()),
            sources: vec![SourceRef { message_id: id, external_id: None, fingerprint: String::new() }],
            ..crate::model::test_memory(id, MemoryKind::Episode, text, t)
        }
    }

    /// A deterministic corpus: texts from a small vocabulary, unit vectors from an LCG.
    fn corpus(n: usize, dim: usize) -> (Vec<Memory>, Vec<Option<Vec<f32>>>) {
        const WORDS: [&str; 24] = [
            "hiking", "pottery", "jazz", "peanuts", "Boston", "sister", "dog", "painting", "camping", "guitar",
            "school", "garden", "coffee", "marathon", "novel", "beach", "adoption", "museum", "piano", "soccer",
            "yoga", "bakery", "concert", "travel",
        ];
        let mut seed = 42u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let mut memories = Vec::new();
        let mut vectors = Vec::new();
        for i in 0..n {
            let text: Vec<&str> = (0..3 + next() % 6).map(|_| WORDS[next() % WORDS.len()]).collect();
            memories.push(memory(i as i64 + 1, &text.join(" "), (next() % 300) as i64));
            if i % 7 == 3 {
                vectors.push(None); // some memories have no embedding yet
            } else {
                let v: Vec<f32> = (0..dim).map(|_| (next() % 2001) as f32 / 1000.0 - 1.0).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                vectors.push(Some(v.into_iter().map(|x| x / norm).collect()));
            }
        }
        (memories, vectors)
    }

    /// The oracle: the index's top lists and sparse BM25 give exactly what the reference
    /// computes by scoring every candidate.
    #[test]
    fn search_agrees_with_the_brute_force_reference() {
        let (memories, vectors) = corpus(400, 16);
        let index = EntityIndex::new(memories.clone(), vectors.clone(), KnowledgeGraph::default());
        let terms: Vec<Vec<String>> = memories.iter().map(|m| lexical::terms(&m.text)).collect();
        let sources: Vec<Vec<i64>> = memories.iter().map(|m| vec![m.sources[0].message_id]).collect();
        let docs: Vec<RankDoc<'_>> = (0..memories.len())
            .map(|i| RankDoc {
                terms: &terms[i],
                vector: vectors[i].as_deref(),
                factors: index.factors(i),
                graph: None,
                sources: &sources[i],
            })
            .collect();
        let now = t0() + Duration::days(400);
        let configs = [
            RecallConfig::default(),
            RecallConfig { depth: 20, ..RecallConfig::default() },
            RecallConfig {
                fusion: crate::config::Fusion::Weighted,
                half_life_days: Some(60.0),
                importance_weight: 0.5,
                ..RecallConfig::default()
            },
        ];
        let queries = ["hiking with my sister", "jazz concert in Boston", "peanuts", "yoga piano soccer", "nothing"];
        for cfg in &configs {
            for (qi, text) in queries.iter().enumerate() {
                let qv = vectors[qi * 3 + 1].clone();
                let q_terms = lexical::terms(text);
                let q = Query { text, terms: &q_terms, vector: qv.as_deref(), now, time: None };
                let fast = index.search(&q, &Filter::default(), cfg, 10);
                let slow = rank::rank(&q_terms, qv.as_deref(), &docs, cfg, now, None, 10);
                assert_eq!(fast.len(), slow.len(), "{text}");
                for (f, s) in fast.iter().zip(&slow) {
                    assert_eq!(f.index, s.index, "{text} with {cfg:?}");
                    assert!((f.score - s.score).abs() < 1e-12, "{text}: {} vs {}", f.score, s.score);
                }
            }
        }
    }

    #[test]
    fn filters_hold_for_every_result() {
        let (mut memories, vectors) = corpus(300, 8);
        for m in memories.iter_mut().step_by(5) {
            m.invalidated_at = Some(m.valid_from + Duration::days(10));
        }
        let index = EntityIndex::new(memories, vectors, KnowledgeGraph::default());
        let cutoff = t0() + Duration::days(150);
        let q_terms = lexical::terms("hiking pottery jazz peanuts Boston sister dog");
        let q = Query { text: "", terms: &q_terms, vector: None, now: t0() + Duration::days(400), time: None };
        let filters = [
            Filter::default(),
            Filter { as_of: Some(cutoff), ..Filter::default() },
            Filter { history: true, ..Filter::default() },
            Filter { session: Some("s3"), ..Filter::default() },
            Filter { since: Some(cutoff), until: Some(cutoff + Duration::days(30)), ..Filter::default() },
            Filter { process: Some("other"), ..Filter::default() },
        ];
        let mut saw_invalidated = false;
        for f in &filters {
            let out = index.search(&q, f, &RecallConfig::default(), 50);
            for s in &out {
                assert!(f.keeps(index.memory(s.index)), "{f:?} let through {:?}", index.memory(s.index));
            }
            saw_invalidated |= out.iter().any(|s| index.memory(s.index).invalidated_at.is_some());
            if f.process.is_some() {
                assert!(out.is_empty());
            }
        }
        assert!(saw_invalidated, "history and as-of searches do return invalidated memories");
        let live = index.search(&q, &Filter::default(), &RecallConfig::default(), 300);
        assert!(live.iter().all(|s| index.memory(s.index).invalidated_at.is_none()));
    }

    #[test]
    fn the_graph_brings_in_memories_the_text_does_not_match() {
        let memories = vec![
            memory(1, "Caroline: I moved there three years ago", 0),
            memory(2, "Caroline: I love pottery", 1),
            memory(3, "Melanie: my kids like the beach", 2),
        ];
        let node = |id: i64, name: &str| Node { id, name: name.into(), node_type: "thing".into() };
        let edge = |id: i64, source: i64, target: i64, memory: i64| Edge {
            id,
            source,
            target,
            predicate: "rel".into(),
            memory_id: Some(memory),
            valid_from: t0(),
            invalidated_at: None,
        };
        let graph = KnowledgeGraph::new(
            vec![node(10, "Caroline"), node(11, "Boston"), node(12, "pottery")],
            vec![edge(1, 10, 11, 1), edge(2, 10, 12, 2)],
        );
        let index = EntityIndex::new(memories, vec![None; 3], graph);
        let q_terms = lexical::terms("what about Boston?");
        let q = Query { text: "what about Boston?", terms: &q_terms, vector: None, now: t0(), time: None };
        let out = index.search(&q, &Filter::default(), &RecallConfig::default(), 10);
        assert_eq!(out.first().map(|s| index.memory(s.index).id), Some(1), "{out:#?}");
        let graph = out[0].explanation.detail("fused").and_then(|f| f.detail("graph"));
        assert!(graph.is_some_and(|g| g.value > 0.0));
        assert!(out.iter().all(|s| index.memory(s.index).id != 3), "no path to Melanie's beach");
        let off = RecallConfig { graph_weight: 0.0, ..RecallConfig::default() };
        assert!(index.search(&q, &Filter::default(), &off, 10).is_empty());
    }

    #[test]
    fn neighbours_are_the_adjacent_episodes_of_the_same_session() {
        let memories = vec![
            memory(11, "A: one", 0),
            memory(12, "B: two", 0),
            memory(13, "A: three", 0),
            memory(21, "other session", 0),
        ];
        let index = EntityIndex::new(memories, vec![None; 4], KnowledgeGraph::default());
        let n = index.neighbours(1, &Filter::default());
        assert_eq!(
            n.iter().map(|n| (n.before, n.text.as_str())).collect::<Vec<_>>(),
            [(true, "A: one"), (false, "A: three")]
        );
        assert_eq!(index.neighbours(3, &Filter::default()), vec![]);
        assert_eq!(index.neighbours(0, &Filter::default()).len(), 1);
    }
}
