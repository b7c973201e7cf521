//! Conversions between rig's messages and requests and memori's own.

use rig_core::completion::CompletionRequest;
use rig_core::message::{AssistantContent, Message as RigMessage, ToolResultContent, UserContent};

use crate::model::{Message, Part, Role};

fn tool_result_value(content: &[ToolResultContent]) -> serde_json::Value {
    let parts: Vec<serde_json::Value> = content
        .iter()
        .map(|c| match c {
            ToolResultContent::Text(t) => serde_json::Value::String(t.text.clone()),
            ToolResultContent::Json { value } => value.clone(),
            ToolResultContent::Image(_) => serde_json::Value::String("[image]".into()),
        })
        .collect();
    match <[serde_json::Value; 1]>::try_from(parts) {
        Ok([one]) => one,
        Err(many) => serde_json::Value::Array(many),
    }
}

/// A rig message as memori stores it: normalised parts plus the verbatim rig JSON.
pub fn from_rig_message(m: &RigMessage) -> Message {
    let mut message = normalised(m);
    message.raw = serde_json::to_value(m).ok();
    message
}

/// The content fingerprint of a rig message (see [`Message::fingerprint`]), without building
/// its raw JSON: used on the recall path for every message of a request's history.
pub(crate) fn fingerprint(m: &RigMessage) -> String {
    normalised(m).fingerprint()
}

fn normalised(m: &RigMessage) -> Message {
    let (role, parts) = match m {
        RigMessage::System { content } => (Role::System, vec![Part::Text { text: content.clone() }]),
        RigMessage::User { content } => {
            let parts: Vec<Part> = content
                .iter()
                .map(|c| match c {
                    UserContent::Text(t) => Part::Text { text: t.text.clone() },
                    UserContent::ToolResult(r) => Part::ToolResult {
                        call_id: r.call.to_string(),
                        name: r.name.to_string(),
                        content: tool_result_value(&r.content),
                        is_error: r.is_error,
                    },
                    UserContent::Image(_) => Part::Attachment { kind: "image".into(), description: None },
                    UserContent::Audio(_) => Part::Attachment { kind: "audio".into(), description: None },
                    UserContent::Video(_) => Part::Attachment { kind: "video".into(), description: None },
                    UserContent::Document(_) => Part::Attachment { kind: "document".into(), description: None },
                })
                .collect();
            let all_tool = !parts.is_empty() && parts.iter().all(|p| matches!(p, Part::ToolResult { .. }));
            (if all_tool { Role::Tool } else { Role::User }, parts)
        }
        RigMessage::Assistant(a) => {
            let parts = a
                .content
                .iter()
                .filter_map(|c| match c {
                    AssistantContent::Text(t) => Some(Part::Text { text: t.text.clone() }),
                    AssistantContent::ToolCall(call) => Some(Part::ToolCall {
                        id: call.id.to_string(),
                        name: call.function.name.to_string(),
                        arguments: serde_json::Value::Object(call.function.arguments.clone()),
                    }),
                    AssistantContent::Reasoning(r) => Some(Part::Reasoning { text: r.text.clone() }),
                    AssistantContent::Image(_) => Some(Part::Attachment { kind: "image".into(), description: None }),
                    _ => None,
                })
                .collect();
            (Role::Assistant, parts)
        }
    };
    Message { role, name: None, parts, said_at: None, raw: None, external_id: None }
}

/// A copy of `request` whose system prompt ends with `block` (a system message is added when
/// the request has none).
pub fn with_memory_block(request: &CompletionRequest, block: &str) -> CompletionRequest {
    let mut req = request.clone();
    match req.chat_history.first_mut() {
        Some(RigMessage::System { content }) => {
            content.push_str("\n\n");
            content.push_str(block);
        }
        _ => req.chat_history.insert(0, RigMessage::system(block.to_owned())),
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_text_and_tool_results() {
        let m = from_rig_message(&RigMessage::user("hello"));
        assert_eq!(m.role, Role::User);
        assert_eq!(m.parts, vec![Part::Text { text: "hello".into() }]);
        assert!(m.raw.is_some());
    }

    #[test]
    fn block_goes_after_the_preamble() {
        let req = CompletionRequest::new("hi").preamble("Be kind.");
        let out = with_memory_block(&req, "<memories>x</memories>");
        assert_eq!(out.system_instructions(), Some("Be kind.\n\n<memories>x</memories>"));
        let bare = with_memory_block(&CompletionRequest::new("hi"), "B");
        assert_eq!(bare.system_instructions(), Some("B"));
        assert_eq!(bare.chat_history.len(), 2);
    }
}
