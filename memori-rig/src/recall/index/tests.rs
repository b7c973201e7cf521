//! Tests of the index: against the brute-force reference, filters, the graph, neighbours, and
//! an index that applied changes against a fresh build.

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

/// A deterministic corpus: turns with texts from a small vocabulary, two of every three said
/// by Ana or Ben, ten per session, unit vectors from an LCG; after every fourth turn a memory
/// extracted from it (no vector).
fn corpus(n: usize, dim: usize) -> (Vec<Memory>, Vec<Option<Vec<f32>>>) {
    const WORDS: [&str; 24] = [
        "hiking", "pottery", "jazz", "peanuts", "Boston", "sister", "dog", "painting", "camping", "guitar", "school",
        "garden", "coffee", "marathon", "novel", "beach", "adoption", "museum", "piano", "soccer", "yoga", "bakery",
        "concert", "travel",
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
        let speaker = ["Ana: ", "Ben: ", ""][i % 3];
        // Ids follow the order of the list (ties rank by id in the index, by position in the
        // reference); the turn's message id is its number.
        let mut turn =
            memory(memories.len() as i64 + 1, &format!("{speaker}{}", text.join(" ")), (next() % 300) as i64);
        turn.session = Some(format!("s{}", (i + 1) / 10));
        turn.sources[0].message_id = i as i64 + 1;
        memories.push(turn);
        if i % 7 == 3 {
            vectors.push(None); // some memories have no embedding yet
        } else {
            let v: Vec<f32> = (0..dim).map(|_| (next() % 2001) as f32 / 1000.0 - 1.0).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            vectors.push(Some(v.into_iter().map(|x| x / norm).collect()));
        }
        if i % 4 == 0 {
            // A memory extracted from this turn, about its speaker (or Ana).
            let turn = memories.last().expect("just pushed").clone();
            let subject = turn.text.split_once(": ").map_or("Ana", |(s, _)| s);
            let text = format!("{subject} likes {}", text[0]);
            let id = memories.len() as i64 + 1;
            memories.push(Memory {
                sources: turn.sources.clone(),
                ..crate::model::test_memory(id, MemoryKind::Fact, &text, turn.valid_from)
            });
            let m = memories.last_mut().expect("just pushed");
            (m.session, m.process) = (turn.session, turn.process);
            vectors.push(None);
        }
    }
    (memories, vectors)
}

