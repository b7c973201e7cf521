//! Provider level: rig's real OpenAI chat wire talking to a loopback HTTP server that speaks
//! the OpenAI chat-completions API, records what it receives and injects faults: a rig agent
//! with memory, and the LLM extractor through 500s, 429s, timeouts and malformed output.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use memori_rig::Scope;
use memori_tests::backend_test;
use memori_tests::openai::{FakeOpenAi, Reply};
use rig_agent::AgentBuilder;
use rig_core::providers::openai::OpenAIConfig;

use super::sqlite_memori;

/// Serve canned chat completions on 127.0.0.1; returns the base URL and the request bodies.
async fn fake_openai(replies: Vec<&'static str>) -> anyhow::Result<(String, Arc<Mutex<Vec<serde_json::Value>>>)> {
    let server = FakeOpenAi::scripted(replies.into_iter().map(Reply::text).collect(), Reply::Status(500)).await?;
    Ok((server.base_url, server.bodies))
}

#[tokio::test]
async fn the_openai_wire_carries_recalled_memories_in_the_system_message() -> anyhow::Result<()> {
    let (db, memori) = sqlite_memori().await?;
    let (base_url, bodies) = fake_openai(vec!["Noted, no peanuts.", "How about apple slices?"]).await?;
    let model = OpenAIConfig::new("test-key").with_base_url(base_url).client().chat("gpt-4o-mini");
    let agent = AgentBuilder::new(model).preamble("You are a snack assistant.").build();

    agent.prompt("I'm allergic to peanuts").add_hook(memori.hook(&Scope::new("zoe", "bot", "monday")?)).await?;
    memori.flush().await?;
    let reply = agent.prompt("Suggest a snack").add_hook(memori.hook(&Scope::new("zoe", "bot", "friday")?)).await?;
    assert_eq!(reply.output(), "How about apple slices?");

    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    let system = &bodies[1]["messages"][0];
    assert_eq!(system["role"], "system", "{system}");
    let content = system["content"].as_str().map(str::to_owned).unwrap_or_else(|| system["content"].to_string());
    assert!(content.contains("You are a snack assistant.") && content.contains("I'm allergic to peanuts"), "{content}");
    memori.flush().await?;
    assert_eq!(memori.message_count(&memori_rig::EntityId::new("zoe")?).await?, 4);
    memori.shutdown().await;
    db.drop_database().await
}

fn allergy_submission() -> serde_json::Value {
    serde_json::json!({
        "memories": [{
            "kind": "attribute",
            "text": "Zoe is allergic to peanuts",
            "importance": 0.9,
            "source_ids": [],
            "triple": {"subject": "Zoe", "subject_type": "person", "predicate": "allergic_to",
                       "object": "peanuts", "object_type": "food", "exclusive": false}
        }],
        "summary": "Zoe said she is allergic to peanuts."
    })
}

async fn llm_memori(url: &str, server: &FakeOpenAi, max_attempts: i32) -> anyhow::Result<memori_rig::Memori> {
    let model = OpenAIConfig::new("test-key").with_base_url(server.base_url.clone()).client().chat("gpt-4o-mini");
    Ok(memori_rig::Memori::builder()
        .database_url(url)
        .embedder(memori_rig::embed::HashEmbedder::default())
        .extractor(memori_rig::rig::LlmExtractor::new(model))
        .configure(|c| {
            c.jobs.poll_interval = Duration::from_millis(20);
            c.jobs.retry_base = Duration::from_millis(10);
            c.jobs.max_attempts = max_attempts;
            c.augment.extract_timeout = Duration::from_millis(500);
        })
        .build()
        .await?)
}

