//! The JSONL import parser on arbitrary bytes: every line is either a conversation that passes
//! the checks or a line error naming its line; turning a good one into messages never panics.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use memori_rig::import;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
    let (good, bad) = import::parse(data);
    assert!(good.len() + bad.len() <= lines.max(1), "more results than lines");
    for e in &bad {
        assert!(e.line >= 1 && !e.message.is_empty());
    }
    // Idempotency keys: unique within a conversation (else a turn would be skipped as stored
    // already) and never shared by conversations of different entities.
    let mut owner: HashMap<String, (usize, &str)> = HashMap::new();
    for (line, conv) in good.iter().enumerate() {
        for session in &conv.sessions {
            for (_, key) in import::session_messages(conv, session) {
                assert!(key.len() <= 255, "key too long: {key}");
                if let Some((seen_line, seen_id)) = owner.insert(key.clone(), (line, conv.id.as_str())) {
                    assert!(
                        seen_line != line && seen_id == conv.id,
                        "key {key} shared by {seen_id:?} and {:?}",
                        conv.id
                    );
                }
            }
        }
    }
});
