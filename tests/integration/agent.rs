//! rig agents end to end with rig's scripted mock model: recall into the system prompt,
//! capture of unary, streamed and tool-loop runs, isolation and failure modes.

use futures::StreamExt;
use memori_rig::embed::HashEmbedder;
use memori_rig::{EntityId, Error, ErrorKind, FailureMode, Memori, Scope};
use memori_tests::backend_test;
use rig_agent::AgentBuilder;
use rig_core::completion::{CompletionRequest, Usage};
use rig_core::message::Message as RigMessage;
use rig_core::test_utils::{MockCompletionModel, MockStreamEvent, MockTurn, sent_documents};

use super::{memori, memori_with, sqlite_memori};

const PREAMBLE: &str = "You are a snack assistant.";

fn system(req: &CompletionRequest) -> String {
    req.system_instructions().unwrap_or_default().to_owned()
}

backend_test!(remembers_an_allergy_in_a_new_session_and_only_for_that_user, |url: String| async move {
    let memori = memori(&url).await?;
    let model = MockCompletionModel::from_turns([
        MockTurn::text("Noted: no peanuts."),
        MockTurn::text("How about apple slices?"),
        MockTurn::text("Here is a peanut butter cookie."),
    ]);
    let agent = AgentBuilder::new(model.clone()).preamble(PREAMBLE).build();

    let monday = Scope::new("ann", "snack-bot", "monday")?;
    agent.prompt("I'm allergic to peanuts").add_hook(memori.hook(&monday)).await?;
    memori.flush().await?;

    let friday = Scope::new("ann", "snack-bot", "friday")?;
    agent.prompt("Can you suggest a snack?").add_hook(memori.hook(&friday)).await?;
    let bob = Scope::new("bob", "snack-bot", "friday")?;
    agent.prompt("Can you suggest a snack?").add_hook(memori.hook(&bob)).await?;

    let requests = model.requests();
    assert_eq!(system(&requests[0]), PREAMBLE, "nothing to recall in the first session");
    let friday_system = system(&requests[1]);
    assert!(friday_system.starts_with(PREAMBLE), "{friday_system}");
    assert!(
        friday_system.contains("<memories>") && friday_system.contains("user: I'm allergic to peanuts"),
        "{friday_system}"
    );
    assert!(!system(&requests[2]).contains("peanuts"), "bob must not see ann's memories: {}", system(&requests[2]));

    memori.flush().await?;
    assert_eq!(memori.message_count(&EntityId::new("ann")?).await?, 4);
    assert_eq!(memori.message_count(&EntityId::new("bob")?).await?, 2);
    memori.shutdown().await;
    Ok(())
});

#[tokio::test]
async fn streamed_runs_are_captured_exactly_once() -> anyhow::Result<()> {
    let (db, memori) = sqlite_memori().await?;
    let scope = Scope::new("sam", "bot", "s1")?;
    memori.capture(&scope, vec![rig_free_message("I'm vegetarian")]).await?;
    memori.flush().await?;

    let model = MockCompletionModel::from_stream_turns([vec![
        MockStreamEvent::text("Try a "),
        MockStreamEvent::text("veggie wrap."),
        MockStreamEvent::final_response(Usage::new()),
    ]]);
    let agent = AgentBuilder::new(model.clone()).preamble(PREAMBLE).build();
    let mut stream = agent.prompt("What should I eat?").add_hook(memori.hook(&scope)).stream();
    while let Some(item) = stream.next().await {
        item?;
    }
    assert!(system(&model.requests()[0]).contains("I'm vegetarian"), "{}", system(&model.requests()[0]));
    memori.flush().await?;
    assert_eq!(memori.message_count(&scope.entity).await?, 3, "1 earlier + the streamed run's prompt and reply");
    let recalled = memori.recall(&scope, "veggie wrap").await?;
    assert_eq!(recalled[0].memory.text, "assistant: Try a veggie wrap.");
    memori.shutdown().await;
    db.drop_database().await
}

fn rig_free_message(text: &str) -> memori_rig::Message {
    memori_rig::Message::user(text)
}

