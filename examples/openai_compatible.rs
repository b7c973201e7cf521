//! Any OpenAI-compatible endpoint (a local model server such as Ollama, vLLM or llama.cpp, or
//! a gateway) for both the agent and the memory extractor, configured from the environment.
//!
//! - `OPENAI_BASE_URL`: the endpoint, for example `http://127.0.0.1:11434/v1` (Ollama);
//!   default OpenAI's own.
//! - `OPENAI_API_KEY`: the key (any text for a local server that checks none).
//! - `CHAT_MODEL`: the agent's model (default `gpt-4o-mini`); `EXTRACT_MODEL`: the model that
//!   turns conversations into memories (default: `CHAT_MODEL`). Both speak the chat
//!   completions route (`/chat/completions`), which compatible servers implement.
//! - `MEMORI_DATABASE_URL` (default `sqlite://memori-openai.db?mode=rwc`).
//!
//! Extraction runs in the background through `LlmExtractor` (rig's `Extractor`, with
//! `memori_rig::rig::PROMPT`); a model that returns no structured output leaves a dead letter
//! (`memori jobs list --status dead`), never a failed agent call.
//!
//! `cargo run -p memori-examples --example openai_compatible -- "I moved to Porto last month"`

use memori_rig::rig::LlmExtractor;
use memori_rig::{Memori, Scope, Validity};
use rig_agent::AgentBuilder;
use rig_core::providers::openai::OpenAIConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let said = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let said = if said.is_empty() { "I moved to Porto last month and I'm vegetarian.".to_owned() } else { said };
    let config =
        OpenAIConfig::from_env().map_err(|e| anyhow::anyhow!("set OPENAI_API_KEY (and OPENAI_BASE_URL): {e}"))?;
    let client = config.client();
    let chat_model = std::env::var("CHAT_MODEL").unwrap_or_else(|_| "gpt-4o-mini".into());
    let extract_model = std::env::var("EXTRACT_MODEL").unwrap_or_else(|_| chat_model.clone());

    let url = std::env::var("MEMORI_DATABASE_URL").unwrap_or_else(|_| "sqlite://memori-openai.db?mode=rwc".into());
    let memori =
        Memori::builder().database_url(&url).extractor(LlmExtractor::new(client.chat(extract_model))).build().await?;

    let agent = AgentBuilder::new(client.chat(chat_model)).preamble("You are a helpful assistant. Be brief.").build();
    let scope = Scope::new("demo-user", "openai-compatible", "s1")?;
    let reply = agent.prompt(said.as_str()).add_hook(memori.hook(&scope)).await?;
    println!("reply: {}", reply.output());

    memori.flush().await?; // the extractor model runs in the background; wait for it here
    println!("memories of {:?}:", scope.entity.as_str());
    for m in memori.memories(&scope.entity, Validity::Current).await? {
        println!("  [{}] {}", m.kind.as_str(), m.text);
    }
    let dead = memori.dead_jobs().await?;
    if dead > 0 {
        eprintln!("{dead} extraction job(s) failed; see `memori jobs list --status dead`");
    }
    memori.shutdown().await;
    Ok(())
}