/// The oracle: the index's top lists, sparse BM25 with neighbours' context, and the people a
/// query names give exactly what the reference computes by scoring every candidate.
#[test]
fn search_agrees_with_the_brute_force_reference() {
    let (memories, vectors) = corpus(400, 16);
    let index = EntityIndex::new(memories.clone(), vectors.clone(), KnowledgeGraph::default());
    let terms: Vec<Vec<String>> = memories.iter().map(|m| lexical::terms(&m.text)).collect();
    let sources: Vec<Vec<i64>> = memories.iter().map(|m| vec![m.sources[0].message_id]).collect();
    // Worked out here, not by the index: a turn's neighbours are the turns of the same session
    // with the next smaller and larger id, an extracted memory has those of its turn; the
    // speaker is a turn's prefix, the subject a memory's first word.
    let turns: Vec<usize> = (0..memories.len()).filter(|&i| memories[i].kind == MemoryKind::Episode).collect();
    let turn_of = |i: usize| {
        turns.iter().copied().find(|&t| memories[t].sources[0].message_id == memories[i].sources[0].message_id)
    };
    let adjacent = |i: usize| {
        let Some(t) = turn_of(i) else { return [None, None] };
        let same: Vec<usize> = turns.iter().copied().filter(|&u| memories[u].session == memories[t].session).collect();
        let id = |u: usize| memories[u].id;
        let before = same.iter().copied().filter(|&u| id(u) < id(t)).max_by_key(|&u| id(u));
        let after = same.iter().copied().filter(|&u| id(u) > id(t)).min_by_key(|&u| id(u));
        [before, after]
    };
    let speaker = |i: usize| match memories[i].kind {
        MemoryKind::Episode => memories[i].text.split_once(": ").map(|(s, _)| s.to_lowercase()),
        _ => memories[i].text.split_whitespace().next().map(str::to_lowercase),
    };
    let docs = |people: &[String]| -> Vec<RankDoc<'_>> {
        (0..memories.len())
            .map(|i| RankDoc {
                terms: &terms[i],
                vector: vectors[i].as_deref(),
                factors: Factors { named: speaker(i).is_some_and(|s| people.contains(&s)), ..index.factors(i) },
                graph: None,
                sources: &sources[i],
                episode: memories[i].kind == MemoryKind::Episode,
                adjacent: adjacent(i),
            })
            .collect()
    };
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
        RecallConfig { context_weight: 0.0, speaker_weight: 0.0, ..RecallConfig::default() },
        RecallConfig { context_weight: 2.0, speaker_weight: 3.0, ..RecallConfig::default() },
    ];
    let queries: [(&str, &[&str]); 7] = [
        ("hiking with my sister", &[]),
        ("jazz concert in Boston", &[]),
        ("peanuts", &[]),
        ("yoga piano soccer", &[]),
        ("nothing", &[]),
        ("What did Ana say about jazz and the museum?", &["ana"]),
        ("Ben and Ana on coffee", &[]),
    ];
    for cfg in &configs {
        for (qi, (text, named)) in queries.iter().enumerate() {
            let qv = vectors[qi * 3 + 1].clone();
            let q_terms = lexical::terms(text);
            let q = Query { text, terms: &q_terms, vector: qv.as_deref(), now, time: None };
            let people: Vec<String> =
                if cfg.speaker_weight > 0.0 { named.iter().map(|n| n.to_string()).collect() } else { Vec::new() };
            assert_eq!(
                people.is_empty(),
                index.speakers.named_in(text).is_empty() || cfg.speaker_weight == 0.0,
                "{text}"
            );
            let docs = docs(&people);
            let terms = context::without_names(&q_terms, &people);
            // The best ten, and everything found (down to the weakest context-only candidate).
            for limit in [10, memories.len()] {
                let fast = index.search(&q, &Filter::default(), cfg, limit);
                let slow = rank::rank(&terms, qv.as_deref(), &docs, cfg, now, None, limit);
                assert_eq!(fast.len(), slow.len(), "{text}");
                for (f, s) in fast.iter().zip(&slow) {
                    assert_eq!(f.index, s.index, "{text} with {cfg:?}");
                    assert!((f.score - s.score).abs() < 1e-12, "{text}: {} vs {}", f.score, s.score);
                }
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

/// The incremental oracle: an index that applied random writes (new memories, corrected
/// texts, new vectors, invalidations, deletions, graph edges) answers every query exactly
/// like an index built fresh from the same final rows.
#[test]
fn an_index_that_applied_changes_ranks_like_a_fresh_build() {
    let (pool, vectors) = corpus(600, 16);
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let node = |id: i64| Node { id, name: format!("thing{id}"), node_type: "thing".into() };
    let edge = |id: i64, memory: i64| Edge {
        id,
        source: 1,
        target: 2 + id % 5,
        predicate: "rel".into(),
        memory_id: Some(memory),
        valid_from: t0(),
        invalidated_at: None,
    };
    let start = 300;
    let mut live: std::collections::BTreeMap<i64, (Memory, Option<Vec<f32>>)> =
        pool[..start].iter().cloned().zip(vectors[..start].iter().cloned()).map(|(m, v)| (m.id, (m, v))).collect();
    let mut edges: std::collections::BTreeMap<i64, Edge> = std::collections::BTreeMap::new();
    let nodes: Vec<Node> = (1..8).map(node).collect();
    let (first, first_v): (Vec<Memory>, Vec<Option<Vec<f32>>>) = live.values().cloned().unzip();
    let mut index = EntityIndex::new(first, first_v, KnowledgeGraph::new(nodes.clone(), Vec::new()));
    let mut added = start;
    for round in 0..40 {
        let mut delta = IndexDelta::default();
        for _ in 0..1 + next() % 12 {
            match next() % 6 {
                0 | 1 if added < pool.len() => {
                    let (m, v) = (pool[added].clone(), vectors[added].clone());
                    added += 1;
                    live.insert(m.id, (m.clone(), v.clone()));
                    delta.memories.push((m, v));
                }
                2 => {
                    // A correction: new text and vector.
                    let Some(id) = live.keys().nth(next() % live.len().max(1)).copied() else { continue };
                    let (m, _) = live.get_mut(&id).expect("live");
                    m.text = format!("{} corrected jazz {round}", m.text);
                    let v = vectors[next() % vectors.len()].clone();
                    live.get_mut(&id).expect("live").1 = v.clone();
                    delta.memories.push((live[&id].0.clone(), v));
                }
                3 => {
                    let Some(id) = live.keys().nth(next() % live.len().max(1)).copied() else { continue };
                    let m = &mut live.get_mut(&id).expect("live").0;
                    m.invalidated_at = Some(m.valid_from + Duration::days(1));
                    m.mention_count += 1;
                    delta.memories.push(live[&id].clone());
                }
                4 => {
                    let Some(id) = live.keys().nth(next() % live.len().max(1)).copied() else { continue };
                    live.remove(&id);
                    edges.retain(|_, e| e.memory_id != Some(id));
                    delta.deleted.push(id);
                }
                _ => {
                    let Some(memory) = live.keys().nth(next() % live.len().max(1)).copied() else { continue };
                    let e = edge(1 + next() as i64 % 50, memory);
                    edges.insert(e.id, e.clone());
                    delta.edges.push(e);
                }
            }
        }
        index.apply(delta);
        let (ms, vs): (Vec<Memory>, Vec<Option<Vec<f32>>>) = live.values().cloned().unzip();
        let fresh = EntityIndex::new(ms, vs, KnowledgeGraph::new(nodes.clone(), edges.values().cloned().collect()));
        assert_eq!(index.len(), fresh.len());
        for (qi, text) in
            ["hiking with my sister", "jazz corrected", "peanuts Boston dog", "thing3 piano"].iter().enumerate()
        {
            let q_terms = lexical::terms(text);
            let qv = vectors[(round * 7 + qi) % vectors.len()].clone();
            let q = Query { text, terms: &q_terms, vector: qv.as_deref(), now: t0(), time: None };
            for filter in [Filter::default(), Filter { history: true, ..Filter::default() }] {
                let cfg = RecallConfig { depth: 40, ..RecallConfig::default() };
                let a = index.search(&q, &filter, &cfg, 15);
                let b = fresh.search(&q, &filter, &cfg, 15);
                let ids = |r: &[Scored], ix: &EntityIndex| -> Vec<(i64, u64)> {
                    r.iter().map(|s| (ix.memory(s.index).id, s.score.to_bits())).collect()
                };
                assert_eq!(ids(&a, &index), ids(&b, &fresh), "round {round}, query {text:?}");
                let neighbours = |r: &[Scored], ix: &EntityIndex| -> Vec<Vec<String>> {
                    r.iter().map(|s| ix.neighbours(s.index, &filter).into_iter().map(|n| n.text).collect()).collect()
                };
                assert_eq!(neighbours(&a, &index), neighbours(&b, &fresh), "round {round}");
            }
        }
    }
    assert!(added > start + 50, "the sequence added memories: {added}");
    // Most memories deleted at once: the index compacts its empty slots, and still ranks
    // like a fresh build.
    let gone: Vec<i64> = live.keys().copied().filter(|id| id % 4 != 0).collect();
    for id in &gone {
        live.remove(id);
        edges.retain(|_, e| e.memory_id != Some(*id));
    }
    index.apply(IndexDelta { deleted: gone, ..IndexDelta::default() });
    assert_eq!(index.slots.len(), live.len(), "compacted");
    let (ms, vs): (Vec<Memory>, Vec<Option<Vec<f32>>>) = live.values().cloned().unzip();
    let fresh = EntityIndex::new(ms, vs, KnowledgeGraph::new(nodes, edges.values().cloned().collect()));
    let q_terms = lexical::terms("jazz hiking thing4");
    let q = Query { text: "jazz hiking thing4", terms: &q_terms, vector: vectors[3].as_deref(), now: t0(), time: None };
    let cfg = RecallConfig::default();
    let ids = |ix: &EntityIndex| -> Vec<(i64, u64)> {
        ix.search(&q, &Filter::default(), &cfg, 20).iter().map(|s| (ix.memory(s.index).id, s.score.to_bits())).collect()
    };
    assert_eq!(ids(&index), ids(&fresh));
}

/// "What has Caroline been up to?": her answer shares no word with the question but follows
/// the turn that asked it, and she is the one named.
#[test]
fn a_reply_is_found_through_the_question_it_answers() {
    let memories = vec![
        memory(11, "Melanie: What have you been up to lately? Anything exciting?", 0),
        memory(12, "Caroline: Researching adoption agencies, it's been a dream of mine", 0),
        memory(13, "Melanie: That's wonderful!", 0),
        memory(21, "Melanie: My kids loved the pottery class, so exciting", 1),
        memory(22, "Caroline: I went to a pride parade", 1),
    ];
    let index = EntityIndex::new(memories, vec![None; 5], KnowledgeGraph::default());
    let text = "What exciting things has Caroline been up to lately?";
    let q_terms = lexical::terms(text);
    let q = Query { text, terms: &q_terms, vector: None, now: t0(), time: None };
    let ids = |cfg: &RecallConfig| -> Vec<i64> {
        index.search(&q, &Filter::default(), cfg, 10).iter().map(|s| index.memory(s.index).id).collect()
    };
    let found = index.search(&q, &Filter::default(), &RecallConfig::default(), 10);
    let answer = found.iter().find(|s| index.memory(s.index).id == 12).expect("the answer is found");
    assert!(answer.explanation.detail("by or about the person named").is_some_and(|e| e.value == 1.5));
    assert!(ids(&RecallConfig::default()).contains(&22), "her other turn, through the next one's words");
    let off = RecallConfig { context_weight: 0.0, ..RecallConfig::default() };
    assert!(!ids(&off).contains(&12), "without context the answer shares no word: {:?}", ids(&off));
    assert!(ids(&off).contains(&11) && !ids(&off).contains(&13));
}