#[tokio::test]
async fn tool_loops_keep_the_memories_on_every_turn_and_capture_every_message_once() -> anyhow::Result<()> {
    let (db, memori) = sqlite_memori().await?;
    let scope = Scope::new("tia", "bot", "s1")?;
    memori.capture(&scope, vec![rig_free_message("My favourite fruit is mango")]).await?;
    memori.flush().await?;

    // The memory index doubles as a tool ("search_vector_store"): one tool call, then an answer.
    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call("call-1", "search_vector_store", serde_json::json!({"query": "fruit", "samples": 2})),
        MockTurn::text("You like mango."),
    ]);
    let agent = AgentBuilder::new(model.clone()).preamble(PREAMBLE).tool(memori.index(&scope)).build();
    let response = agent.prompt("Which fruit do I like?").max_turns(3).add_hook(memori.hook(&scope)).await?;
    assert_eq!(response.output(), "You like mango.");

    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    for (turn, req) in requests.iter().enumerate() {
        let s = system(req);
        assert_eq!(s.matches("<memories>").count(), 1, "turn {}: one block, re-applied, never stacked: {s}", turn + 1);
        assert!(s.to_lowercase().contains("mango"), "turn {}: {s}", turn + 1);
    }
    memori.flush().await?;
    // 1 earlier + user, assistant(tool call), tool result, assistant.
    assert_eq!(memori.message_count(&scope.entity).await?, 5);
    let calls =
        memori.recall_with(&scope.entity, memori_rig::RecallRequest::new("You like mango").limit(10)).await?.memories;
    assert_eq!(calls.iter().filter(|r| r.memory.text == "assistant: You like mango.").count(), 1, "captured once");
    memori.shutdown().await;
    db.drop_database().await
}

#[tokio::test]
async fn memories_already_in_the_history_are_not_injected_again() -> anyhow::Result<()> {
    let (db, memori) = sqlite_memori().await?;
    let scope = Scope::new("uma", "bot", "s1")?;
    let model = MockCompletionModel::from_turns([MockTurn::text("Noted."), MockTurn::text("Sure.")]);
    let agent = AgentBuilder::new(model.clone()).preamble(PREAMBLE).build();
    agent.prompt("I'm allergic to peanuts").add_hook(memori.hook(&scope)).await?;
    memori.flush().await?;
    let history = vec![RigMessage::user("I'm allergic to peanuts"), RigMessage::assistant("Noted.")];
    agent.prompt("What did I just tell you about peanuts?").history(history).add_hook(memori.hook(&scope)).await?;
    let s = system(&model.requests()[1]);
    assert!(!s.contains("allergic"), "the model already sees that message: {s}");
    memori.shutdown().await;
    db.drop_database().await
}

#[tokio::test]
async fn dynamic_context_uses_the_memory_index() -> anyhow::Result<()> {
    let (db, memori) = sqlite_memori().await?;
    let scope = Scope::new("vic", "bot", "s1")?;
    memori.capture(&scope, vec![rig_free_message("I live in Lisbon"), rig_free_message("I play the cello")]).await?;
    memori.flush().await?;
    let model = MockCompletionModel::from_turns([MockTurn::text("Lisbon.")]);
    let agent = AgentBuilder::new(model.clone()).dynamic_context(1, memori.index(&scope)).build();
    agent.prompt("Where do I live, Lisbon?").await?;
    let docs = sent_documents(&model.requests()[0]);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert!(docs[0].0.starts_with("memory-") && docs[0].1.contains("I live in Lisbon"), "{docs:?}");
    memori.shutdown().await;
    db.drop_database().await
}

#[tokio::test]
async fn the_model_wrapper_recalls_and_captures_unary_and_streamed_calls() -> anyhow::Result<()> {
    let (db, memori) = sqlite_memori().await?;
    let scope = Scope::new("wes", "bot", "s1")?;
    memori.capture(&scope, vec![rig_free_message("My dog is called Rex")]).await?;
    memori.flush().await?;
    let model = MockCompletionModel::from_turns([MockTurn::text("Rex!")]);
    let wrapped = memori.wrap_model(model.clone(), &scope);
    let response = wrapped.call(CompletionRequest::new("What is my dog called?").preamble("Base.")).await?;
    assert_eq!(response.text(), "Rex!");
    let s = system(&model.requests()[0]);
    assert!(s.starts_with("Base.") && s.contains("dog is called Rex"), "{s}");

    let streaming = MockCompletionModel::from_stream_turns([vec![
        MockStreamEvent::text("Woof."),
        MockStreamEvent::final_response(Usage::new()),
    ]]);
    let wrapped = memori.wrap_model(streaming.clone(), &scope);
    let mut stream = wrapped.stream(CompletionRequest::new("And what does my dog say?"));
    while let Some(item) = stream.next().await {
        item?;
    }
    assert!(system(&streaming.requests()[0]).contains("dog is called Rex"));
    memori.flush().await?;
    assert_eq!(memori.message_count(&scope.entity).await?, 5, "1 + 2 per call");
    memori.shutdown().await;
    db.drop_database().await
}

/// An embedder that always fails, standing in for any memory failure at recall time.
struct BrokenEmbedder;

#[async_trait::async_trait]
impl memori_rig::Embedder for BrokenEmbedder {
    fn model_id(&self) -> &str {
        "broken"
    }
    fn dimensions(&self) -> usize {
        8
    }
    async fn embed(&self, _texts: Vec<String>) -> memori_rig::Result<Vec<Vec<f32>>> {
        Err(Error::new(ErrorKind::Embedding, "the embedding service is down"))
    }
}

