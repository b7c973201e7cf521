//! Import conversations from the JSONL format of the LoCoMo and LongMemEval files: one
//! conversation per line, sessions with their real dates, turns with ids.
//!
//! The format, one JSON object per line: `{"id", "dataset", "speakers": [..], "sessions":
//! [{"session_id", "date_iso", "turns": [{"turn_id", "speaker", "text", "image_caption"?}]}],
//! "questions": [{"qid", "question", "category", "evidence_turn_ids", "question_date_iso"?}]}`.
//! The project measures with LoCoMo (snap-research/locomo `locomo10.json`, CC BY-NC 4.0: 10
//! conversations, 5,882 turns) and the LongMemEval oracle set (MIT, arXiv 2410.10813: 500
//! questions with their evidence sessions), converted to this format; neither is shipped here.
//!
//! Parsing checks every line before anything is written ([`parse`]), so a malformed file
//! imports nothing unless the caller chooses to import the good lines. Importing is
//! idempotent: every turn is stored under the key `import:{conversation}:{session}:{turn}`.

use std::io::BufRead;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::{Message, Part, Role};
use crate::scope::Scope;
use crate::{CaptureReceipt, Memori};

/// One conversation (one line of the file).
#[derive(Clone, Debug, Deserialize)]
pub struct Conversation {
    /// Conversation id; becomes the entity id.
    pub id: String,
    /// `locomo` or `longmemeval_oracle`.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Participants' names.
    #[serde(default)]
    pub speakers: Vec<String>,
    /// Sessions in chronological order.
    pub sessions: Vec<Session>,
    /// Evaluation questions, if any.
    #[serde(default)]
    pub questions: Vec<Question>,
}

/// One session of a conversation.
#[derive(Clone, Debug, Deserialize)]
pub struct Session {
    /// Session id.
    pub session_id: String,
    /// The date as written in the source.
    #[serde(default)]
    pub date: Option<String>,
    /// The date as `YYYY-MM-DDTHH:MM[:SS]`.
    #[serde(default)]
    pub date_iso: Option<String>,
    /// Turns in order.
    pub turns: Vec<Turn>,
}

/// One turn.
#[derive(Clone, Debug, Deserialize)]
pub struct Turn {
    /// Turn id, unique in its conversation (for example `D1:3`).
    pub turn_id: String,
    /// Speaker name (or `user` / `assistant`).
    pub speaker: String,
    /// What was said.
    pub text: String,
    /// Caption of an image shared with the turn.
    #[serde(default)]
    pub image_caption: Option<String>,
}

/// An evaluation question.
#[derive(Clone, Debug, Deserialize)]
pub struct Question {
    /// Question id.
    pub qid: String,
    /// The question.
    pub question: String,
    /// Category code or name.
    #[serde(default)]
    pub category: serde_json::Value,
    /// Category name.
    #[serde(default)]
    pub category_name: Option<String>,
    /// Turns holding the evidence.
    #[serde(default)]
    pub evidence_turn_ids: Vec<String>,
    /// When the question is asked (LongMemEval).
    #[serde(default)]
    pub question_date_iso: Option<String>,
}

/// A line that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parse a date as written in `date_iso` (`2023-05-08T13:56`, seconds optional, `Z` allowed).
pub fn parse_iso_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().trim_end_matches('Z');
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|n| n.and_utc())
}

fn check(conv: &Conversation) -> std::result::Result<(), String> {
    crate::EntityId::new(conv.id.as_str()).map_err(|e| e.to_string())?;
    if conv.sessions.is_empty() {
        return Err(format!("conversation {:?} has no sessions", conv.id));
    }
    let mut sessions = std::collections::HashSet::new();
    for s in &conv.sessions {
        crate::SessionId::new(s.session_id.as_str()).map_err(|e| e.to_string())?;
        // A repeated session or turn id would share idempotency keys: the later turns would be
        // skipped as already stored.
        if !sessions.insert(s.session_id.as_str()) {
            return Err(format!("session id {:?} appears twice in conversation {:?}", s.session_id, conv.id));
        }
        let mut turns = std::collections::HashSet::new();
        if let Some(t) = s.turns.iter().find(|t| !turns.insert(t.turn_id.as_str())) {
            return Err(format!("turn id {:?} appears twice in session {:?}", t.turn_id, s.session_id));
        }
        match &s.date_iso {
            Some(d) if parse_iso_date(d).is_none() => {
                return Err(format!("session {:?} has an unreadable date_iso {d:?}", s.session_id));
            }
            _ => {}
        }
        for t in &s.turns {
            if t.turn_id.is_empty() || t.turn_id.len() > 200 {
                return Err(format!(
                    "session {:?} has a turn id of {} bytes (1 to 200 allowed)",
                    s.session_id,
                    t.turn_id.len()
                ));
            }
        }
    }
    Ok(())
}

/// Parse every line; blank lines are skipped. Returns the conversations of the good lines
/// and an error for each bad one.
pub fn parse(reader: impl BufRead) -> (Vec<Conversation>, Vec<LineError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                bad.push(LineError { line: line_no, message: format!("cannot read: {e}") });
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Conversation>(&line) {
            Ok(conv) => match check(&conv) {
                Ok(()) => good.push(conv),
                Err(message) => bad.push(LineError { line: line_no, message }),
            },
            Err(e) => bad.push(LineError { line: line_no, message: format!("not a conversation: {e}") }),
        }
    }
    (good, bad)
}

