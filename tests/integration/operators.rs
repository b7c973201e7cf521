//! Operator features through the library on every backend: retention per process, memory
//! corrections and their audit records, web sessions.

use chrono::{Duration, Utc};
use memori_rig::{EntityId, Message, RetentionPolicy, Scope, Settings};
use memori_tests::backend_test;

use super::memori;

backend_test!(retention_deletes_old_data_per_process_and_keeps_the_rest, |url: String| async move {
    let m = memori(&url).await?;
    let old = Utc::now() - Duration::days(90);
    let recent = Utc::now() - Duration::days(2);
    let say = |text: &str, at| Message::user(text).said_at(at);
    // carol talks to two agents; "support" keeps data for a year, everything else 30 days.
    m.capture(&Scope::new("carol", "chat", "c-old")?, vec![say("I live in Oslo", old)]).await?;
    m.capture(&Scope::new("carol", "chat", "c-new")?, vec![say("I like skiing", recent)]).await?;
    m.capture(&Scope::new("carol", "support", "t-old")?, vec![say("My order 42 is late", old)]).await?;
    m.capture(&Scope::new("dave", "chat", "d-old")?, vec![say("I live in Rome", old)]).await?;
    m.flush().await?;
    let carol = EntityId::new("carol")?;
    assert_eq!(m.message_count(&carol).await?, 3);

    // A global policy alone (no per-process entries) that nothing is old enough for.
    let year = RetentionPolicy { days: Some(365), ..RetentionPolicy::default() };
    m.save_settings(None, &Settings { retention: year, ..Settings::default() }, "test").await?;
    let nothing = m.apply_retention("test").await?;
    assert!(nothing.removed.values().all(|n| *n == 0), "{nothing:?}");
    assert_eq!(m.message_count(&carol).await?, 3);

    let (version, _) = m.settings().await?;
    let mut policy = RetentionPolicy { days: Some(30), ..RetentionPolicy::default() };
    policy.processes.insert("support".into(), 365);
    m.save_settings(Some(version), &Settings { retention: policy, ..Settings::default() }, "test").await?;
    let receipt = m.apply_retention("test").await?;
    assert_eq!(receipt.removed["memori_messages"], 2, "{receipt:?}");
    assert!(receipt.removed["memori_sessions"] >= 2, "{receipt:?}");

    let left = m.export_entity(&carol, "test").await?;
    let texts: Vec<&str> = left.messages.iter().map(|msg| msg.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"I like skiing") && texts.contains(&"My order 42 is late"), "{texts:?}");
    assert!(left.memories.iter().all(|mm| !mm.text.contains("Oslo")), "old memories go with their messages");
    assert!(left.sessions.iter().all(|s| s.id != "c-old"), "the emptied session is gone");
    assert_eq!(m.message_count(&EntityId::new("dave")?).await?, 0);
    let recalled = m.recall(&Scope::new("carol", "chat", "c-new")?, "where does carol live? Oslo").await?;
    assert!(recalled.iter().all(|r| !r.memory.text.contains("Oslo")), "recall forgets it too");

    // Zero days is refused rather than erasing everything at once.
    let bad =
        Settings { retention: RetentionPolicy { days: Some(0), ..RetentionPolicy::default() }, ..Settings::default() };
    assert_eq!(m.save_settings(None, &bad, "test").await.unwrap_err().kind(), memori_rig::ErrorKind::InvalidInput);
    let audit = m.audit_log(&memori_rig::admin::AuditQuery { limit: Some(10), ..Default::default() }).await?;
    assert!(audit.iter().any(|a| a.action == "retention.apply"));
    m.shutdown().await;
    Ok(())
});

backend_test!(web_sessions_expire_and_ids_never_collide, |url: String| async move {
    let m = memori(&url).await?;
    let future = (Utc::now() + Duration::hours(1)).timestamp_millis();
    let past = (Utc::now() - Duration::hours(1)).timestamp_millis();
    m.accounts().create_web_session("a", "{}", future, Some("ada")).await?;
    let err = m.accounts().create_web_session("a", "{\"x\":1}", future, None).await.unwrap_err();
    assert_eq!(err.kind(), memori_rig::ErrorKind::Conflict, "a taken id is a conflict, not an overwrite");
    assert_eq!(m.accounts().web_session("a").await?.as_deref(), Some("{}"));
    m.accounts().save_web_session("a", "{\"y\":2}", future, Some("ada")).await?;
    assert_eq!(m.accounts().web_session("a").await?.as_deref(), Some("{\"y\":2}"));
    m.accounts().save_web_session("b", "{}", past, None).await?;
    assert_eq!(m.accounts().web_session("b").await?, None, "expired sessions do not load");
    assert_eq!(m.accounts().delete_expired_web_sessions().await?, 1);
    m.accounts().delete_web_session("a").await?;
    assert_eq!(m.accounts().web_session("a").await?, None);
    m.shutdown().await;
    Ok(())
});

backend_test!(operators_can_switch_every_worker_to_the_offline_extractor, |url: String| async move {
    // The configured extractor (a model that is down) fails every job until operators switch
    // to the offline one in the settings; the switch reaches the worker without a restart.
    let m = memori_rig::Memori::builder()
        .database_url(&url)
        .embedder(memori_rig::embed::HashEmbedder::default())
        .extractor(crate::augment::Down)
        .configure(|c| {
            c.jobs.poll_interval = std::time::Duration::from_millis(20);
            c.jobs.retry_base = std::time::Duration::from_millis(5);
            c.jobs.max_attempts = 2;
            c.settings_refresh = std::time::Duration::ZERO;
        })
        .build()
        .await?;
    let scope = Scope::new("erin", "bot", "s1")?;
    m.capture(&scope, vec![Message::user("I'm allergic to walnuts")]).await?;
    let _ = m.flush_timeout(std::time::Duration::from_secs(10)).await;
    assert_eq!(m.dead_jobs().await?, 1, "the down model fails the job");
    let extracted = |ms: &[memori_rig::Memory]| ms.iter().filter(|x| x.kind != memori_rig::MemoryKind::Episode).count();
    assert_eq!(extracted(&m.memories(&scope.entity, memori_rig::Validity::Current).await?), 0);

    let (version, mut settings) = m.settings().await?;
    settings.extraction.extractor = memori_rig::ExtractorChoice::Offline;
    m.save_settings(Some(version), &settings, "test").await?;
    assert_eq!(m.retry_dead_jobs().await?, 1);
    m.flush().await?;
    assert_eq!(m.dead_jobs().await?, 0);
    let memories = m.memories(&scope.entity, memori_rig::Validity::Current).await?;
    assert!(
        memories.iter().any(|x| x.kind != memori_rig::MemoryKind::Episode && x.text.contains("walnuts")),
        "{memories:?}"
    );
    m.shutdown().await;
    Ok(())
});
