//! The parsers a recall query and a captured message go through, on arbitrary text: the time
//! phrase parser (a well-formed range), lexical terms and the offline extractor's rules.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use memori_rig::augment::offline;
use memori_rig::recall::fuzzing;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let epoch = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    for now in [epoch, DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
        if let Some((start, end)) = fuzzing::time_range(&text, now) {
            assert!(start < end, "empty range {start}..{end} for {text:?}");
        }
    }
    let _ = fuzzing::terms(&text);
    for e in offline::extract("Ann", &text) {
        assert!(!e.text.is_empty());
    }
});
