//! The real local embedding model (all-MiniLM-L6-v2 int8 through ONNX Runtime).
//!
//! Needs `memori setup` (or `cargo xtask setup`). With `MEMORI_TEST_REQUIRE_MODEL=1` (set by
//! `cargo xtask test` and CI) missing files fail the test; otherwise it says so and passes.

use memori_rig::embed::FastEmbedder;
use memori_rig::{Embedder, Message, Scope};

fn load() -> Option<FastEmbedder> {
    memori_tests::model_available().then(|| FastEmbedder::from_cache().expect("verified model files load"))
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn embeddings_match_the_reference_and_capture_meaning() -> anyhow::Result<()> {
    let Some(e) = load() else { return Ok(()) };
    let v = e
        .embed(vec![
            "The cat sits on the mat.".into(),
            "A kitten is resting on a rug.".into(),
            "Quarterly revenue grew by ten percent.".into(),
        ])
        .await?;
    assert_eq!(v[0].len(), 384);
    // Reference values from onnxruntime + tokenizers in Python (see ENV.md, 3.4).
    assert!((cos(&v[0], &v[1]) - 0.6388).abs() < 0.01, "{}", cos(&v[0], &v[1]));
    assert!(cos(&v[0], &v[2]).abs() < 0.1);
    Ok(())
}

#[tokio::test]
async fn semantic_recall_finds_an_allergy_for_a_snack_question() -> anyhow::Result<()> {
    let Some(e) = load() else { return Ok(()) };
    let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("sqlite always runs");
    let memori = super::memori_with(&db.url, e).await?;
    let scope = Scope::new("amy", "bot", "s1")?;
    let facts = [
        "My car is a red Toyota",
        "I'm allergic to peanuts",
        "I work as a teacher in Leeds",
        "My brother plays football",
    ];
    memori.capture(&scope, facts.iter().map(|f| Message::user(*f)).collect()).await?;
    memori.flush().await?;
    let r = memori.recall(&scope, "Which foods must I avoid eating?").await?;
    assert!(
        r[0].memory.text.contains("allergic to peanuts"),
        "{:#?}",
        r.iter().map(|r| (&r.memory.text, r.score)).collect::<Vec<_>>()
    );
    memori.shutdown().await;
    db.drop_database().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_share_model_runs_and_get_their_own_vectors() -> anyhow::Result<()> {
    let Some(e) = load() else { return Ok(()) };
    let queries: Vec<String> =
        (0..48).map(|i| format!("question {i}: what did I say about hiking trail {}?", i * 7)).collect();
    // Each alone, one model run each: the reference.
    let mut alone = Vec::new();
    for q in &queries {
        alone.push(e.embed(vec![q.clone()]).await?.remove(0));
    }
    // All at once: they wait together and share runs of up to 32.
    let handles: Vec<_> = queries
        .iter()
        .cloned()
        .map(|q| {
            let e = e.clone();
            tokio::spawn(async move { e.embed_query(q).await })
        })
        .collect();
    for (h, want) in handles.into_iter().zip(&alone) {
        let got = h.await??;
        assert_eq!(got.len(), 384);
        assert!(cos(&got, want) > 0.9999, "a query's vector is its own: {}", cos(&got, want));
    }
    Ok(())
}
