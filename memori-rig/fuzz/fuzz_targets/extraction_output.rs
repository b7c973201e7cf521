//! A model's extraction output (the `submit` arguments) on arbitrary bytes: parse, convert and
//! sanitize as the worker does. What survives must be storable: non-empty text within the
//! limit, scores in 0..=1, sources inside the window, no episode kind.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use memori_rig::augment::{Window, WindowMessage, sanitize};
use memori_rig::model::{MemoryKind, Role};
use memori_rig::rig::{LlmOutput, convert};

fuzz_target!(|data: &[u8]| {
    let Ok(output) = serde_json::from_slice::<LlmOutput>(data) else { return };
    let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let window = Window {
        summary: None,
        messages: vec![
            WindowMessage { id: 7, role: Role::User, name: Some("Ann".into()), text: "hi".into(), said_at: at },
            WindowMessage { id: 9, role: Role::Assistant, name: None, text: "hello".into(), said_at: at },
        ],
    };
    let mut extraction = convert(output);
    sanitize(&mut extraction, &window);
    for m in &extraction.memories {
        assert!(!m.text.is_empty() && m.text.len() <= memori_rig::MAX_MEMORY_TEXT_BYTES);
        assert!((0.0..=1.0).contains(&m.importance) && (0.0..=1.0).contains(&m.confidence));
        assert!(!m.sources.is_empty() && m.sources.iter().all(|s| *s == 7 || *s == 9));
        assert_ne!(m.kind, MemoryKind::Episode);
        if let Some(t) = &m.triple {
            assert!(!t.subject.trim().is_empty() && !t.predicate.trim().is_empty() && !t.object.trim().is_empty());
        }
    }
});
