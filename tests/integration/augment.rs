//! Augmentation end to end: extraction, merge, contradiction and the knowledge graph, through
//! the real worker and database.
//!
//! `merge_and_contradiction_cases` is data-driven: each case in `tests/data/augment_cases.json`
//! captures statements in order (each with the time it was said), lets the worker augment
//! them with the real MiniLM model, and compares the entity's extracted memories with the
//! expected live ones (text → mention count) and invalidated ones (text, invalidated by).
//! A step with `extract` stands for a model's output: the scripted extractor returns it for
//! that message instead of running the offline rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use memori_rig::augment::{Extracted, Extraction, Extractor, OfflineExtractor, Triple, Window};
use memori_rig::embed::FastEmbedder;
use memori_rig::{Memori, MemoryKind, Message, Scope};
use memori_tests::backend_test;
use serde_json::Value;

/// Returns the scripted memories for a message whose text is in the map, the offline rules'
/// output otherwise.
struct Scripted(HashMap<String, Vec<Extracted>>);

#[async_trait::async_trait]
impl Extractor for Scripted {
    fn id(&self) -> &str {
        "scripted"
    }

    async fn extract(&self, window: &Window) -> memori_rig::Result<Extraction> {
        let mut out = OfflineExtractor.extract(window).await?;
        for m in &window.messages {
            for e in self.0.get(&m.text).into_iter().flatten() {
                out.memories.push(Extracted { sources: vec![m.id], ..e.clone() });
            }
        }
        Ok(out)
    }
}

fn parse_extracted(v: &Value) -> Extracted {
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Extracted {
        kind: MemoryKind::parse(v["kind"].as_str().unwrap_or("fact")).expect("a known kind"),
        text: s(v, "text"),
        importance: 0.5,
        confidence: 0.8,
        sources: Vec::new(),
        refers_to: None,
        triple: v.get("triple").map(|t| Triple {
            subject: s(t, "subject"),
            subject_type: s(t, "subject_type"),
            predicate: s(t, "predicate"),
            object: s(t, "object"),
            object_type: s(t, "object_type"),
            exclusive: t["exclusive"].as_bool().unwrap_or(false),
        }),
    }
}

