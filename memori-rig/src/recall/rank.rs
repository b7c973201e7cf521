//! Ranking: fuse vector, lexical and graph evidence, then adjust for recency, importance,
//! frequency and time. Pure functions: the same inputs always give the same ranking and
//! explanation.
//!
//! [`rank`] scores every candidate and is the reference (the oracle of the index tests);
//! [`super::index::EntityIndex`] gathers evidence from its top candidates per source and
//! scores them with the same [`score`], so both agree wherever the index's depth reaches.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::time::TimeRange;
use crate::config::{Fusion, RecallConfig};
use crate::model::Explanation;

/// One candidate as the reference ranking sees it.
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct RankDoc<'a> {
    /// Its search terms (see [`super::lexical::terms`]).
    pub(crate) terms: &'a [String],
    /// Its L2-normalised embedding, when it has one from the query's model.
    pub(crate) vector: Option<&'a [f32]>,
    /// Factors that adjust the fused score.
    pub(crate) factors: Factors,
    /// Graph evidence (see [`super::index::graph_evidence`]), if the graph points at it.
    pub(crate) graph: Option<f64>,
    /// The messages it came from (results that only repeat better ones are skipped).
    pub(crate) sources: &'a [i64],
    /// Whether it is an episode (a message itself) rather than a memory extracted from one.
    pub(crate) episode: bool,
    /// The turns before and after the one it was said in (indexes into the candidates; for
    /// an extracted memory, those around its episode), whose BM25 counts for it with
    /// [`RecallConfig::context_weight`].
    pub(crate) adjacent: [Option<usize>; 2],
}

/// Where a candidate came from, for [`select`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Provenance<'a> {
    /// The messages it came from.
    pub(crate) sources: &'a [i64],
    /// Its search terms.
    pub(crate) terms: &'a [String],
    /// Whether it is an episode (says its message in full).
    pub(crate) episode: bool,
}

/// The share of an episode's distinct terms that better memories extracted from its message
/// must already say for the episode to count as a repeat. An extracted memory says part of a
/// message ("does not eat pork" out of "I'm allergic to shellfish, and I don't eat pork"), so
/// it does not stand for the whole of it.
pub(crate) const COVERED_SHARE: f64 = 0.7;

/// The factor on an episode whose extracted statements were all replaced by newer ones ("I
/// live in Lisbon" after "I moved to Porto"): still findable, and marked in the block, but
/// below what holds now.
pub(crate) const SUPERSEDED: f64 = 0.5;

/// What adjusts a candidate's fused score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Factors {
    /// 0 to 1.
    pub(crate) importance: f64,
    /// How often it was said.
    pub(crate) mention_count: i32,
    /// When it was last said (decay is measured from here).
    pub(crate) last_seen_at: DateTime<Utc>,
    /// When it was said, and the time it talks about if known (for time in the query).
    pub(crate) said_at: DateTime<Utc>,
    /// The time it talks about ("on 7 May"), if known.
    pub(crate) referred_at: Option<DateTime<Utc>>,
    /// Whether it is by or about a person the query names (see [`super::context`]).
    pub(crate) named: bool,
}

/// One source's evidence for a candidate: raw score and 1-based rank among that source's
/// candidates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Evidence {
    /// Cosine similarity and rank.
    pub(crate) vector: Option<(f64, usize)>,
    /// BM25 and rank.
    pub(crate) lexical: Option<(f64, usize)>,
    /// Graph proximity and rank.
    pub(crate) graph: Option<(f64, usize)>,
}

/// What a query brings to ranking besides its terms and vector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueryContext<'a> {
    /// Recall as of this time (decay is measured from here).
    pub(crate) now: DateTime<Utc>,
    /// A time range the query names ("last week"), if any.
    pub(crate) time: Option<&'a TimeRange>,
    /// The best BM25 score of the query over the candidates (weighted fusion normalises by it).
    pub(crate) max_lexical: f64,
}

/// A ranked candidate.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scored {
    /// Index into the candidate slice.
    pub(crate) index: usize,
    /// Final score.
    pub(crate) score: f64,
    /// How it was computed.
    pub(crate) explanation: Explanation,
}