#[tokio::test]
async fn a_memory_failure_never_fails_the_call_unless_configured_to() -> anyhow::Result<()> {
    let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("sqlite always runs");
    let open = memori_with(&db.url, BrokenEmbedder).await?;
    let scope = Scope::new("xia", "bot", "s1")?;
    open.capture(&scope, vec![rig_free_message("I like tea")]).await?;
    let model = MockCompletionModel::from_turns([MockTurn::text("ok")]);
    let agent = AgentBuilder::new(model.clone()).preamble(PREAMBLE).build();
    let out = agent.prompt("Tea?").add_hook(open.hook(&scope)).await?;
    assert_eq!(out.output(), "ok");
    assert_eq!(system(&model.requests()[0]), PREAMBLE);
    assert_eq!(open.metrics().snapshot().recall_failures, 1);
    // Augmentation fails (no embeddings) and becomes a dead letter; capture does not.
    open.flush().await?;
    assert_eq!(open.message_count(&scope.entity).await?, 3, "the exchange is still captured");
    open.shutdown().await;

    let closed = Memori::builder()
        .database_url(&db.url)
        .embedder(BrokenEmbedder)
        .configure(|c| c.failure_mode = FailureMode::Closed)
        .build()
        .await?;
    let model = MockCompletionModel::from_turns([MockTurn::text("ok")]);
    let agent = AgentBuilder::new(model.clone()).build();
    let err = agent.prompt("Tea?").add_hook(closed.hook(&scope)).await.unwrap_err();
    assert!(err.to_string().contains("memory recall failed"), "{err}");
    assert_eq!(model.request_count(), 0, "fail-closed stops before the model is called");
    closed.shutdown().await;
    db.drop_database().await
}

#[tokio::test]
async fn a_memori_over_the_hash_embedder_ranks_by_words() -> anyhow::Result<()> {
    let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("sqlite always runs");
    let memori = memori_with(&db.url, HashEmbedder::new(64)).await?;
    let scope = Scope::new("yan", "bot", "s1")?;
    memori
        .capture(&scope, vec![rig_free_message("I work at a bakery"), rig_free_message("My sister lives in Oslo")])
        .await?;
    memori.flush().await?;
    let r = memori.recall(&scope, "Where does my sister live?").await?;
    // The episode or the memory extracted from it, not the bakery.
    let top = &r[0].memory.text;
    assert!(top.contains("sister") && top.contains("Oslo"), "{top}");
    memori.shutdown().await;
    db.drop_database().await
}

// The review's first look, through the hook: a lead-in before a compound sentence, and a
// move announced with a lead-in that must replace the old city.
backend_test!(lead_ins_compound_sentences_and_a_move_reach_the_prompt, |url: String| async move {
    let memori = memori(&url).await?;
    let model = MockCompletionModel::from_turns([
        MockTurn::text("Noted."),
        MockTurn::text("Noted."),
        MockTurn::text("Congratulations!"),
        MockTurn::text("Avoid shellfish and pork."),
        MockTurn::text("In Porto."),
    ]);
    let agent = AgentBuilder::new(model.clone()).preamble(PREAMBLE).build();
    let scope = |s: &str| Scope::new("maya", "chef-bot", s);
    for (session, said) in [
        ("s1", "Good restaurant tips would help. Careful though: I'm allergic to shellfish, and I don't eat pork."),
        ("s1", "I live in Lisbon."),
        ("s2", "Big news: I moved to Porto last month."),
    ] {
        agent.prompt(said).add_hook(memori.hook(&scope(session)?)).await?;
        memori.flush().await?;
    }
    agent.prompt("What can't I eat?").add_hook(memori.hook(&scope("s3")?)).await?;
    agent.prompt("Where do I live?").add_hook(memori.hook(&scope("s4")?)).await?;

    let requests = model.requests();
    // Memory lines only: a neighbour line may quote the message too.
    let memory_lines =
        |s: &str| -> Vec<String> { s.lines().filter(|l| l.starts_with("- [")).map(str::to_owned).collect() };
    let eat = memory_lines(&system(&requests[3])).join("\n");
    assert!(eat.contains("shellfish") && eat.contains("pork"), "both the allergy and pork: {eat}");
    let live = system(&requests[4]);
    let lines = memory_lines(&live);
    let porto = lines.iter().position(|l| l.contains("Porto"));
    let porto = porto.unwrap_or_else(|| panic!("Porto is recalled: {live}"));
    for (i, l) in lines.iter().enumerate().filter(|(_, l)| l.contains("Lisbon") && !l.contains("Porto")) {
        assert!(i > porto && l.contains("(superseded "), "Lisbon comes after Porto, marked: {live}");
    }
    memori.shutdown().await;
    Ok(())
});
