//! A tool-calling agent with memory: the memory block is in the system prompt of *every*
//! model call of the tool loop, and the tool call and its result are captured with the
//! exchange, so the dashboard's transcript shows them.
//!
//! Offline: the model is rig's scripted mock (it asks for the `weather` tool, then answers).
//! Swap it for any rig model; nothing else changes. Needs the local embedding model once
//! (`memori setup`, or `cargo xtask setup`).
//!
//! `cargo run -p memori-examples --example tools_agent [-- path/to/memori.db]`

use std::convert::Infallible;

use memori_rig::{Memori, Message, Scope};
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};
use rig_core::tool::PortableTool;

/// A tool the agent may call: today's weather in a city (made up, offline).
struct Weather;

#[derive(serde::Deserialize)]
struct WeatherArgs {
    city: String,
}

impl PortableTool for Weather {
    const NAME: &'static str = "weather";
    type Args = WeatherArgs;
    type Output = String;
    type Error = Infallible;

    fn description(&self) -> String {
        "Today's weather in a city".into()
    }

    fn parameters(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"]
        })
    }

    async fn call(&self, args: WeatherArgs) -> Result<String, Infallible> {
        Ok(format!("Rain all day in {}, 14 °C", args.city))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/memori-tools.db".into());
    let memori = Memori::builder().database_url(format!("sqlite://{path}?mode=rwc")).build().await?;

    // Something said in an earlier conversation.
    let earlier = Scope::new("rui", "weather-bot", "2026-11-01")?;
    memori.capture(&earlier, vec![Message::user("I live in Porto and I cycle to work.")]).await?;
    memori.flush().await?;

    // Today: the model calls the tool, then answers. Both calls get the memories.
    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call("call_1", "weather", serde_json::json!({"city": "Porto"})),
        MockTurn::text("It rains all day in Porto: take the bus, or a rain jacket for the bike."),
    ]);
    let agent = AgentBuilder::new(model.clone()).preamble("You are a weather assistant.").tool(Weather).build();
    let scope = Scope::new("rui", "weather-bot", "2026-11-30")?;
    let reply = agent.prompt("Should I cycle today?").max_turns(3).add_hook(memori.hook(&scope)).await?;
    println!("reply: {}\n", reply.output());

    for (i, request) in model.requests().iter().enumerate() {
        let system = request.system_instructions().unwrap_or_default();
        println!("model call {}: the system prompt carries the memories: {}", i + 1, system.contains("Porto"));
    }

    memori.flush().await?;
    println!("\ncaptured in session {:?} (what the dashboard's transcript shows):", scope.session.as_str());
    for m in memori.transcript(&scope.entity, scope.session.as_str()).await? {
        let parts: Vec<String> = m
            .parts
            .iter()
            .filter_map(|p| match p {
                memori_rig::Part::ToolCall { name, arguments, .. } => Some(format!("tool call {name}({arguments})")),
                memori_rig::Part::ToolResult { content, .. } => Some(format!("tool result {content:?}")),
                _ => None,
            })
            .collect();
        println!("  {:<9} {} {}", m.role.as_str(), m.text, parts.join("; "));
    }
    memori.shutdown().await;
    Ok(())
}
