//! The memory block injected into the system prompt. Its format is stable:
//!
//! ```text
//! <memories>
//! Remembered from earlier conversations with this user, most relevant first. Use what helps; it may be out of date.
//! - [2023-05-08] Caroline: I went to a LGBTQ support group yesterday.
//!   (just before) Melanie: How was your week?
//!   (just after) Melanie: That's brave! How did it feel?
//! - [2023-05-08] Caroline lives in Boston.
//! - [2023-02-10] Caroline: I live in Denver. (superseded 2023-05: Caroline lives in Boston)
//! </memories>
//! ```
//!
//! A memory a newer statement replaced (recalled with history), or an episode whose extracted
//! statements all were, ends with "(superseded YYYY-MM: the newer statement)".
//!
//! One line per memory, most relevant first, the date it was said in brackets; under a recalled
//! episode, the messages said just before and after it, when the budget leaves room after every
//! memory that fits. Newlines inside stored text are folded to spaces and `</memories>` is
//! defused, so stored text cannot fake the block's structure. The whole block, header and tags
//! included, stays within the token budget (counted with [`super::tokens::count`]).

use super::tokens;
use crate::model::Recalled;

/// The block's first line.
pub const HEADER: &str =
    "Remembered from earlier conversations with this user, most relevant first. Use what helps; it may be out of date.";

fn inert(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace("</memories>", "</ memories>")
}

fn assemble(groups: &[(String, Vec<String>)]) -> String {
    let mut out = format!("<memories>\n{HEADER}\n");
    for (line, context) in groups {
        out.push_str(line);
        out.push('\n');
        for c in context {
            out.push_str(c);
            out.push('\n');
        }
    }
    out.push_str("</memories>");
    out
}

/// Render recalled memories within `budget` tokens: memories first (skipping one that does
/// not fit, so a shorter, less relevant one may still), then neighbours of recalled episodes
/// in rank order while room is left. `None` when not even one memory fits.
pub fn render(recalled: &[Recalled], budget: usize, neighbours: bool) -> Option<String> {
    let frame = tokens::count(&assemble(&[]));
    let mut used = frame;
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut chosen: Vec<&Recalled> = Vec::new();
    for r in recalled {
        let mut line = format!("- [{}] {}", r.memory.valid_from.format("%Y-%m-%d"), inert(&r.memory.text));
        if let Some(s) = &r.superseded {
            line.push_str(&format!(" (superseded {}", s.at.format("%Y-%m")));
            if let Some(by) = &s.by {
                line.push_str(&format!(": {}", inert(by)));
            }
            line.push(')');
        }
        let cost = tokens::count(&line) + 1;
        if used + cost <= budget {
            used += cost;
            groups.push((line, Vec::new()));
            chosen.push(r);
        }
    }
    if groups.is_empty() {
        return None;
    }
    if neighbours {
        for (g, r) in chosen.iter().enumerate() {
            for n in &r.neighbours {
                let line = format!("  ({}) {}", if n.before { "just before" } else { "just after" }, inert(&n.text));
                let cost = tokens::count(&line) + 1;
                if used + cost <= budget {
                    used += cost;
                    let context = &mut groups[g].1;
                    if n.before { context.insert(0, line) } else { context.push(line) }
                }
            }
        }
    }
    // Token counts of lines are not exactly additive; trim from the end until the whole fits.
    loop {
        let block = assemble(&groups);
        if tokens::count(&block) <= budget {
            return Some(block);
        }
        let n = groups.len();
        if groups[n - 1].1.pop().is_none() {
            if n == 1 {
                return None;
            }
            groups.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Explanation, MemoryKind, Neighbour};

    fn recalled(text: &str, neighbours: &[(&str, bool)]) -> Recalled {
        let t = Utc.with_ymd_and_hms(2023, 5, 8, 13, 56, 0).unwrap();
        Recalled {
            memory: crate::model::test_memory(1, MemoryKind::Episode, text, t),
            score: 1.0,
            explanation: Explanation::new("score", 1.0),
            neighbours: neighbours
                .iter()
                .map(|(text, before)| Neighbour { before: *before, text: (*text).into(), said_at: t })
                .collect(),
            superseded: None,
        }
    }

    #[test]
    fn renders_the_documented_format() {
        let r = [
            recalled(
                "Caroline: I went to a support group.",
                &[("Melanie: How was your week?", true), ("Melanie: Brave!", false)],
            ),
            recalled("Caroline lives in\nBoston </memories> ok", &[]),
        ];
        let block = render(&r, 600, true).unwrap();
        assert_eq!(
            block,
            format!(
                "<memories>\n{HEADER}\n- [2023-05-08] Caroline: I went to a support group.\n  (just before) Melanie: How was your week?\n  (just after) Melanie: Brave!\n- [2023-05-08] Caroline lives in Boston </ memories> ok\n</memories>"
            )
        );
        assert!(!render(&r, 600, false).unwrap().contains("just before"));
    }

    #[test]
    fn marks_what_a_newer_statement_replaced() {
        let at = Utc.with_ymd_and_hms(2023, 5, 1, 0, 0, 0).unwrap();
        let mut old = recalled("Caroline: I live in Denver.", &[]);
        old.superseded = Some(crate::model::Superseded { at, by: Some("Caroline lives in\nBoston".into()) });
        let block = render(&[old.clone()], 600, false).unwrap();
        assert!(
            block.contains(
                "- [2023-05-08] Caroline: I live in Denver. (superseded 2023-05: Caroline lives in Boston)\n"
            )
        );
        old.superseded = Some(crate::model::Superseded { at, by: None });
        assert!(render(&[old], 600, false).unwrap().contains("Denver. (superseded 2023-05)\n"));
    }

    #[test]
    fn stays_within_the_budget_and_prefers_memories_to_neighbours() {
        let long = "word ".repeat(300);
        let r = [
            recalled("Caroline: first", &[(long.as_str(), true)]),
            recalled(&long, &[]),
            recalled("Caroline: third", &[("Melanie: short", false)]),
        ];
        let block = render(&r, 80, true).unwrap();
        assert!(tokens::count(&block) <= 80, "{}", tokens::count(&block));
        assert!(block.contains("first") && block.contains("third"), "the long one is skipped, not the rest");
        assert!(block.contains("Melanie: short") && !block.contains("word word"));
        assert_eq!(render(&r[1..2], 80, true), None);
    }
}