/// Dot product of two equally long vectors (cosine similarity for unit vectors).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
/// Ranks of `scores` (1 = best) for entries that are `Some`, ties broken by index.
pub(crate) fn ranks(scores: &[Option<f64>]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].is_some()).collect();
    order.sort_by(|&a, &b| scores[b].unwrap_or(0.0).total_cmp(&scores[a].unwrap_or(0.0)).then(a.cmp(&b)));
    let mut out = vec![None; scores.len()];
    for (rank, i) in order.into_iter().enumerate() {
        out[i] = Some(rank + 1);
    }
    out
}

/// Recency multiplier: `0.5^(age / half_life)`, 1 when decay is off or the memory is newer
/// than `now`.
pub(crate) fn decay(last_seen_at: DateTime<Utc>, now: DateTime<Utc>, half_life_days: Option<f64>) -> f64 {
    match half_life_days {
        Some(h) if h > 0.0 => {
            let age_days = (now - last_seen_at).num_milliseconds().max(0) as f64 / 86_400_000.0;
            0.5f64.powf(age_days / h)
        }
        _ => 1.0,
    }
}

fn part(cfg: &RecallConfig, weight: f64, normalised: f64, rank: usize) -> f64 {
    match cfg.fusion {
        Fusion::Rrf { k } => weight / (k + rank as f64),
        Fusion::Weighted => weight * normalised,
    }
}

/// The final score of one candidate and its explanation tree:
/// `fused × recency decay × importance boost × frequency boost × time match × person named`.
pub(crate) fn score(e: &Evidence, f: &Factors, q: &QueryContext<'_>, cfg: &RecallConfig) -> (f64, Explanation) {
    let mut fused = Explanation::new("fused", 0.0);
    let mut total = 0.0;
    let sources = [
        ("vector", "cosine", e.vector, cfg.vector_weight, e.vector.map(|(s, _)| s.max(0.0))),
        ("lexical", "bm25", e.lexical, cfg.lexical_weight, e.lexical.map(|(s, _)| s / q.max_lexical.max(1e-9))),
        ("graph", "proximity", e.graph, cfg.graph_weight, e.graph.map(|(s, _)| s.min(1.0))),
    ];
    for (name, raw, evidence, weight, normalised) in sources {
        if let (Some((s, r)), Some(n)) = (evidence, normalised) {
            let p = part(cfg, weight, n, r);
            total += p;
            fused = fused.with(
                Explanation::new(name, p).with(Explanation::new(raw, s)).with(Explanation::new("rank", r as f64)),
            );
        }
    }
    fused.value = total;
    let recency = decay(f.last_seen_at, q.now, cfg.half_life_days);
    let importance = 1.0 + cfg.importance_weight * f.importance.clamp(0.0, 1.0);
    let frequency = 1.0 + cfg.mention_weight * f64::from(f.mention_count.max(1)).ln();
    let mut explanation = Explanation::new("score", 0.0)
        .with(fused)
        .with(Explanation::new("recency decay", recency))
        .with(Explanation::new("importance boost", importance))
        .with(Explanation::new("frequency boost", frequency));
    let mut score = total * recency * importance * frequency;
    if let Some(range) = q.time {
        let matched = range.contains(f.said_at) || f.referred_at.is_some_and(|t| range.contains(t));
        let boost = if matched { 1.0 + cfg.time_weight } else { 1.0 };
        score *= boost;
        explanation = explanation.with(Explanation::new(format!("time match ({})", range.phrase), boost));
    }
    if f.named && cfg.speaker_weight > 0.0 {
        let boost = 1.0 + cfg.speaker_weight;
        score *= boost;
        explanation = explanation.with(Explanation::new("by or about the person named", boost));
    }
    explanation.value = score;
    (score, explanation)
}

/// Sort scored candidates best first (ties to the smaller `order`, the memory id) and keep
/// `limit` of them, skipping a candidate that only repeats better ones: any candidate whose
/// source messages better episodes all said in full, and an episode whose terms the better
/// memories extracted from its message already say ([`COVERED_SHARE`]).
pub(crate) fn select<'s>(
    mut scored: Vec<Scored>,
    provenance: impl Fn(usize) -> Provenance<'s>,
    order: impl Fn(usize) -> i64,
    limit: usize,
    min_score: f64,
) -> Vec<Scored> {
    scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(order(a.index).cmp(&order(b.index))));
    // Messages said in full by chosen episodes, and terms said about a message by chosen
    // memories extracted from it.
    let mut said: HashSet<i64> = HashSet::new();
    let mut told: HashMap<i64, HashSet<&'s str>> = HashMap::new();
    let mut out = Vec::with_capacity(limit.min(scored.len()));
    for s in scored {
        if out.len() == limit || s.score < min_score {
            break;
        }
        let p = provenance(s.index);
        if !p.sources.is_empty() && (p.sources.iter().all(|m| said.contains(m)) || (p.episode && covered(&p, &told))) {
            continue;
        }
        for &m in p.sources {
            if p.episode {
                said.insert(m);
            } else {
                told.entry(m).or_default().extend(p.terms.iter().map(String::as_str));
            }
        }
        out.push(s);
    }
    out
}