backend_test!(the_llm_extractor_survives_provider_faults, |url: String| async move {
    use memori_rig::{EntityId, MemoryKind, Message, rig::PROMPT_VERSION};
    // Each fault fails one attempt of the job; the last reply is a proper `submit` call.
    let server = FakeOpenAi::scripted(
        vec![
            Reply::Status(500),
            Reply::Status(429),
            Reply::Garbage,
            Reply::BadArguments,
            Reply::Slow(Duration::from_secs(3), Box::new(Reply::Submit(allergy_submission()))),
        ],
        Reply::Submit(allergy_submission()),
    )
    .await?;
    let m = llm_memori(&url, &server, 10).await?;
    let scope = Scope::new("zoe", "bot", "s1")?;
    m.capture(&scope, vec![Message::user("Heads up: I'm allergic to peanuts.").named("Zoe")]).await?;
    m.flush().await?;

    let jobs = m.jobs(None, 10).await?;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, memori_rig::JobStatus::Done, "{jobs:?}");
    let requests = server.bodies.lock().unwrap().len();
    // Six requests (five faults, one success) over four attempts: within one attempt rig's
    // Extractor asks again once when a reply carries no usable `submit` call.
    assert_eq!(requests, 6, "every fault cost a request");
    assert_eq!(jobs[0].attempts, 4, "the job was retried: {jobs:?}");
    let memories = m.memories(&scope.entity, memori_rig::Validity::Current).await?;
    let extracted: Vec<_> = memories.iter().filter(|x| x.kind != MemoryKind::Episode).collect();
    assert_eq!(extracted.len(), 1, "one memory however often it was attempted: {memories:?}");
    assert_eq!(extracted[0].text, "Zoe is allergic to peanuts");
    assert_eq!(extracted[0].sources.len(), 1, "missing ids fall back to the window's message");
    assert_eq!(m.graph(&scope.entity, memori_rig::Validity::Current).await?.edge_count(), 1);
    assert_eq!(m.message_count(&EntityId::new("zoe")?).await?, 1, "nothing lost");

    let first = server.bodies.lock().unwrap()[0].clone();
    let text = first.to_string();
    assert!(
        text.contains("\"submit\"") && text.contains("long-term memory"),
        "the versioned prompt and the tool: {text}"
    );
    assert!(text.contains("Zoe (user): Heads up"), "the window is rendered with speakers: {text}");
    assert!(m.config().augment.extract_timeout < Duration::from_secs(3));
    assert!(PROMPT_VERSION.starts_with("llm-v"));

    // A provider that stays down: the job becomes a dead letter, and revives once it is back.
    server.set_then(Reply::Status(503));
    let m2 = llm_memori(&url, &server, 2).await?;
    m.shutdown().await;
    let later = Scope::new("zoe", "bot", "s2")?;
    m2.capture(&later, vec![Message::user("I'm allergic to peanuts, remember?").named("Zoe")]).await?;
    m2.flush().await?;
    let dead = m2.jobs(Some(memori_rig::JobStatus::Dead), 10).await?;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.as_deref().unwrap_or_default().contains("extraction model failed"), "{dead:?}");
    assert_eq!(m2.message_count(&later.entity).await?, 2, "the message is kept while its job is dead");

    server.set_then(Reply::Submit(allergy_submission()));
    assert_eq!(m2.retry_dead_jobs().await?, 1);
    m2.flush().await?;
    assert_eq!(m2.dead_jobs().await?, 0);
    let memories = m2.memories(&later.entity, memori_rig::Validity::Current).await?;
    let fact: Vec<_> = memories.iter().filter(|x| x.kind == MemoryKind::Attribute).collect();
    assert_eq!(fact.len(), 1, "the repeat merged: {memories:?}");
    assert_eq!(fact[0].mention_count, 2);
    m2.shutdown().await;
    Ok(())
});

/// A chat completion as OpenAI sends it today, extra fields included, with this message.
fn provider_completion(message: &serde_json::Value, finish: &str) -> Reply {
    Reply::Raw(serde_json::json!({
        "id": "chatcmpl-AbC", "object": "chat.completion", "created": 1_764_500_000, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_560af6e559"
    }))
}

fn submit_call(arguments: &serde_json::Value) -> Reply {
    provider_completion(
        &serde_json::json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
            "tool_calls": [{"id": "call_Xy1", "type": "function",
                            "function": {"name": "submit", "arguments": arguments.to_string()}}]}),
        "tool_calls",
    )
}

