//! Capture, augmentation, recall and erasure against every database backend.

use memori_rig::{EntityId, ErrorKind, MemoryKind, Message, Part, Role, Scope};
use memori_tests::backend_test;
use sea_orm::ConnectionTrait;

use super::{memori, sql};

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
    let db = sql::connect(&url).await?;
    let carol = sql::entity_row(&db, "carol").await?;
    let dave = sql::entity_row(&db, "dave").await?;
    let before = sql::rows_of(&db, carol).await?;
    for (table, n) in &before {
        if [
            "memori_sessions",
            "memori_messages",
            "memori_memories",
            "memori_memory_sources",
            "memori_embeddings",
            "memori_jobs",
        ]
        .contains(&table.as_str())
        {
            assert!(*n > 0, "{table} should hold carol's rows before the erase: {before:?}");
        }
    }
    db.execute_unprepared(&format!("DELETE FROM memori_entities WHERE id = {carol}")).await?;
    for (table, n) in sql::rows_of(&db, carol).await? {
        assert_eq!(n, 0, "{table} still holds carol's rows");
    }
    let dave_rows = sql::rows_of(&db, dave).await?;
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
    let applied = sql::scalar(&sql::connect(&url).await?, "SELECT COUNT(*) FROM seaql_migrations".into()).await?;
    assert_eq!(applied, 5, "each migration recorded once");
    again.shutdown().await;
    Ok(())
});

backend_test!(bad_input_gets_a_clear_error_or_is_stored_exactly, |url: String| async move {
    let m = memori(&url).await?;

    // Ids: 255 bytes (ASCII or multi-byte) are stored and read back; 256 bytes, control
    // characters and blank ids are refused by name before anything is written.
    let long_ascii = "a".repeat(255);
    let long_multibyte = format!("{}x", "é".repeat(127));
    for id in [long_ascii.as_str(), long_multibyte.as_str()] {
        let scope = Scope::new(id, id, id)?;
        m.capture(&scope, vec![Message::user(format!("{} likes kites", id.len()))]).await?;
        assert_eq!(m.message_count(&scope.entity).await?, 1);
    }
    for (bad, why) in [
        ("b".repeat(256), "the limit is 255"),
        ("ann\u{1b}[31m".to_owned(), "U+001B"),
        ("  \t ".to_owned(), "empty or only whitespace"),
    ] {
        let err = Scope::new(bad.as_str(), "bot", "s1").expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::InvalidScope);
        assert!(err.to_string().contains(why), "{err}");
    }

    // SQL-looking and LIKE-wildcard ids are plain values: each entity sees only its own data.
    let odd_ids = ["1 OR 1=1", "'; DELETE FROM memori_messages; --", "%", "_", "\\", "a\"b"];
    for id in odd_ids {
        m.capture(&Scope::new(id, "bot", "s1")?, vec![Message::user(format!("marker {id}"))]).await?;
    }
    for id in odd_ids {
        let entity = EntityId::new(id)?;
        assert_eq!(m.message_count(&entity).await?, 1, "{id}");
        let export = m.export_entity(&entity, "test").await?;
        assert_eq!(export.messages.len(), 1, "{id}");
        assert_eq!(export.messages[0].text, format!("marker {id}"));
    }
    assert_eq!(m.message_count(&EntityId::new("a")?).await?, 0, "`_` and `%` match nothing else");

    // Text up to the limit is kept byte for byte, control characters and bidi marks included.
    let scope = Scope::new("text-user", "bot", "s1")?;
    let big = "lorem ipsum ".repeat(90_000); // about 1 MiB
    let controls = "bell \u{7} escape \u{1b}[2J crlf \r\n tab \t bidi \u{202e}txet\u{202c} zero-width \u{200b}";
    m.capture(&scope, vec![Message::user(big.as_str()), Message::user(controls)]).await?;
    m.flush().await?;
    let export = m.export_entity(&scope.entity, "test").await?;
    let texts: Vec<&str> = export.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, [big.as_str(), controls]);
    assert_eq!(m.dead_jobs().await?, 0, "augmenting odd text fails no job");

    // A file with invalid UTF-8 on one line: that line is named, the others parse.
    let file = std::env::temp_dir().join(format!("memori-bad-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let good = r#"{"id":"c1","speakers":["Ann"],"sessions":[{"session_id":"s1","turns":[{"turn_id":"t1","speaker":"Ann","text":"hi"}]}]}"#;
    let mut bytes = format!("{good}\n").into_bytes();
    bytes.extend_from_slice(b"{\"id\":\"c2\xff\xfe\"}\n");
    bytes.extend_from_slice(good.replace("c1", "c3").as_bytes());
    std::fs::write(&file, &bytes)?;
    let err = memori_rig::import::read_file(&file).expect_err("a bad line fails the whole file");
    assert!(err.to_string().contains("line 2"), "{err}");
    let (conversations, errors) = memori_rig::import::parse(bytes.as_slice());
    assert_eq!(conversations.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2);
    let _ = std::fs::remove_file(&file);
    m.shutdown().await;
    Ok(())
});

backend_test!(the_background_writer_keeps_order_and_shutdown_writes_what_waits, |url: String| async move {
    // The hook's path: exchanges handed to the writer return at once; shutdown writes them.
    let m = memori(&url).await?;
    let mut tasks = Vec::new();
    for s in 0..4 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            let scope = Scope::new("wren", "bot", format!("s{s}"))?;
            for i in 0..25 {
                let exchange = vec![Message::user(format!("s{s} q{i}")), Message::assistant(format!("s{s} a{i}"))];
                anyhow::ensure!(m.capture_logged(&scope, exchange).await.is_none(), "background: no receipt");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    assert!(m.metrics().snapshot().captures_queued == 100, "{:?}", m.metrics().snapshot());
    m.shutdown().await;
    drop(m);

    let again = memori(&url).await?;
    let entity = EntityId::new("wren")?;
    assert_eq!(again.message_count(&entity).await?, 200, "every message once");
    for s in 0..4 {
        let transcript = again.transcript(&entity, &format!("s{s}")).await?;
        let said: Vec<String> = transcript.iter().map(|t| t.text.clone()).collect();
        let want: Vec<String> = (0..25).flat_map(|i| [format!("s{s} q{i}"), format!("s{s} a{i}")]).collect();
        assert_eq!(said, want, "session s{s} in the order it was said");
        let positions: Vec<i64> = transcript.iter().map(|t| t.position).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions follow the order: {positions:?}");
    }
    again.shutdown().await;
    Ok(())
});
