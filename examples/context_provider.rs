//! Memory as rig context instead of a hook: `dynamic_context(k, memori.index(&scope))` puts
//! the `k` best memories of the user into each request as documents, and the same index is a
//! tool the model can call to look things up itself. Neither captures the exchange; add
//! `memori.hook(&scope)` (or call `memori.capture`) for that.
//!
//! Offline: the model is rig's scripted mock. Needs the local embedding model once (`memori
//! setup`, or `cargo xtask setup`).
//!
//! `cargo run -p memori-examples --example context_provider [-- path/to/memori.db]`

use memori_rig::{Memori, Message, Scope};
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/memori-context.db".into());
    let memori = Memori::builder().database_url(format!("sqlite://{path}?mode=rwc")).build().await?;
    let scope = Scope::new("ines", "garden-bot", "2026-11-30")?;
    memori
        .capture(
            &scope,
            vec![
                Message::user("My balcony faces north and gets no direct sun."),
                Message::user("I grow basil and mint, and my cat chews on plants."),
                Message::user("I am going to Japan in April."),
            ],
        )
        .await?;
    memori.flush().await?;

    // 1. Dynamic context: the two memories closest to each prompt travel as documents.
    let model = MockCompletionModel::from_turns([MockTurn::text("Try parsley: it copes with shade.")]);
    let agent = AgentBuilder::new(model.clone())
        .preamble("You are a gardening assistant.")
        .dynamic_context(2, memori.index(&scope))
        .build();
    let reply = agent.prompt("Which herb should I add to my shady balcony?").await?;
    println!("reply: {}", reply.output());
    for doc in &model.requests()[0].documents {
        println!("  document {}: {}", doc.id, doc.text);
    }

    // 2. The index as a tool: the model decides to search the user's memories.
    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call("call_1", "search_vector_store", serde_json::json!({"query": "pets", "samples": 1})),
        MockTurn::text("Pick cat-safe plants: your cat chews on them."),
    ]);
    let agent =
        AgentBuilder::new(model.clone()).preamble("You are a gardening assistant.").tool(memori.index(&scope)).build();
    let reply = agent.prompt("Any plant I should avoid?").max_turns(3).await?;
    println!("\nreply after a memory search: {}", reply.output());
    let asked = model.requests();
    if let Some(last) = asked.last() {
        let history = serde_json::to_string(&last.chat_history)?;
        println!("  the tool's answer reached the model: {}", history.contains("cat chews"));
    }
    memori.shutdown().await;
    Ok(())
}
