//! Load: many concurrent rig agent runs with memory, through `memori.hook(..)`, against a
//! loopback server speaking the OpenAI chat-completions API (rig's real OpenAI client).
//!
//! Each task is its own end user (entity) with a code word; it runs `--turns` agent calls in one
//! session. The server checks every system prompt it receives for other users' code words.
//! Afterwards every entity must hold exactly its 2 × turns messages. Prints the hook's recall
//! and capture time per call (p50/p99), the call time, throughput and augmentation lag.
//!
//! ```text
//! cargo run --release -p memori-examples --example load -- [--tasks 200] [--turns 20]
//!     [--database-url postgres://postgres@127.0.0.1:5432/memori_load] [--hash-embedder]
//!     [--model-delay 300-1500] [--workers 2] [--capture background|inline] [--query-budget 250]
//!     [--embedder-threads 0] [--ramp-ms 1000]
//! ```
//! `--model-delay MIN-MAX` makes the model server answer after a delay drawn between MIN and
//! MAX milliseconds, as a real provider does; recall timeouts are reported. `--ramp-ms` spreads
//! the users' first calls over that many milliseconds (0: all in the same instant).
//! Without `--database-url`, a fresh SQLite file in the temp directory. The default embedder is
//! the local MiniLM model (`memori setup`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memori_rig::embed::HashEmbedder;
use memori_rig::{EntityId, Memori, Scope};
use memori_tests::openai::{FakeOpenAi, Reply, texts_of};
use rig_agent::AgentBuilder;
use rig_agent::agent::{
    AgentHook, CompletionCallAction, CompletionCallEvent, DispatchAction, DispatchEvent, HookContext, RunSettled,
};
use rig_core::providers::openai::OpenAIConfig;

#[derive(Default)]
struct Timings {
    recall: Mutex<Vec<Duration>>,
    /// Recall on each user's first call, when every user starts at once.
    first_recall: Mutex<Vec<Duration>>,
    capture: Mutex<Vec<Duration>>,
    call: Mutex<Vec<Duration>>,
}

/// Delegates to the memory hook and times its two phases.
struct Timed<H> {
    inner: H,
    timings: Arc<Timings>,
    first: bool,
}

impl<H: AgentHook> AgentHook for Timed<H> {
    fn name(&self) -> Option<String> {
        self.inner.name()
    }

    async fn on_completion_call(&self, ctx: &HookContext, ev: CompletionCallEvent<'_>) -> CompletionCallAction {
        let started = Instant::now();
        let action = self.inner.on_completion_call(ctx, ev).await;
        let samples = if self.first { &self.timings.first_recall } else { &self.timings.recall };
        samples.lock().expect("timings").push(started.elapsed());
        action
    }

    async fn on_dispatch(&self, ctx: &HookContext, ev: DispatchEvent<'_>) -> DispatchAction {
        self.inner.on_dispatch(ctx, ev).await
    }

    async fn on_run_settled(&self, ctx: &HookContext, ev: RunSettled<'_>) {
        let started = Instant::now();
        self.inner.on_run_settled(ctx, ev).await;
        self.timings.capture.lock().expect("timings").push(started.elapsed());
    }
}