/// Whether memories extracted from an episode's messages already say most of its terms.
fn covered(episode: &Provenance<'_>, told: &HashMap<i64, HashSet<&str>>) -> bool {
    let terms: HashSet<&str> = episode.terms.iter().map(String::as_str).collect();
    let known =
        terms.iter().filter(|t| episode.sources.iter().any(|m| told.get(m).is_some_and(|k| k.contains(**t)))).count();
    !terms.is_empty() && known as f64 >= COVERED_SHARE * terms.len() as f64
}

#[cfg(test)]
/// Rank every candidate for a query; returns the best `limit`, best first. The reference
/// implementation: it scores all of `docs`, then, like the index, fuses only each source's top
/// [`RecallConfig::depth`].
pub(crate) fn rank(
    query_terms: &[String],
    query_vector: Option<&[f32]>,
    docs: &[RankDoc<'_>],
    cfg: &RecallConfig,
    now: DateTime<Utc>,
    time: Option<&TimeRange>,
    limit: usize,
) -> Vec<Scored> {
    let vector: Vec<Option<f64>> = docs
        .iter()
        .map(|d| match (query_vector, d.vector) {
            (Some(q), Some(v)) if q.len() == v.len() => Some(f64::from(dot(q, v))),
            _ => None,
        })
        .collect();
    let doc_terms: Vec<Vec<String>> = docs.iter().map(|d| d.terms.to_vec()).collect();
    let own = super::lexical::bm25(query_terms, &doc_terms);
    let lexical: Vec<Option<f64>> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let [before, after] = d.adjacent;
            let around = before.map_or(0.0, |j| own[j]) + after.map_or(0.0, |j| own[j]);
            let s = if cfg.context_weight > 0.0 { own[i] + cfg.context_weight * around } else { own[i] };
            (s > 0.0).then_some(s)
        })
        .collect();
    let graph: Vec<Option<f64>> = docs.iter().map(|d| d.graph).collect();
    let (vector_rank, lexical_rank, graph_rank) = (ranks(&vector), ranks(&lexical), ranks(&graph));
    let q = QueryContext { now, time, max_lexical: lexical.iter().flatten().copied().fold(0.0f64, f64::max) };
    let depth = cfg.depth.max(limit);
    let zip = |s: Option<f64>, r: Option<usize>| s.zip(r.filter(|&r| r <= depth));
    let scored: Vec<Scored> = (0..docs.len())
        .filter_map(|i| {
            let e = Evidence {
                vector: zip(vector[i], vector_rank[i]),
                lexical: zip(lexical[i], lexical_rank[i]),
                graph: zip(graph[i], graph_rank[i]),
            };
            if e == Evidence::default() {
                return None;
            }
            let (score, explanation) = score(&e, &docs[i].factors, &q, cfg);
            Some(Scored { index: i, score, explanation })
        })
        .collect();
    let provenance = |i: usize| Provenance { sources: docs[i].sources, terms: docs[i].terms, episode: docs[i].episode };
    select(scored, provenance, |i| i as i64, limit, cfg.min_score)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::recall::lexical::terms;

    fn factors(age_days: i64) -> Factors {
        let t = now() - Duration::days(age_days);
        Factors { importance: 0.5, mention_count: 1, last_seen_at: t, said_at: t, referred_at: None, named: false }
    }

    fn doc<'a>(terms: &'a [String], vector: Option<&'a [f32]>, age_days: i64) -> RankDoc<'a> {
        RankDoc {
            terms,
            vector,
            factors: factors(age_days),
            graph: None,
            sources: &[],
            episode: false,
            adjacent: [None, None],
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fuses_both_sources_and_explains() {
        let t = [terms("allergic to peanuts"), terms("likes jazz"), terms("peanuts are legumes")];
        let v: [&[f32]; 3] = [&[1.0, 0.0], &[0.0, 1.0], &[0.6, 0.8]];
        let docs: Vec<RankDoc<'_>> = (0..3).map(|i| doc(&t[i], Some(v[i]), 0)).collect();
        let q = terms("peanut allergy? allergic peanuts");
        let out = rank(&q, Some(&[1.0, 0.0]), &docs, &RecallConfig::default(), now(), None, 10);
        assert_eq!(out.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 2, 1]);
        let e = &out[0].explanation;
        assert_eq!(e.value, out[0].score);
        let fused = e.detail("fused").unwrap();
        assert!(fused.detail("vector").is_some() && fused.detail("lexical").is_some());
        assert!(out[2].explanation.detail("fused").unwrap().detail("lexical").is_none());
    }

    #[test]
    fn decay_is_off_by_default_and_halves_per_half_life() {
        assert_eq!(decay(now() - Duration::days(400), now(), None), 1.0);
        assert!((decay(now() - Duration::days(30), now(), Some(30.0)) - 0.5).abs() < 1e-9);
        assert_eq!(decay(now() + Duration::days(3), now(), Some(30.0)), 1.0);
        let t = [terms("same words"), terms("same words")];
        let docs = [doc(&t[0], None, 90), doc(&t[1], None, 0)];
        let cfg = RecallConfig { half_life_days: Some(30.0), ..RecallConfig::default() };
        let out = rank(&terms("same words"), None, &docs, &cfg, now(), None, 10);
        assert_eq!(out[0].index, 1, "the recent one wins when decay is on");
    }

    #[test]
    fn a_named_time_range_lifts_what_was_said_in_it() {
        let t = [terms("went hiking"), terms("went hiking")];
        let docs = [doc(&t[0], None, 40), doc(&t[1], None, 3)];
        let range = super::super::time::parse("where did I go hiking last month?", now()).unwrap();
        let out = rank(&terms("went hiking"), None, &docs, &RecallConfig::default(), now(), Some(&range), 10);
        assert_eq!(out[0].index, 1, "{out:#?}");
        assert_eq!(out[0].explanation.detail("time match (last month)").unwrap().value, 2.0);
    }

    #[test]
    fn candidates_without_evidence_are_dropped_and_limit_applies() {
        let t = [terms("alpha"), terms("beta"), terms("alpha beta")];
        let docs: Vec<RankDoc<'_>> = t.iter().map(|t| doc(t, None, 0)).collect();
        let out = rank(&terms("alpha"), None, &docs, &RecallConfig::default(), now(), None, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(rank(&terms("gamma"), None, &docs, &RecallConfig::default(), now(), None, 10), vec![]);
    }

    #[test]
    fn a_result_that_only_repeats_a_better_episode_is_skipped() {
        let t = [terms("I am allergic to peanuts"), terms("allergic to peanuts"), terms("peanuts")];
        let sources: [&[i64]; 3] = [&[7], &[7], &[8]];
        let docs: Vec<RankDoc<'_>> =
            (0..3).map(|i| RankDoc { sources: sources[i], episode: i == 0, ..doc(&t[i], None, 0) }).collect();
        let out = rank(&terms("allergic peanuts"), None, &docs, &RecallConfig::default(), now(), None, 10);
        assert_eq!(out.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 2], "{out:#?}");
    }

    /// The shellfish/pork message: a memory extracted from it says only part of it, so the
    /// episode stays; an episode whose words its memories already say is a repeat.
    #[test]
    fn an_extracted_memory_covers_only_what_it_says() {
        let t = [
            terms("User does not eat pork"),
            terms(
                "user: Good restaurant tips would help. Careful though: I'm allergic to shellfish, and I don't eat pork.",
            ),
            terms("User likes jazz"),
            terms("user: I like jazz"),
        ];
        let sources: [&[i64]; 4] = [&[1], &[1], &[2], &[2]];
        let docs: Vec<RankDoc<'_>> = (0..4)
            .map(|i| RankDoc { sources: sources[i], episode: i % 2 == 1, ..doc(&t[i], None, i as i64) })
            .collect();
        let out = rank(&terms("what can't I eat? pork jazz"), None, &docs, &RecallConfig::default(), now(), None, 10);
        let chosen: Vec<usize> = out.iter().map(|s| s.index).collect();
        assert!(chosen.contains(&0) && chosen.contains(&1), "the pork memory and the whole message: {chosen:?}");
        assert!(chosen.contains(&2) && !chosen.contains(&3), "\"I like jazz\" says nothing more: {chosen:?}");
    }
}
