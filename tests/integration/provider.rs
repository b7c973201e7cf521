//! Provider level: a rig agent over rig's real OpenAI chat wire, talking to a loopback HTTP
//! server that speaks the OpenAI chat-completions API and records what it receives.

use std::sync::{Arc, Mutex};

use memori_rig::Scope;
use rig_agent::AgentBuilder;
use rig_core::providers::openai::OpenAIConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::sqlite_memori;

/// Serve canned chat completions on 127.0.0.1; returns the base URL and the request bodies.
async fn fake_openai(replies: Vec<&'static str>) -> anyhow::Result<(String, Arc<Mutex<Vec<serde_json::Value>>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    tokio::spawn(async move {
        for reply in replies {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let body = loop {
                let mut chunk = [0u8; 8192];
                let Ok(n) = socket.read(&mut chunk).await else { return };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    assert!(head.starts_with("post /v1/chat/completions"), "unexpected request: {head}");
                    break buf[end + 4..end + 4 + len].to_vec();
                }
            };
            seen.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or_default());
            let json = serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            })
            .to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                json.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    Ok((format!("http://{addr}/v1"), bodies))
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
