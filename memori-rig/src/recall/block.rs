//! The memory block injected into the system prompt. Its format is stable:
//!
//! ```text
//! <memories>
//! Remembered from earlier conversations with this user, most relevant first. Use what helps; it may be out of date.
//! - [2023-05-08] Caroline: I went to a LGBTQ support group yesterday.
//! </memories>
//! ```
//!
//! One line per memory, the date it was said in brackets, newlines inside a memory folded to
//! spaces so that stored text cannot fake the block's structure.

use crate::model::Recalled;

/// The block's first line.
pub const HEADER: &str =
    "Remembered from earlier conversations with this user, most relevant first. Use what helps; it may be out of date.";

/// Render recalled memories, most relevant first, stopping before `max_chars` would be
/// exceeded. Returns `None` when nothing fits.
pub fn render(recalled: &[Recalled], max_chars: usize) -> Option<String> {
    let mut lines = Vec::new();
    let mut used = HEADER.len() + "<memories>\n\n</memories>".len();
    for r in recalled {
        let text: String = r.memory.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = text.replace("</memories>", "</ memories>");
        let line = format!("- [{}] {}", r.memory.valid_from.format("%Y-%m-%d"), text);
        if used + line.len() + 1 > max_chars {
            break;
        }
        used += line.len() + 1;
        lines.push(line);
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!("<memories>\n{HEADER}\n{}\n</memories>", lines.join("\n")))
}
