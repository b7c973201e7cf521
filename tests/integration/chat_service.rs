//! The `axum_chat` example, run as a service runs it: its own router on a loopback port, rig's
//! OpenAI client against the loopback OpenAI server, several users talking at once. Each user
//! gets their reply streamed as server-sent events, recalls only their own memories, and
//! their exchanges are stored under their own id; shutdown leaves nothing waiting.

#[allow(dead_code)]
#[path = "../../examples/axum_chat.rs"]
mod example;

use memori_tests::openai::{FakeOpenAi, Reply, chunk, texts_of};
use rig_agent::AgentBuilder;
use rig_core::providers::openai::OpenAIConfig;
use serde_json::json;

/// One secret per user; the fake model says which of them its system prompt holds.
const USERS: [(&str, &str); 4] = [("ana", "zephyr"), ("ben", "quokka"), ("cleo", "marimba"), ("dev", "obsidian")];

async fn say(base: &str, user: Option<&str>, message: &str) -> anyhow::Result<(u16, Vec<String>)> {
    let mut req = reqwest::Client::new().post(format!("{base}/chat")).json(&json!({ "message": message }));
    if let Some(u) = user {
        req = req.header("x-user-id", u).header("x-session-id", "web");
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let body = res.text().await?;
    // Server-sent events: blank-line separated, `event:` (optional) and `data:` lines.
    let events = body
        .split("\n\n")
        .filter(|e| !e.trim().is_empty() && !e.starts_with(':'))
        .map(|e| {
            let kind = e.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("message");
            let data: Vec<&str> =
                e.lines().filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:"))).collect();
            format!("{kind}:{}", data.join("\n"))
        })
        .collect();
    Ok((status, events))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chat_example_streams_replies_and_keeps_each_users_memory_apart() -> anyhow::Result<()> {
    let (db, memori) = super::sqlite_memori().await?;
    let server = FakeOpenAi::unrecorded(|body| {
        let system = texts_of(body, "system").join("\n");
        let known: Vec<&str> = USERS.iter().map(|u| u.1).filter(|w| system.contains(w)).collect();
        let said = if known.is_empty() { "nothing yet".to_owned() } else { known.join(",") };
        Reply::Stream(vec![
            chunk(&json!({"role": "assistant", "content": ""}), None),
            chunk(&json!({"content": "I remember: "}), None),
            chunk(&json!({ "content": said }), None),
            chunk(&json!({}), Some("stop")),
        ])
    })
    .await?;
    let model = OpenAIConfig::new("test-key").with_base_url(server.base_url.clone()).client().chat("gpt-4o-mini");
    let agent = AgentBuilder::new(model).preamble("You chat.").build();
    let app = example::app(example::Chat { agent, memori: memori.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let service = tokio::spawn(async move { axum::serve(listener, app).await });

    let (status, _) = say(&base, None, "hello").await?;
    assert_eq!(status, 401, "no user, no memory");

    // Everyone tells their secret at once; the replies stream in fragments.
    let tell = USERS.map(|(user, word)| {
        let base = base.clone();
        tokio::spawn(async move { say(&base, Some(user), &format!("Remember this: my secret word is {word}.")).await })
    });
    for (handle, (user, _)) in tell.into_iter().zip(USERS) {
        let (status, events) = handle.await??;
        assert_eq!(status, 200, "{user}");
        assert_eq!(events, ["message:I remember: ", "message:nothing yet", "done:"], "{user}: streamed, then done");
    }
    memori.flush().await?;

    // Then everyone asks at once: each recalls their own secret and nobody else's.
    let ask = USERS.map(|(user, _)| {
        let base = base.clone();
        tokio::spawn(async move { say(&base, Some(user), "What is my secret word?").await })
    });
    for (handle, (user, word)) in ask.into_iter().zip(USERS) {
        let (status, events) = handle.await??;
        assert_eq!(status, 200);
        assert_eq!(events, ["message:I remember: ", format!("message:{word}").as_str(), "done:"], "{user}");
    }

    example::shutdown(&memori, std::time::Duration::from_secs(30)).await;
    for (user, word) in USERS {
        let transcript = memori.transcript(&memori_rig::EntityId::new(user)?, "web").await?;
        assert_eq!(transcript.len(), 4, "{user}: two exchanges, each stored once: {transcript:?}");
        let said: String = transcript.iter().map(|m| m.text.as_str()).collect();
        assert!(said.contains(word), "{user}");
        for (other, other_word) in USERS.iter().filter(|u| u.0 != user) {
            assert!(!said.contains(other_word), "{other}'s secret is in {user}'s transcript");
        }
    }
    assert_eq!(memori.overview().await?.jobs.pending, 0, "shutdown waited for augmentation");
    service.abort();
    db.drop_database().await
}
