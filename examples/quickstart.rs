//! Quickstart: long-term memory for a rig agent, end to end and offline.
//!
//! 1. Import an earlier conversation (`examples/data/sample.jsonl`) into an embedded SQLite
//!    database; the background worker embeds it with the local MiniLM model.
//! 2. Run a rig agent in a *new* session of the same user, with `memori.hook(&scope)`.
//!    The model here is rig's scripted mock (no API key, no network); the request it
//!    receives is printed, with the memories memori injected into its system prompt.
//! 3. Recall directly, with each score's explanation.
//!
//! Run with `cargo xtask demo` (which runs `memori setup` first), or after setup:
//! `cargo run -p memori-examples --example quickstart [-- path/to/memori.db]`.
//! Then look inside with `memori --database-url sqlite://<path>?mode=rwc recall --entity maya "..."`.

use memori_rig::import::{import_conversation, read_file};
use memori_rig::{Memori, Scope};
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/memori-demo.db".into());
    let url = format!("sqlite://{path}?mode=rwc");

    // The default embedder is the local all-MiniLM-L6-v2 model fetched by `memori setup`.
    let memori = Memori::builder().database_url(&url).build().await?;

    // 1. Capture: an imported history, with the real dates it was said.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
    for conversation in read_file(&sample)? {
        let receipt = import_conversation(&memori, &conversation, "onboarding-bot").await?;
        println!(
            "imported {} messages for {:?} ({} already stored)",
            receipt.stored, conversation.id, receipt.duplicates
        );
    }
    memori.flush().await?; // augmentation runs in the background; wait for it here

    // 2. A rig agent in a new session. Swap the mock for any rig model, e.g.
    //    `OpenAIConfig::from_env().client().chat("gpt-4o-mini")`.
    let model =
        MockCompletionModel::from_turns([MockTurn::text("How about Time Out Market? Skip the seafood stalls.")]);
    let agent = AgentBuilder::new(model.clone()).preamble("You are Maya's travel assistant.").build();
    let scope = Scope::new("maya", "travel-bot", "2026-06-30-dinner")?;
    let prompt = "Where should I eat on my trip next month?";
    let reply = agent.prompt(prompt).add_hook(memori.hook(&scope)).await?;

    let request = &model.requests()[0];
    println!("\n=== the system prompt the model received for {prompt:?} ===");
    println!("{}", request.system_instructions().unwrap_or_default());
    println!("=== reply: {} ===", reply.output());

    // 3. Recall directly: every score explains itself.
    println!("\n=== recall: \"what can't I eat?\" ===");
    for r in memori.recall(&scope, "what can't I eat?").await?.iter().take(3) {
        println!("{:.4}  {}", r.score, r.memory.text);
        for line in r.explanation.render().lines().skip(1) {
            println!("        {line}");
        }
    }

    memori.flush().await?; // the new exchange was captured too
    println!("\nmessages stored for maya: {} (database: {path})", memori.message_count(&scope.entity).await?);
    memori.shutdown().await;
    Ok(())
}
