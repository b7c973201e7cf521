//! A multi-user chat service over HTTP with long-term memory: the shape most services have.
//!
//! - `POST /chat` with `{"message": "..."}` answers with the model's reply as server-sent
//!   events: one `data:` event per text fragment as the model streams it, then `event: done`
//!   (or `event: error` with the reason).
//! - The user is taken from the request, never from the body: here the `X-User-Id` header,
//!   which in production your authentication layer (a gateway, a session or a JWT middleware)
//!   sets after checking the caller. `X-Session-Id` names the thread (default `default`).
//! - Each request gets its own [`Scope`] and its own memory hook: memories of that user only
//!   are recalled into the system prompt, and the exchange is captured for that user only.
//! - On Ctrl-C or SIGTERM the server stops taking requests, then waits for captures and
//!   background augmentation to finish before it exits, so nothing said is lost.
//!
//! Configuration, from the environment:
//! - `OPENAI_API_KEY` and optionally `OPENAI_BASE_URL`: any OpenAI-compatible endpoint (a local
//!   model server, a gateway); `CHAT_MODEL` (default `gpt-4o-mini`).
//! - `MEMORI_DATABASE_URL` (default `sqlite://chat.db?mode=rwc`), `BIND` (default
//!   `127.0.0.1:3000`). The local embedding model comes from `memori setup` (once).
//!
//! ```text
//! cargo run -p memori-examples --example axum_chat
//! curl -N -H 'X-User-Id: alice' -H 'Content-Type: application/json' \
//!      -d '{"message": "I am allergic to peanuts"}' http://127.0.0.1:3000/chat
//! ```
//!
//! The tests run this file's [`app`] against a loopback OpenAI server with concurrent users.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::post;
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use memori_rig::{Memori, Scope};
use rig_agent::agent::MultiTurnStreamItem;
use rig_agent::{Agent, AgentBuilder};
use rig_core::providers::openai::OpenAIConfig;
use rig_core::streaming::{Item, StreamEvent};

/// What every request handler shares: one agent (cheap to clone, no per-user state) and
/// one memory.
#[derive(Clone)]
pub(crate) struct Chat {
    pub(crate) agent: Agent,
    pub(crate) memori: Memori,
}

#[derive(serde::Deserialize)]
pub(crate) struct ChatRequest {
    message: String,
}

/// The service's routes.
pub(crate) fn app(chat: Chat) -> Router {
    Router::new().route("/chat", post(chat_reply)).with_state(chat)
}

/// The memory scope of a request: user from `X-User-Id`, thread from `X-Session-Id`.
fn scope_of(headers: &HeaderMap) -> Result<Scope, (StatusCode, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let user = header("x-user-id")
        .filter(|u| !u.is_empty())
        .ok_or((StatusCode::UNAUTHORIZED, "no X-User-Id: who is asking?".to_owned()))?;
    let session = header("x-session-id").filter(|s| !s.is_empty()).unwrap_or("default");
    Scope::new(user, "chat-service", session).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

/// `POST /chat`: the reply, streamed as it is generated, with this user's memories recalled
/// before each model call and the exchange captured after it.
async fn chat_reply(
    State(chat): State<Chat>,
    headers: HeaderMap,
    Json(req): Json<ChatRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, (StatusCode, String)> {
    let scope = scope_of(&headers)?;
    let run = chat.agent.prompt(req.message).max_turns(4).add_hook(chat.memori.hook(&scope)).stream();
    let events = run.filter_map(|item| async move {
        match item {
            Ok(MultiTurnStreamItem::StreamAssistantItem(Item::Event(StreamEvent::Text { text, .. }))) => {
                Some(Ok(Event::default().data(text)))
            }
            Ok(MultiTurnStreamItem::FinalResponse(_)) => Some(Ok(Event::default().event("done").data(""))),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the model call failed");
                Some(Ok(Event::default().event("error").data("the model call failed")))
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Stop: wait (at most `grace`) for captures and background augmentation, then stop the
/// memory's workers.
pub(crate) async fn shutdown(memori: &Memori, grace: Duration) {
    if let Err(e) = memori.flush_timeout(grace).await {
        tracing::warn!(error = %e, "augmentation did not finish; the queue keeps it for the next start");
    }
    memori.shutdown().await;
}

#[allow(dead_code)] // the tests include this file as a module and call `app` instead
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let url = std::env::var("MEMORI_DATABASE_URL").unwrap_or_else(|_| "sqlite://chat.db?mode=rwc".into());
    let memori = Memori::builder().database_url(&url).build().await?;
    let config = OpenAIConfig::from_env().map_err(|e| anyhow::anyhow!("OPENAI_API_KEY: {e}"))?;
    let model = config.client().chat(std::env::var("CHAT_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into()));
    let agent = AgentBuilder::new(model).preamble("You are a helpful assistant. Be brief.").build();
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("chat service on http://{bind}/chat (Ctrl-C stops)");
    axum::serve(listener, app(Chat { agent, memori: memori.clone() }))
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    shutdown(&memori, Duration::from_secs(60)).await;
    Ok(())
}