/// The messages of one session, with their idempotency keys. Each turn is said one second
/// after the previous one, from the session's date (or now, without one).
pub fn session_messages(conv: &Conversation, session: &Session) -> Vec<(Message, String)> {
    let start = session.date_iso.as_deref().and_then(parse_iso_date).unwrap_or_else(Utc::now);
    session
        .turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let role = match t.speaker.to_lowercase().as_str() {
                "assistant" => Role::Assistant,
                _ => Role::User,
            };
            let mut parts = vec![Part::Text { text: t.text.clone() }];
            if let Some(c) = &t.image_caption {
                parts.push(Part::Attachment { kind: "image".into(), description: Some(c.clone()) });
            }
            let named = !matches!(t.speaker.as_str(), "user" | "assistant");
            let message = Message {
                role,
                name: named.then(|| t.speaker.clone()),
                parts,
                said_at: Some(start + Duration::seconds(i64::try_from(i).unwrap_or(0))),
                raw: None,
                external_id: Some(t.turn_id.clone()),
            };
            let key = format!("import:{}:{}:{}", conv.id, session.session_id, t.turn_id);
            // `a:b` + `c` and `a` + `b:c` would read alike: ids with colons (and overlong keys)
            // are keyed by a digest of the three ids instead.
            let ambiguous = conv.id.contains(':') || session.session_id.contains(':');
            let key = if ambiguous || key.len() > crate::scope::MAX_ID_BYTES {
                let ids = serde_json::json!([conv.id, session.session_id, t.turn_id]).to_string();
                format!("import:{}", Message::text(Role::User, ids).fingerprint())
            } else {
                key
            };
            (message, key)
        })
        .collect()
}

/// Import one conversation as entity `conv.id`, process `process`, one session per session.
pub async fn import_conversation(memori: &Memori, conv: &Conversation, process: &str) -> Result<CaptureReceipt> {
    let mut total = CaptureReceipt::default();
    for session in &conv.sessions {
        let scope = Scope::new(conv.id.as_str(), process, session.session_id.as_str())?;
        let r = memori.capture_with_keys(&scope, session_messages(conv, session), None).await?;
        total.stored += r.stored;
        total.duplicates += r.duplicates;
        total.job_id = r.job_id.or(total.job_id);
    }
    Ok(total)
}

/// Read and validate a whole file: every line must be good.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Conversation>> {
    let file =
        std::fs::File::open(path).map_err(|e| Error::invalid_input(format!("cannot open {}: {e}", path.display())))?;
    let (good, bad) = parse(std::io::BufReader::new(file));
    if let Some(first) = bad.first() {
        return Err(Error::invalid_input(format!(
            "{}: {} malformed line(s), nothing imported; first: {first}",
            path.display(),
            bad.len()
        )));
    }
    Ok(good)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"id": "c1", "speakers": ["Ann", "Bo"], "sessions": [{"session_id": "D1", "date_iso": "2023-05-08T13:56", "turns": [{"turn_id": "D1:1", "speaker": "Ann", "text": "I'm allergic to peanuts", "image_caption": "a jar"}, {"turn_id": "D1:2", "speaker": "Bo", "text": "ok"}]}]}"#;

    #[test]
    fn parses_good_lines_and_names_bad_ones() {
        let input = format!(
            "{LINE}\n\nnot json\n{{\"id\": \"\", \"sessions\": []}}\n{}\n",
            LINE.replace("2023-05-08T13:56", "yesterday")
        );
        let (good, bad) = parse(input.as_bytes());
        assert_eq!(good.len(), 1);
        assert_eq!(bad.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(bad[0].message.starts_with("not a conversation"));
        assert!(bad[1].message.contains("invalid entity id"), "{}", bad[1]);
        assert!(bad[2].message.contains("unreadable date_iso"), "{}", bad[2]);
    }

    #[test]
    fn repeated_ids_are_refused_and_colons_cannot_collide() {
        let twice = LINE.replace("D1:2", "D1:1");
        let (good, bad) = parse(twice.as_bytes());
        assert!(good.is_empty());
        assert!(bad[0].message.contains("turn id \"D1:1\" appears twice"), "{}", bad[0]);
        let sessions = LINE.replace("}]}]}", "}]}, {\"session_id\": \"D1\", \"turns\": []}]}");
        let (_, bad) = parse(sessions.as_bytes());
        assert!(bad[0].message.contains("session id \"D1\" appears twice"), "{}", bad[0]);

        let a = LINE.replace("\"id\": \"c1\"", "\"id\": \"c1:D1\"").replace("\"D1\", \"date_iso", "\"x\", \"date_iso");
        let b = LINE.replace("\"D1\", \"date_iso", "\"D1:x\", \"date_iso");
        let (a, b) = (parse(a.as_bytes()).0, parse(b.as_bytes()).0);
        let key_a = &session_messages(&a[0], &a[0].sessions[0])[0].1;
        let key_b = &session_messages(&b[0], &b[0].sessions[0])[0].1;
        assert_ne!(key_a, key_b, "c1:D1 + x and c1 + D1:x");
    }

    #[test]
    fn messages_carry_dates_speakers_ids_and_keys() {
        let (good, _) = parse(LINE.as_bytes());
        let msgs = session_messages(&good[0], &good[0].sessions[0]);
        assert_eq!(msgs.len(), 2);
        let (m, key) = &msgs[0];
        assert_eq!(key, "import:c1:D1:D1:1");
        assert_eq!(m.name.as_deref(), Some("Ann"));
        assert_eq!(m.external_id.as_deref(), Some("D1:1"));
        assert_eq!(m.said_at.unwrap().to_rfc3339(), "2023-05-08T13:56:00+00:00");
        assert_eq!(msgs[1].0.said_at.unwrap().to_rfc3339(), "2023-05-08T13:56:01+00:00");
        assert_eq!(m.episode_text().unwrap(), "Ann: I'm allergic to peanuts (shares image: a jar)");
    }
}