#[tokio::test]
async fn the_llm_extractor_reads_what_providers_really_send() -> anyhow::Result<()> {
    use memori_rig::{JobStatus, MemoryKind, Message, Validity};
    let refusal = provider_completion(
        &serde_json::json!({"role": "assistant", "content": null, "refusal": "I'm sorry, I can't help with that.",
                           "annotations": []}),
        "stop",
    );
    let text_instead = provider_completion(
        &serde_json::json!({"role": "assistant", "refusal": null, "annotations": [],
            "content": "```json\n{\"memories\": [{\"kind\": \"fact\", \"text\": \"Zoe has a dog\"}]}\n```"}),
        "stop",
    );
    // Extra fields everywhere, optional fields missing, a kind in another case, an unknown id.
    let loose = serde_json::json!({
        "reasoning": "The user states two durable things.",
        "memories": [
            {"kind": "Preference", "text": "Zoe likes hiking", "confidence": 0.95, "source_ids": [999_999]},
            {"kind": "skill", "text": "Zoe speaks Portuguese",
             "triple": {"subject": "Zoe", "predicate": "speaks", "object": "Portuguese", "certainty": "high"}}
        ]
    });
    let server = FakeOpenAi::scripted(
        vec![
            submit_call(&loose),
            // rig's Extractor asks once more within an attempt when no `submit` call comes back.
            refusal.clone(),
            refusal,
            text_instead.clone(),
            text_instead,
        ],
        submit_call(&allergy_submission()),
    )
    .await?;
    let db = memori_tests::TestDb::create(memori_tests::Backend::Sqlite).await?.expect("sqlite always runs");
    let m = llm_memori(&db.url, &server, 1).await?;
    let scope = Scope::new("zoe", "bot", "s1")?;
    m.capture(&scope, vec![Message::user("I love hiking, and I speak Portuguese.").named("Zoe")]).await?;
    m.flush().await?;
    let mut memories = m.memories(&scope.entity, Validity::Current).await?;
    memories.retain(|x| x.kind != MemoryKind::Episode);
    memories.sort_by(|a, b| a.text.cmp(&b.text));
    let got: Vec<(&str, MemoryKind, f64, usize)> =
        memories.iter().map(|x| (x.text.as_str(), x.kind, x.importance, x.sources.len())).collect();
    assert_eq!(
        got,
        [("Zoe likes hiking", MemoryKind::Preference, 0.5, 1), ("Zoe speaks Portuguese", MemoryKind::Skill, 0.5, 1)],
        "defaults for what is missing, the window for an unknown id"
    );
    let graph = m.graph(&scope.entity, Validity::Current).await?;
    assert_eq!(graph.edge_count(), 1, "the triple without types still makes an edge");

    // A refusal, then text instead of a tool call: each fails its attempt with a clear error
    // and keeps the message; the job revives and succeeds once the model calls `submit`.
    m.capture(&scope, vec![Message::user("I'm allergic to peanuts.").named("Zoe")]).await?;
    m.flush().await?;
    let dead = m.jobs(Some(JobStatus::Dead), 10).await?;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let refused = dead[0].last_error.clone().unwrap_or_default();
    assert!(refused.contains("extraction model failed"), "{refused}");
    assert_eq!(m.retry_dead_jobs().await?, 1);
    m.flush().await?;
    let dead = m.jobs(Some(JobStatus::Dead), 10).await?;
    assert_eq!(dead.len(), 1, "text is not a `submit` call: {dead:?}");
    assert_eq!(m.retry_dead_jobs().await?, 1);
    m.flush().await?;
    assert_eq!(m.dead_jobs().await?, 0);
    let memories = m.memories(&scope.entity, Validity::Current).await?;
    assert!(memories.iter().any(|x| x.text == "Zoe is allergic to peanuts"), "{memories:?}");
    assert_eq!(m.message_count(&scope.entity).await?, 2, "nothing lost");
    assert_eq!(server.bodies.lock().unwrap().len(), 6);
    m.shutdown().await;
    db.drop_database().await
}

#[tokio::test]
async fn a_streamed_tool_call_split_across_chunks_is_captured_whole() -> anyhow::Result<()> {
    use memori_tests::openai::chunk;
    use serde_json::json;
    let (db, memori) = sqlite_memori().await?;
    let scope = Scope::new("tia", "bot", "s1")?;
    memori.capture(&scope, vec![memori_rig::Message::user("My favourite fruit is mango")]).await?;
    memori.flush().await?;
    let call = |args: &str| json!({"tool_calls": [{"index": 0, "function": {"arguments": args}}]});
    let usage = json!({"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                       "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}});
    let server = FakeOpenAi::scripted(
        vec![
            Reply::Stream(vec![
                chunk(&json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [{"index": 0,
                    "id": "call_S1", "type": "function", "function": {"name": "search_vector_store", "arguments": ""}}]}), None),
                chunk(&call("{\"query\": \"fr"), None),
                chunk(&call("uit\", \"sam"), None),
                chunk(&call("ples\": 2}"), None),
                chunk(&json!({}), Some("tool_calls")),
                usage.clone(),
            ]),
            Reply::Stream(vec![
                chunk(&json!({"role": "assistant", "content": ""}), None),
                chunk(&json!({"content": "You like "}), None),
                chunk(&json!({"content": "mango."}), None),
                chunk(&json!({}), Some("stop")),
                usage,
            ]),
        ],
        Reply::Status(500),
    )
    .await?;
    let model = OpenAIConfig::new("test-key").with_base_url(server.base_url.clone()).client().chat("gpt-4o-mini");
    let agent = AgentBuilder::new(model).preamble("You are a fruit assistant.").tool(memori.index(&scope)).build();
    let mut stream = agent.prompt("Which fruit do I like?").max_turns(3).add_hook(memori.hook(&scope)).stream();
    use futures::StreamExt;
    while let Some(item) = stream.next().await {
        item?;
    }
    memori.flush().await?;
    let bodies = server.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one tool call, then the answer");
    assert_eq!(bodies[0]["stream"], true);
    // 1 earlier + user, assistant (tool call), tool result, assistant.
    assert_eq!(memori.message_count(&scope.entity).await?, 5);
    let transcript = memori.transcript(&scope.entity, "s1").await?;
    let calls: Vec<(&str, &serde_json::Value)> = transcript
        .iter()
        .flat_map(|m| &m.parts)
        .filter_map(|p| match p {
            memori_rig::Part::ToolCall { name, arguments, .. } => Some((name.as_str(), arguments)),
            _ => None,
        })
        .collect();
    assert_eq!(calls, [("search_vector_store", &json!({"query": "fruit", "samples": 2}))], "arguments joined once");
    let answers = transcript.iter().filter(|m| m.text == "You like mango.").count();
    assert_eq!(answers, 1, "the streamed answer, captured once: {transcript:?}");
    memori.shutdown().await;
    db.drop_database().await
}