backend_test!(merge_and_contradiction_cases, |url: String| async move {
    if !memori_tests::model_available() {
        return Ok(());
    }
    let cases: Vec<Value> = serde_json::from_str(include_str!("../data/augment_cases.json"))?;
    let mut scripted = HashMap::new();
    for step in cases.iter().flat_map(|c| c["steps"].as_array().into_iter().flatten()) {
        if let Some(list) = step["extract"].as_array() {
            scripted.insert(
                step["say"].as_str().unwrap_or_default().to_owned(),
                list.iter().map(parse_extracted).collect(),
            );
        }
    }
    let m = Memori::builder()
        .database_url(&url)
        .embedder(FastEmbedder::from_cache()?)
        .extractor(Scripted(scripted))
        .configure(|c| c.jobs.poll_interval = Duration::from_millis(20))
        .build()
        .await?;
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap_or_default();
        let scope = Scope::new(format!("case-{i}"), "bot", "s1")?;
        for step in case["steps"].as_array().into_iter().flatten() {
            let at: DateTime<Utc> = step["at"].as_str().unwrap_or_default().parse()?;
            let say = step["say"].as_str().unwrap_or_default();
            m.capture(&scope, vec![Message::user(say).said_at(at)]).await?;
            m.flush().await?;
        }
        let all = m.memories(&scope.entity, memori_rig::Validity::All).await?;
        let by_id: HashMap<i64, &str> = all.iter().map(|x| (x.id, x.text.as_str())).collect();
        let extracted = all.iter().filter(|x| x.kind != MemoryKind::Episode);
        let mut live = BTreeMap::new();
        let mut invalidated = Vec::new();
        for x in extracted {
            match x.invalidated_by {
                None => *live.entry(x.text.clone()).or_insert(0) += i64::from(x.mention_count),
                Some(by) => invalidated.push(vec![x.text.clone(), by_id.get(&by).copied().unwrap_or("?").to_owned()]),
            }
        }
        invalidated.sort();
        let want_live: BTreeMap<String, i64> =
            case["live"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0))).collect();
        let mut want_invalidated: Vec<Vec<String>> = serde_json::from_value(case["invalidated"].clone())?;
        want_invalidated.sort();
        if live != want_live || invalidated != want_invalidated {
            failures.push(format!(
                "{name}:\n  live        {live:?}\n  expected    {want_live:?}\n  invalidated {invalidated:?}\n  expected    {want_invalidated:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    m.shutdown().await;
    Ok(())
});

backend_test!(replaying_every_job_changes_nothing, |url: String| async move {
    let m = crate::memori(&url).await?;
    let scope = Scope::new("replay", "bot", "s1")?;
    let said = ["I live in Paris.", "I love jazz.", "I moved to Berlin.", "I love jazz!"];
    for (i, text) in said.iter().enumerate() {
        let at = DateTime::from_timestamp(1_700_000_000 + i as i64 * 3600, 0).unwrap_or_default();
        m.capture(&scope, vec![Message::user(*text).said_at(at)]).await?;
        m.flush().await?;
    }
    let snapshot = |v: Vec<memori_rig::Memory>| {
        v.into_iter().map(|x| (x.id, x.text, x.mention_count, x.invalidated_by)).collect::<Vec<_>>()
    };
    let before = snapshot(m.memories(&scope.entity, memori_rig::Validity::All).await?);
    let graph_before = m.graph(&scope.entity, memori_rig::Validity::All).await?.edge_count();
    // Run every job again, as a worker whose lease expired would.
    let done = m.jobs(Some(memori_rig::JobStatus::Done), 100).await?;
    assert_eq!(done.len(), 4);
    for j in &done {
        assert!(m.retry_job(j.id).await?, "job {} can be run again", j.id);
    }
    m.flush().await?;
    assert_eq!(
        snapshot(m.memories(&scope.entity, memori_rig::Validity::All).await?),
        before,
        "no duplicate or changed memory"
    );
    assert_eq!(
        m.graph(&scope.entity, memori_rig::Validity::All).await?.edge_count(),
        graph_before,
        "no duplicate edge"
    );
    let stats = m.stats(&scope.entity).await?;
    assert_eq!(stats.embeddings, stats.memories, "one embedding per memory");
    m.shutdown().await;
    Ok(())
});

backend_test!(the_graph_links_statements_with_provenance, |url: String| async move {
    let m = crate::memori(&url).await?;
    let maya = Scope::new("maya", "bot", "s1")?;
    let other = Scope::new("other", "bot", "s1")?;
    m.capture(&maya, vec![Message::user("I live in Lyon. I'm allergic to shellfish. I work at Airbus.").named("Maya")])
        .await?;
    m.capture(&other, vec![Message::user("I live in Lyon too.").named("Oscar")]).await?;
    m.flush().await?;
    let g = m.graph(&maya.entity, memori_rig::Validity::Current).await?;
    assert_eq!(g.edge_count(), 3);
    let me = g.find("maya");
    assert_eq!(me.len(), 1);
    let around = g.neighbourhood(&[me[0].id], 1);
    let mut names: Vec<&str> = around.nodes.iter().map(|n| n.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Airbus", "Lyon", "Maya", "shellfish"], "no node of another entity");
    let memories = m.memories(&maya.entity, memori_rig::Validity::Current).await?;
    for id in around.memory_ids() {
        let memory = memories.iter().find(|x| x.id == id).expect("every edge names a memory of the entity");
        assert_eq!(memory.sources.len(), 1, "and through it the source message");
    }
    assert_eq!(g.mentioned_in("what about lyon?")[0].name, "Lyon");
    assert!(m.graph(&memori_rig::EntityId::new("nobody")?, memori_rig::Validity::Current).await?.node_count() == 0);
    m.shutdown().await;
    Ok(())
});

backend_test!(recall_skips_invalidated_memories_unless_asked_or_back_in_time, |url: String| async move {
    let m = crate::memori(&url).await?;
    let scope = Scope::new("mover", "bot", "s1")?;
    let jan: DateTime<Utc> = "2024-01-01T10:00:00Z".parse()?;
    let mar: DateTime<Utc> = "2024-03-01T10:00:00Z".parse()?;
    m.capture(&scope, vec![Message::user("I live in Paris.").said_at(jan)]).await?;
    m.capture(&scope, vec![Message::user("I moved to Berlin.").said_at(mar)]).await?;
    m.flush().await?;
    let texts = |r: Vec<memori_rig::Recalled>| -> Vec<String> {
        r.into_iter().filter(|x| x.memory.kind != MemoryKind::Episode).map(|x| x.memory.text).collect()
    };
    let now = texts(m.recall(&scope, "where does the user live").await?);
    assert_eq!(now, ["User lives in Berlin"]);
    let feb = texts(
        m.recall_with(
            &scope.entity,
            memori_rig::RecallRequest::new("where does the user live").as_of("2024-02-01T00:00:00Z".parse()?),
        )
        .await?
        .memories,
    );
    assert_eq!(feb, ["User lives in Paris"], "as of February, Paris still held");
    let mut all = texts(
        m.recall_with(&scope.entity, memori_rig::RecallRequest::new("where does the user live").with_history())
            .await?
            .memories,
    );
    all.sort();
    assert_eq!(all, ["User lives in Berlin", "User lives in Paris"]);
    m.shutdown().await;
    Ok(())
});

backend_test!(a_move_behind_a_lead_in_supersedes_the_old_city_and_its_episode, |url: String| async move {
    let m = crate::memori(&url).await?;
    let scope = Scope::new("maya", "bot", "s1")?;
    let feb: DateTime<Utc> = "2026-02-10T10:00:00Z".parse()?;
    let may: DateTime<Utc> = "2026-05-12T10:00:00Z".parse()?;
    m.capture(&scope, vec![Message::user("I live in Lisbon.").said_at(feb)]).await?;
    m.capture(&scope, vec![Message::user("Big news: I moved to Porto last month.").said_at(may)]).await?;
    m.flush().await?;
    let now = m.recall(&scope, "where do I live?").await?;
    assert!(now[0].memory.text.contains("Porto"), "Porto first: {:#?}", now[0]);
    let lisbon: Vec<&memori_rig::Recalled> = now.iter().filter(|r| r.memory.text.contains("Lisbon")).collect();
    assert!(lisbon.iter().all(|r| r.memory.kind == MemoryKind::Episode), "the old attribute no longer holds");
    for r in &lisbon {
        let s = r.superseded.as_ref().expect("the Lisbon episode is marked superseded");
        assert_eq!((s.at, s.by.as_deref()), (may, Some("User lives in Porto")));
        assert!(r.explanation.detail("superseded (a newer statement replaced it)").is_some());
    }
    let block = m.recall_with(&scope.entity, memori_rig::RecallRequest::new("where do I live?")).await?.block();
    assert!(
        block.as_deref().is_some_and(|b| b.contains("I live in Lisbon. (superseded 2026-05: User lives in Porto)"))
    );
    // As of March, Lisbon still held: nothing is marked.
    let march = m
        .recall_with(
            &scope.entity,
            memori_rig::RecallRequest::new("where do I live?").as_of("2026-03-01T00:00:00Z".parse()?),
        )
        .await?;
    assert!(march.memories.iter().all(|r| r.superseded.is_none() && !r.memory.text.contains("Porto")));
    // An operator sees when the conversation happened, not when it was written.
    let session = &m.entity_detail(&scope.entity).await?.sessions[0];
    assert_eq!((session.created_at, session.last_seen_at), (feb, may), "session dates come from the messages");
    m.shutdown().await;
    Ok(())
});

/// A model that is always down: extraction fails, the job retries and becomes a dead letter,
/// the messages and their episodes stay.
pub(crate) struct Down;

#[async_trait::async_trait]
impl Extractor for Down {
    fn id(&self) -> &str {
        "down"
    }
    async fn extract(&self, _: &Window) -> memori_rig::Result<Extraction> {
        Err(memori_rig::Error::new(memori_rig::ErrorKind::Extraction, "model unavailable"))
    }
}

#[tokio::test]
async fn a_failing_extractor_loses_nothing() -> anyhow::Result<()> {
    let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("SQLite always runs");
    let m = Memori::builder()
        .database_url(&db.url)
        .embedder(memori_rig::embed::HashEmbedder::default())
        .shared_extractor(Arc::new(Down))
        .configure(|c| {
            c.jobs.poll_interval = Duration::from_millis(20);
            c.jobs.retry_base = Duration::from_millis(10);
            c.jobs.max_attempts = 2;
        })
        .build()
        .await?;
    let scope = Scope::new("u", "bot", "s1")?;
    m.capture(&scope, vec![Message::user("I live in Paris.")]).await?;
    m.flush().await?;
    let dead = m.jobs(Some(memori_rig::JobStatus::Dead), 10).await?;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.as_deref().unwrap_or_default().contains("model unavailable"));
    let stats = m.stats(&scope.entity).await?;
    assert_eq!((stats.messages, stats.memories), (1, 1), "the message and its episode are kept");
    m.shutdown().await;
    db.drop_database().await
}
