//! Scope: who a memory belongs to (entity), which agent wrote it (process), which thread (session).
//!
//! A [`Scope`] is a plain value passed with every call; memori-rig keeps no "current user"
//! state, so concurrent requests for different users cannot bleed into each other.

use std::fmt;

use crate::error::{Error, ErrorKind, Result};

/// Longest id accepted, in bytes (the schema's `VARCHAR(255)`, which MySQL counts in characters;
/// counting bytes keeps the limit identical everywhere).
pub const MAX_ID_BYTES: usize = 255;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validate and wrap an id: 1 to 255 bytes of any Unicode, no control characters,
            /// not only whitespace.
            pub fn new(id: impl Into<String>) -> Result<Self> {
                let id = id.into();
                validate(&id, $what)?;
                Ok(Self(id))
            }

            /// The id as given.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(id: &str) -> Result<Self> {
                Self::new(id)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(id: String) -> Result<Self> {
                Self::new(id)
            }
        }
    };
}

id_type!(
    /// The end user whose memories these are. The unit of isolation: recall never crosses it.
    EntityId,
    "entity"
);
id_type!(
    /// The agent (or application) that took part in the conversation.
    ProcessId,
    "process"
);
id_type!(
    /// One conversation thread of an entity.
    SessionId,
    "session"
);

fn validate(id: &str, what: &str) -> Result<()> {
    let fail = |why: String| Err(Error::new(ErrorKind::InvalidScope, format!("invalid {what} id: {why}")));
    if id.trim().is_empty() {
        return fail("it is empty or only whitespace".into());
    }
    if id.len() > MAX_ID_BYTES {
        return fail(format!("it is {} bytes long, the limit is {MAX_ID_BYTES}", id.len()));
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return fail(format!("it contains the control character U+{:04X}", c as u32));
    }
    Ok(())
}

/// Entity, process and session of one exchange.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Scope {
    /// The end user.
    pub entity: EntityId,
    /// The agent.
    pub process: ProcessId,
    /// The conversation thread.
    pub session: SessionId,
}

impl Scope {
    /// Validate three ids at once.
    ///
    /// ```
    /// let scope = memori_rig::Scope::new("user-42", "support-bot", "thread-7")?;
    /// assert_eq!(scope.entity.as_str(), "user-42");
    /// assert!(memori_rig::Scope::new("", "bot", "t").is_err());
    /// # Ok::<(), memori_rig::Error>(())
    /// ```
    pub fn new(entity: impl Into<String>, process: impl Into<String>, session: impl Into<String>) -> Result<Self> {
        Ok(Self {
            entity: EntityId::new(entity)?,
            process: ProcessId::new(process)?,
            session: SessionId::new(session)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_unicode_within_limits() {
        for id in
            ["a", "ユーザー", "Ωμέγα-1", "user@example.com", "x'; DROP TABLE memori_entities; --", &"é".repeat(127)]
        {
            assert!(EntityId::new(id).is_ok(), "{id:?} should be accepted");
        }
    }

    #[test]
    fn rejects_empty_long_and_control() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("a\u{0}b", "U+0000"),
            ("line\nbreak", "U+000A"),
            (&"x".repeat(256), "256 bytes"),
            (&"é".repeat(128), "256 bytes"),
        ];
        for (id, expected) in cases {
            let err = SessionId::new(id).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidScope);
            assert!(err.to_string().contains(expected), "{id:?}: {err}");
            assert!(err.to_string().starts_with("invalid session id"), "{err}");
        }
    }
}
