//! Recall across processes: the cached entity index follows writes made anywhere, settings
//! saved anywhere take effect everywhere, and concurrent recalls never cross entities.

use memori_rig::{EntityId, ErrorKind, Message, RecallConfig, RecallRequest, Scope, Settings};
use memori_tests::backend_test;

use crate::instance;

backend_test!(the_cached_index_follows_writes_from_another_process, |url: String| async move {
    let reader = instance(&url, 0).await?;
    let writer = instance(&url, 1).await?;
    let scope = Scope::new("ann", "bot", "s1")?;
    writer.capture(&scope, vec![Message::user("I walk my dog every morning")]).await?;
    writer.flush().await?;

    let first = reader.recall(&scope, "jazz records").await?;
    assert!(first.iter().all(|r| !r.memory.text.contains("jazz")));
    let again = reader.recall(&scope, "dog").await?;
    assert!(again.iter().any(|r| r.memory.text.contains("dog")));
    let m = reader.metrics();
    assert_eq!(m.snapshot().recall_index_builds, 1, "the second recall used the cached index");
    assert_eq!(m.snapshot().recall_cache_hits, 1);

    // Another process writes: the reader's next recall sees it (the revision moved on), by
    // applying what changed rather than building the index again.
    writer.capture(&Scope::new("ann", "bot", "s2")?, vec![Message::user("I collect jazz records")]).await?;
    writer.flush().await?;
    let after = reader.recall(&scope, "jazz records").await?;
    assert!(after.first().is_some_and(|r| r.memory.text.contains("jazz")), "{after:#?}");
    assert_eq!((m.snapshot().recall_index_builds, m.snapshot().recall_index_updates), (1, 1));

    // Writes to another entity leave this entity's index alone.
    writer.capture(&Scope::new("bob", "bot", "s1")?, vec![Message::user("I collect jazz records too")]).await?;
    writer.flush().await?;
    reader.recall(&scope, "jazz").await?;
    assert_eq!((m.snapshot().recall_index_builds, m.snapshot().recall_index_updates), (1, 1));

    // An operator deletes a memory in the writer's process: the reader drops it too.
    let jazz = writer.memories(&scope.entity, memori_rig::Validity::All).await?;
    let jazz = jazz.iter().find(|x| x.text.contains("jazz")).expect("the jazz episode").id;
    writer.delete_memory(jazz, "ops").await?;
    let gone = reader.recall(&scope, "jazz records").await?;
    assert!(gone.iter().all(|r| r.memory.id != jazz), "{gone:#?}");
    assert_eq!((m.snapshot().recall_index_builds, m.snapshot().recall_index_updates), (1, 2));
    Ok(())
});

backend_test!(settings_saved_by_one_process_are_used_by_another, |url: String| async move {
    let a = instance(&url, 1).await?;
    let b = instance(&url, 0).await?;
    let scope = Scope::new("ann", "bot", "s1")?;
    let facts: Vec<Message> = (0..6).map(|i| Message::user(format!("I like hiking trail number {i}"))).collect();
    a.capture(&scope, facts).await?;
    a.flush().await?;
    assert!(b.recall(&scope, "hiking").await?.len() > 1);

    let (version, mut settings) = a.settings().await?;
    assert_eq!(version, 0, "nothing saved yet: the builder's configuration");
    settings.recall.limit = 1;
    assert_eq!(a.save_settings(Some(version), &settings, "ops@example.com").await?, 1);
    assert_eq!(b.recall(&scope, "hiking").await?.len(), 1, "b picked up a's settings without a restart");

    // A save on top of an old version conflicts; an out-of-range knob is refused.
    let stale = b.save_settings(Some(0), &Settings::default(), "someone-else").await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    let bad =
        Settings { recall: RecallConfig { vector_weight: f64::NAN, ..RecallConfig::default() }, ..Settings::default() };
    assert_eq!(b.save_settings(None, &bad, "ops").await.unwrap_err().kind(), ErrorKind::InvalidInput);
    let history = b.settings_history(10).await?;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].version, history[0].saved_by.as_str(), history[0].settings.recall.limit),
        (1, "ops@example.com", 1)
    );

    // A per-request configuration previews without saving.
    let preview =
        b.recall_with(&scope.entity, RecallRequest::new("hiking").with_config(RecallConfig::default())).await?.memories;
    assert!(preview.len() > 1);
    assert_eq!(b.settings().await?.0, 1);
    Ok(())
});

backend_test!(concurrent_recalls_never_cross_entities, |url: String| async move {
    let m = instance(&url, 2).await?;
    for e in 0..8 {
        let scope = Scope::new(format!("tenant-{e}"), "bot", "s1")?;
        let msgs =
            (0..5).map(|i| Message::user(format!("tenant{e} secret {i}: my password hint is blue {e}"))).collect();
        m.capture(&scope, msgs).await?;
    }
    m.flush().await?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..160 {
        let m = m.clone();
        tasks.spawn(async move {
            let e = i % 8;
            // The query names every tenant's words; only the asker's memories may come back.
            let req =
                RecallRequest::new("tenant0 tenant1 tenant2 tenant3 tenant4 tenant5 tenant6 tenant7 secret password");
            let out = m.recall_with(&EntityId::new(format!("tenant-{e}"))?, req).await?.memories;
            anyhow::ensure!(
                out.iter().any(|r| r.memory.text.contains(&format!("tenant{e} "))),
                "tenant-{e} did not recall its own memories: {out:#?}"
            );
            for r in &out {
                for other in (0..8).filter(|&o| o != e) {
                    let leaked = r.memory.text.contains(&format!("tenant{other} "))
                        || r.memory.text.ends_with(&format!("blue {other}"));
                    anyhow::ensure!(!leaked, "tenant-{e} got tenant-{other}'s {:?}", r.memory.text);
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
});

#[tokio::test]
async fn the_injected_block_stays_within_the_token_budget() -> anyhow::Result<()> {
    let (_db, m) = crate::sqlite_memori().await?;
    let scope = Scope::new("ann", "bot", "s1")?;
    let long = "I keep a garden with tomatoes, basil and far too many courgettes. ".repeat(20);
    let msgs = (0..30).map(|i| Message::user(format!("garden note {i}: {long}"))).collect();
    m.capture(&scope, msgs).await?;
    m.flush().await?;
    let block = m.context_block(&scope, "what grows in my garden?", &Default::default()).await?.expect("a block");
    let budget = m.current_settings().await?.recall.token_budget;
    assert!(memori_rig::recall::tokens::count(&block) <= budget);
    assert!(block.starts_with("<memories>\n") && block.ends_with("</memories>"));
    Ok(())
}
