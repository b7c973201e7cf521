//! Capture, augmentation, recall and erasure against every database backend.

use memori_rig::{ErrorKind, MemoryKind, Message, Part, Role, Scope};
use memori_tests::backend_test;
use sea_orm::{ConnectionTrait, Statement};

use super::memori;

/// Tables holding an `entity_id`, i.e. everything an erasure must reach.
const ENTITY_TABLES: &[&str] = &[
    "memori_sessions",
    "memori_messages",
    "memori_memories",
    "memori_memory_sources",
    "memori_embeddings",
    "memori_kg_nodes",
    "memori_kg_edges",
    "memori_jobs",
];

async fn scalar(db: &impl ConnectionTrait, sql: String) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

async fn entity_row(db: &impl ConnectionTrait, external: &str) -> anyhow::Result<i64> {
    scalar(db, format!("SELECT id FROM memori_entities WHERE external_id = '{external}'")).await
}

async fn rows_of(db: &impl ConnectionTrait, entity: i64) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for t in ENTITY_TABLES {
        out.push((*t, scalar(db, format!("SELECT COUNT(*) FROM {t} WHERE entity_id = {entity}")).await?));
    }
    Ok(out)
}

backend_test!(capture_is_idempotent_augmented_and_recalled, |url: String| async move {
    let m = memori(&url).await?;
    let alice = Scope::new("alice", "bot", "s1")?;
    let bob = Scope::new("bob", "bot", "s1")?;
    let first = m
        .capture_keyed(&alice, "run-1", vec![Message::user("I'm allergic to peanuts"), Message::assistant("Noted.")])
        .await?;
    assert_eq!((first.stored, first.duplicates), (2, 0));
    assert!(first.job_id.is_some());
    let again = m
        .capture_keyed(&alice, "run-1", vec![Message::user("I'm allergic to peanuts"), Message::assistant("Noted.")])
        .await?;
    assert_eq!((again.stored, again.duplicates, again.job_id), (0, 2, None), "a run is never stored twice");
    m.capture(&bob, vec![Message::user("I love peanuts")]).await?;
    m.flush().await?;

    let recalled = m.recall(&alice, "peanuts allergy").await?;
    let mut texts: Vec<&str> = recalled.iter().map(|r| r.memory.text.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        ["User is allergic to peanuts", "assistant: Noted."],
        "the extracted attribute once; its source episode only repeats it and is skipped"
    );
    let fact = recalled.iter().find(|r| r.memory.kind == MemoryKind::Attribute).expect("the extracted attribute");
    assert_eq!(fact.memory.session.as_deref(), Some("s1"));
    assert_eq!(fact.memory.mention_count, 1);
    assert_eq!(fact.memory.sources.len(), 1);
    assert_eq!(fact.memory.sources[0].fingerprint, Message::user("I'm allergic to peanuts").fingerprint());
    assert!(recalled.iter().all(|r| !r.memory.text.contains("love")), "never another entity's memory");
    let e = &recalled[0].explanation;
    assert_eq!(e.value, recalled[0].score);
    assert!(e.detail("fused").and_then(|f| f.detail("lexical")).is_some(), "{}", e.render());
    assert_eq!(m.message_count(&alice.entity).await?, 2);
    assert_eq!(m.dead_jobs().await?, 0);
    m.shutdown().await;
    Ok(())
});

backend_test!(odd_text_is_stored_safely_and_huge_text_is_refused, |url: String| async move {
    let m = memori(&url).await?;
    let scope = Scope::new("ユーザー'; DROP TABLE memori_entities; --", "bot", "セッション")?;
    let odd = [
        "emoji 🥜 and RTL שלום and CJK 我对花生过敏",
        "nul \0 inside",
        "<script>alert(1)</script>",
        "   ",
        "",
        "quote ' and backslash \\ and percent %",
    ];
    let messages: Vec<Message> = odd.iter().map(|t| Message::user(*t)).collect();
    let tool = Message {
        role: Role::Assistant,
        name: None,
        parts: vec![Part::ToolCall {
            id: "c1".into(),
            name: "lookup".into(),
            arguments: serde_json::json!({"q": "x\u{0}"}),
        }],
        said_at: None,
        raw: None,
        external_id: None,
    };
    let r = m.capture(&scope, messages.into_iter().chain([tool]).collect()).await?;
    assert_eq!(r.stored, 7);
    m.flush().await?;
    let recalled = m.recall(&scope, "花生").await?;
    assert!(recalled.iter().any(|r| r.memory.text.contains("我对花生过敏")), "CJK text is searchable");
    let recalled = m.recall(&scope, "nul inside").await?;
    assert!(recalled.iter().any(|r| r.memory.text == "user: nul \u{FFFD} inside"), "NUL is replaced, not lost");

    let huge = "x".repeat(memori_rig::MAX_MESSAGE_BYTES + 1);
    let err = m.capture(&scope, vec![Message::user("fine"), Message::user(huge)]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("message 1 is"), "{err}");
    assert_eq!(m.message_count(&scope.entity).await?, 7, "a refused batch stores nothing");
    m.shutdown().await;
    Ok(())
});

backend_test!(deleting_an_entity_cascades_to_every_table, |url: String| async move {
    let m = memori(&url).await?;
    for who in ["carol", "dave"] {
        let scope = Scope::new(who, "bot", "s1")?;
        m.capture(&scope, vec![Message::user(format!("{who} lives in Paris")), Message::assistant("Nice")]).await?;
    }
    m.flush().await?;
    let db = m.connection();
    let carol = entity_row(db, "carol").await?;
    let dave = entity_row(db, "dave").await?;
    let before = rows_of(db, carol).await?;
    for (table, n) in &before {
        if [
            "memori_sessions",
            "memori_messages",
            "memori_memories",
            "memori_memory_sources",
            "memori_embeddings",
            "memori_jobs",
        ]
        .contains(table)
        {
            assert!(*n > 0, "{table} should hold carol's rows before the erase: {before:?}");
        }
    }
    db.execute_unprepared(&format!("DELETE FROM memori_entities WHERE id = {carol}")).await?;
    for (table, n) in rows_of(db, carol).await? {
        assert_eq!(n, 0, "{table} still holds carol's rows");
    }
    let dave_rows = rows_of(db, dave).await?;
    for table in ["memori_messages", "memori_memories", "memori_embeddings"] {
        assert!(dave_rows.iter().any(|(t, n)| *t == table && *n == 2), "dave's rows must survive: {dave_rows:?}");
    }
    m.shutdown().await;
    Ok(())
});

backend_test!(migrations_run_once_and_reconnects_keep_data, |url: String| async move {
    let m = memori(&url).await?;
    m.capture(&Scope::new("erin", "bot", "s1")?, vec![Message::user("hello")]).await?;
    m.flush().await?;
    m.shutdown().await;
    drop(m);
    let again = memori(&url).await?;
    assert_eq!(again.message_count(&memori_rig::EntityId::new("erin")?).await?, 1);
    let applied = scalar(again.connection(), "SELECT COUNT(*) FROM seaql_migrations".into()).await?;
    assert_eq!(applied, 3, "each migration recorded once");
    again.shutdown().await;
    Ok(())
});
