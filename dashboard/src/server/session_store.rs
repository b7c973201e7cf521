//! tower-sessions' `SessionStore` on memori's own database, so that browser sessions live
//! next to the data on SQLite, PostgreSQL or MySQL through one pool. (The published sqlx
//! store is built on sqlx 0.8, sea-orm 2 on sqlx 0.9: two pools and two migration systems.)
//!
//! A session id is a bearer secret like an API key, so the row is keyed by its SHA-256 and
//! the stored record leaves the id out: a copy of the database signs nobody in.

use memori_rig::{ErrorKind, Memori};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error, Result, SessionStore};

/// Session records as JSON rows in `memori_web_sessions`.
#[derive(Clone)]
pub struct MemoriSessionStore {
    memori: Memori,
}

impl std::fmt::Debug for MemoriSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoriSessionStore").finish_non_exhaustive()
    }
}

impl MemoriSessionStore {
    /// A store over `memori`'s database.
    pub fn new(memori: Memori) -> Self {
        Self { memori }
    }
}

fn backend(e: &memori_rig::Error) -> Error {
    Error::Backend(e.to_string())
}

fn operator_of(record: &Record) -> Option<String> {
    record.data.get(super::auth::SESSION_KEY)?.get("name")?.as_str().map(str::to_owned)
}

/// The row key of a session id.
fn key(id: &Id) -> String {
    use sha2::{Digest, Sha256};
    super::auth::hex(&Sha256::digest(id.to_string().as_bytes()))
}

fn encode(record: &Record) -> Result<(String, i64)> {
    let stored = Record { id: Id(0), ..record.clone() };
    let data = serde_json::to_string(&stored).map_err(|e| Error::Encode(e.to_string()))?;
    let expires = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((data, expires))
}

#[async_trait::async_trait]
impl SessionStore for MemoriSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // Ids are 128 random bits; on the astronomically unlikely collision, draw another.
        for _ in 0..4 {
            let (data, expires) = encode(record)?;
            let operator = operator_of(record);
            match self.memori.accounts().create_web_session(&key(&record.id), &data, expires, operator.as_deref()).await
            {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Conflict => record.id = Id::default(),
                Err(e) => return Err(backend(&e)),
            }
        }
        Err(Error::Backend("could not find a free session id".into()))
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let (data, expires) = encode(record)?;
        let operator = operator_of(record);
        self.memori
            .accounts()
            .save_web_session(&key(&record.id), &data, expires, operator.as_deref())
            .await
            .map_err(|e| backend(&e))
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self.memori.accounts().web_session(&key(id)).await.map_err(|e| backend(&e))? {
            Some(data) => {
                let record: Record = serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?;
                Ok(Some(Record { id: *id, ..record }))
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        self.memori.accounts().delete_web_session(&key(id)).await.map_err(|e| backend(&e))
    }
}