fn code_word(task: usize) -> String {
    // Letters only: one lexical term per user.
    let mut n = task;
    let mut word = String::from("zq");
    for _ in 0..4 {
        word.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    word
}

/// The loopback OpenAI server: answers every chat completion at once and counts system prompts
/// that hold a code word other than the asking user's.
async fn serve(
    tasks: usize,
    delay: (u64, u64),
    leaks: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
) -> anyhow::Result<FakeOpenAi> {
    let words: Vec<String> = (0..tasks).map(code_word).collect();
    let seed = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    FakeOpenAi::unrecorded(move |body| {
        requests.fetch_add(1, Ordering::Relaxed);
        let system = texts_of(body, "system").concat();
        let user = texts_of(body, "user").pop().unwrap_or_default();
        let own = words.iter().find(|w| user.contains(w.as_str()));
        if words.iter().any(|w| Some(w) != own && system.contains(w.as_str())) {
            leaks.fetch_add(1, Ordering::Relaxed);
        }
        let r = seed.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 11;
        let ms = delay.0 + r % (delay.1 - delay.0 + 1);
        if ms == 0 {
            Reply::text("Noted.")
        } else {
            Reply::Slow(Duration::from_millis(ms), Box::new(Reply::text("Noted.")))
        }
    })
    .await
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, samples: &Mutex<Vec<Duration>>) {
    let mut s = samples.lock().expect("timings").clone();
    s.sort();
    println!(
        "{name:<28} n={:<6} p50 {:>8.2} ms   p99 {:>8.2} ms   max {:>8.2} ms",
        s.len(),
        percentile(&s, 0.5),
        percentile(&s, 0.99),
        percentile(&s, 1.0)
    );
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let tasks: usize = arg(&args, "--tasks", 200);
    let turns: usize = arg(&args, "--turns", 20);
    let sqlite = std::env::temp_dir().join(format!("memori-load-{}.db", std::process::id()));
    let url: String = arg(&args, "--database-url", format!("sqlite://{}?mode=rwc", sqlite.display()));
    let workers: usize = arg(&args, "--workers", 2);
    let delay: String = arg(&args, "--model-delay", "0-0".to_owned());
    let delay = delay
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .filter(|(a, b)| a <= b)
        .ok_or_else(|| anyhow::anyhow!("--model-delay takes MIN-MAX in milliseconds"))?;
    let capture = match arg(&args, "--capture", "background".to_owned()).as_str() {
        "background" => memori_rig::CaptureMode::Background,
        "inline" => memori_rig::CaptureMode::Inline,
        other => anyhow::bail!("--capture {other:?} is not background or inline"),
    };
    let budget = Duration::from_millis(arg(&args, "--query-budget", 250));
    let threads: usize = arg(&args, "--embedder-threads", 0);
    let ramp: u64 = arg(&args, "--ramp-ms", 1000);
    let mut builder = Memori::builder().database_url(&url).configure(|c| {
        c.embedder_threads = threads;
        c.workers = workers;
        c.capture = capture;
        c.query_embedding_budget = budget;
    });
    if args.iter().any(|a| a == "--hash-embedder") {
        builder = builder.embedder(HashEmbedder::default());
    }
    let memori = builder.build().await?;
    println!(
        "memori load: {tasks} tasks x {turns} turns on {}, model delay {}-{} ms, {workers} workers, {capture:?} capture",
        memori_rig::redact_url(&url),
        delay.0,
        delay.1
    );

    let (leaks, requests) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let server = serve(tasks, delay, Arc::clone(&leaks), Arc::clone(&requests)).await?;
    let model = OpenAIConfig::new("load-key").with_base_url(server.base_url.clone()).client().chat("gpt-4o-mini");
    let timings = Arc::new(Timings::default());

    let started = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let (memori, model, timings) = (memori.clone(), model.clone(), Arc::clone(&timings));
        let start = Duration::from_millis(ramp * task as u64 / tasks.max(1) as u64);
        runs.spawn(async move {
            tokio::time::sleep(start).await;
            let agent = AgentBuilder::new(model).preamble("You are a helpful assistant.").build();
            let scope = Scope::new(format!("load-user-{task}"), "load-bot", "session-1")?;
            let word = code_word(task);
            for turn in 0..turns {
                let hook = Timed { inner: memori.hook(&scope), timings: Arc::clone(&timings), first: turn == 0 };
                let prompt = format!("My code word is {word}; note {turn}: I bought {turn} apples at the market");
                let call = Instant::now();
                agent.prompt(prompt).add_hook(hook).await?;
                timings.call.lock().expect("timings").push(call.elapsed());
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = runs.join_next().await {
        r??;
    }
    let load_time = started.elapsed();
    let drain_started = Instant::now();
    memori.flush_timeout(Duration::from_secs(3600)).await?;
    let drain = drain_started.elapsed();

    let mut wrong = 0;
    for task in 0..tasks {
        let n = memori.message_count(&EntityId::new(format!("load-user-{task}"))?).await?;
        if n != 2 * turns as u64 {
            wrong += 1;
            eprintln!("load-user-{task}: {n} messages, expected {}", 2 * turns);
        }
    }
    let mut lag: Vec<Duration> = memori
        .jobs(Some(memori_rig::JobStatus::Done), (tasks * turns * 2) as u64)
        .await?
        .iter()
        .map(|j| (j.updated_at - j.created_at).to_std().unwrap_or_default())
        .collect();
    lag.sort();

    let calls = tasks * turns;
    println!(
        "agent calls                  {calls} in {:.1} s = {:.0} calls/s",
        load_time.as_secs_f64(),
        calls as f64 / load_time.as_secs_f64()
    );
    let all = Mutex::new(
        timings
            .first_recall
            .lock()
            .expect("timings")
            .iter()
            .chain(timings.recall.lock().expect("timings").iter())
            .copied()
            .collect(),
    );
    report("hook recall, every call", &all);
    report("hook recall, first call", &timings.first_recall);
    report("hook recall, later calls", &timings.recall);
    report("hook capture per call", &timings.capture);
    report("whole agent call", &timings.call);
    println!(
        "augmentation lag (job)       n={:<6} p50 {:>8.2} ms   p99 {:>8.2} ms   queue drained {:.1} s after the load",
        lag.len(),
        percentile(&lag, 0.5),
        percentile(&lag, 0.99),
        drain.as_secs_f64()
    );
    let snapshot = memori.metrics().snapshot();
    println!(
        "recall timeouts or failures  {}; recalls without the query vector (model busy) {}",
        snapshot.recall_failures, snapshot.recall_vector_skipped
    );
    let metrics = serde_json::to_string(&snapshot)?;
    println!("metrics                      {metrics}");
    println!(
        "checks                       requests={} entities with wrong message counts={wrong} prompts holding another user's words={} dead jobs={}",
        requests.load(Ordering::Relaxed),
        leaks.load(Ordering::Relaxed),
        memori.dead_jobs().await?
    );
    memori.shutdown().await;
    let _ = std::fs::remove_file(&sqlite);
    anyhow::ensure!(wrong == 0 && leaks.load(Ordering::Relaxed) == 0, "lost, doubled or leaked data");
    Ok(())
}
