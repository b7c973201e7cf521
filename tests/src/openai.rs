//! A loopback server speaking the OpenAI chat-completions API, for provider-level tests and
//! the load example: rig's real OpenAI client talks to it over HTTP. It records request
//! bodies, answers from a script or a function of the request, and injects faults (error
//! statuses, malformed bodies and tool arguments, slow replies).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A chat completion with this assistant text.
    Text(String),
    /// A chat completion that calls the `submit` tool with these arguments.
    Submit(Value),
    /// A `submit` call whose arguments are not JSON.
    BadArguments,
    /// An error status with an OpenAI error body.
    Status(u16),
    /// A 200 whose body is not JSON.
    Garbage,
    /// The reply, after a delay.
    Slow(Duration, Box<Reply>),
    /// A 200 with exactly this chat-completion body (a provider's own shape).
    Raw(Value),
    /// A streamed reply: these `chat.completion.chunk` bodies as server-sent events, then
    /// `data: [DONE]`.
    Stream(Vec<Value>),
}

impl Reply {
    /// A text reply.
    pub fn text(t: impl Into<String>) -> Self {
        Reply::Text(t.into())
    }

    fn render(&self) -> (u16, String) {
        let completion = |message: Value, finish: &str| {
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            })
            .to_string()
        };
        let call = |arguments: String| {
            completion(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "submit", "arguments": arguments}}
                ]}),
                "tool_calls",
            )
        };
        match self {
            Reply::Text(t) => (200, completion(json!({"role": "assistant", "content": t}), "stop")),
            Reply::Submit(args) => (200, call(args.to_string())),
            Reply::BadArguments => (200, call("{\"memories\": [{\"kind\": ".into())),
            Reply::Status(code) => {
                (*code, json!({"error": {"message": format!("injected {code}"), "type": "server_error"}}).to_string())
            }
            Reply::Garbage => (200, "<html>502 Bad Gateway</html>{".into()),
            Reply::Slow(_, inner) => inner.render(),
            Reply::Raw(body) => (200, body.to_string()),
            Reply::Stream(chunks) => {
                let mut events: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
                events.push_str("data: [DONE]\n\n");
                (200, events)
            }
        }
    }

    fn content_type(&self) -> &'static str {
        match self {
            Reply::Stream(_) => "text/event-stream",
            Reply::Slow(_, inner) => inner.content_type(),
            _ => "application/json",
        }
    }
}

/// One streamed chunk with this `delta` (and `finish_reason`, on the last).
pub fn chunk(delta: &Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "system_fingerprint": "fp_1", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
    })
}

type Responder = dyn Fn(&Value) -> Reply + Send + Sync;

/// The running server. It stops when the test's runtime does.
pub struct FakeOpenAi {
    /// The base URL to give rig's OpenAI client (`http://127.0.0.1:PORT/v1`).
    pub base_url: String,
    /// Every request body received, in order (unless started with [`FakeOpenAi::unrecorded`]).
    pub bodies: Arc<Mutex<Vec<Value>>>,
    then: Arc<Mutex<Reply>>,
}

impl FakeOpenAi {
    /// Answer requests with `script` in order, then with `then` (see [`FakeOpenAi::set_then`]).
    pub async fn scripted(script: Vec<Reply>, then: Reply) -> anyhow::Result<Self> {
        let then = Arc::new(Mutex::new(then));
        let script = Mutex::new(VecDeque::from(script));
        let fallback = Arc::clone(&then);
        let responder = move |_: &Value| {
            script.lock().expect("script").pop_front().unwrap_or_else(|| fallback.lock().expect("then").clone())
        };
        Self::start(Arc::new(responder), then, true).await
    }

    /// Answer each request with `f(body)`, recording nothing (for long runs).
    pub async fn unrecorded(f: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> anyhow::Result<Self> {
        Self::start(Arc::new(f), Arc::new(Mutex::new(Reply::Status(500))), false).await
    }

    /// What to answer once the script is used up.
    pub fn set_then(&self, reply: Reply) {
        *self.then.lock().expect("then") = reply;
    }

    async fn start(responder: Arc<Responder>, then: Arc<Mutex<Reply>>, record: bool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (seen, responder) = (Arc::clone(&seen), Arc::clone(&responder));
                // One task per connection: a slow reply must not hold up the client's next attempt.
                tokio::spawn(async move {
                    let Some((mut socket, body)) = read_request(socket).await else { return };
                    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let reply = responder(&body);
                    if record {
                        seen.lock().expect("bodies").push(body);
                    }
                    if let Reply::Slow(d, _) = &reply {
                        tokio::time::sleep(*d).await;
                    }
                    let (code, json) = reply.render();
                    let response = format!(
                        "HTTP/1.1 {code} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                        reply.content_type(),
                        json.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(Self { base_url: format!("http://{addr}/v1"), bodies, then })
    }
}

/// Read one HTTP request; returns the socket and the body.
async fn read_request(mut socket: TcpStream) -> Option<(TcpStream, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 16384];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
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
            let body = buf[end + 4..end + 4 + len].to_vec();
            return Some((socket, body));
        }
    }
}

/// The text of every message with `role` in a chat-completions request body.
pub fn texts_of(body: &Value, role: &str) -> Vec<String> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == role)
        .map(|m| m["content"].as_str().map_or_else(|| m["content"].to_string(), str::to_owned))
        .collect()
}
