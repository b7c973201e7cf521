//! Scope validation on arbitrary text: an id is accepted exactly when it is 1 to 255 bytes,
//! not only whitespace and free of control characters; a refusal is an `InvalidScope` error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memori_rig::{ErrorKind, Scope};

fn valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && !id.trim().is_empty() && !id.chars().any(char::is_control)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1f}');
    let (e, p, s) = (parts.next().unwrap_or(""), parts.next().unwrap_or("x"), parts.next().unwrap_or("x"));
    match Scope::new(e, p, s) {
        Ok(scope) => {
            assert!(valid(e) && valid(p) && valid(s), "accepted {e:?} {p:?} {s:?}");
            assert_eq!(scope.entity.as_str(), e);
        }
        Err(err) => {
            assert!(!(valid(e) && valid(p) && valid(s)), "refused valid ids: {err}");
            assert_eq!(err.kind(), ErrorKind::InvalidScope);
        }
    }
});
