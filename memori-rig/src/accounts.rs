//! Dashboard logins: operator accounts, API keys and browser sessions, reached through
//! [`Memori::accounts`]. The store keeps only hashes and opaque session records; hashing and
//! checking passwords and keys is the dashboard's job. Every change is audited.

use chrono::{DateTime, Utc};
use memori_types::admin::{OperatorRole, SignInEvent};

use crate::Memori;
use crate::error::{Error, ErrorKind, Result};
use crate::store::{from_ms, operators as ops};

/// An operator account as stored: name, password hash, role, creation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorRecord {
    /// Name (1 to 64 characters).
    pub name: String,
    /// The password's PHC-format hash (the dashboard uses Argon2id).
    pub password_hash: String,
    /// What the operator may do.
    pub role: OperatorRole,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// An API key as stored: its secret only as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Key id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// Public prefix, unique.
    pub prefix: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// What the key may do.
    pub role: OperatorRole,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it stops working (`None`: a key from before keys had a lifetime).
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// Whether the key may be used at `now`: not revoked and not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// A stored role that does not parse (a hand-edited row) grants the least: viewer.
fn role(stored: &str) -> OperatorRole {
    OperatorRole::parse(stored).unwrap_or(OperatorRole::Viewer)
}

impl From<ops::OperatorRow> for OperatorRecord {
    fn from(r: ops::OperatorRow) -> Self {
        OperatorRecord {
            role: role(&r.role),
            name: r.name,
            password_hash: r.password_hash,
            created_at: from_ms(r.created_at),
        }
    }
}

impl From<ops::ApiKeyRow> for ApiKeyRecord {
    fn from(r: ops::ApiKeyRow) -> Self {
        ApiKeyRecord {
            role: role(&r.role),
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            secret_hash: r.secret_hash,
            created_by: r.created_by,
            created_at: from_ms(r.created_at),
            last_used_at: r.last_used_at.map(from_ms),
            revoked_at: r.revoked_at.map(from_ms),
            expires_at: r.expires_at.map(from_ms),
        }
    }
}

/// The records behind dashboard logins; see [`Memori::accounts`].
#[derive(Clone, Copy, Debug)]
pub struct Accounts<'a> {
    memori: &'a Memori,
}

impl Memori {
    /// Operator accounts, API keys and browser sessions of the dashboard.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { memori: self }
    }
}

impl Accounts<'_> {
    fn db(&self) -> &crate::store::Db {
        &self.memori.inner.db
    }

    /// Add an operator, or replace an existing one's password hash and role. Returns `true`
    /// when the operator is new.
    pub async fn put_operator(&self, name: &str, password_hash: &str, role: OperatorRole, actor: &str) -> Result<bool> {
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(Error::invalid_input("an operator name must be 1 to 64 characters, no control characters"));
        }
        ops::upsert_operator(self.db(), name, password_hash, role, actor).await
    }

    /// An operator by name.
    pub async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>> {
        Ok(ops::operator(self.db(), name).await?.map(Into::into))
    }

    /// Every operator, by name.
    pub async fn operators(&self) -> Result<Vec<OperatorRecord>> {
        Ok(ops::all_operators(self.db()).await?.into_iter().map(Into::into).collect())
    }

    /// Store an API key (the caller made the secret and hashed it) that works until
    /// `expires_at`. Returns its id.
    pub async fn create_api_key(
        &self,
        name: &str,
        prefix: &str,
        secret_hash: &str,
        role: OperatorRole,
        expires_at: DateTime<Utc>,
        actor: &str,
    ) -> Result<i64> {
        let expires = Some(crate::store::ms(expires_at));
        ops::insert_api_key(self.db(), name, prefix, secret_hash, role, expires, actor).await
    }

    /// Every API key, newest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        Ok(ops::api_keys(self.db()).await?.into_iter().map(Into::into).collect())
    }

    /// The API key with this prefix, revoked or not.
    pub async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        Ok(ops::api_key_by_prefix(self.db(), prefix).await?.map(Into::into))
    }

    /// Audit a dashboard sign-in attempt under the name given (cut to 64 characters).
    pub async fn record_sign_in(&self, name: &str, event: SignInEvent) -> Result<()> {
        let actor: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
        let details = serde_json::json!({});
        crate::store::audit::record(self.db(), &actor, event.action(), "operator", None, details).await.map(|_| ())
    }

    /// Record that a key was used.
    pub async fn touch_api_key(&self, id: i64) -> Result<()> {
        ops::touch_api_key(self.db(), id).await
    }

    /// Revoke an API key, audited. Fails with [`ErrorKind::NotFound`] for an unknown or
    /// already revoked key.
    pub async fn revoke_api_key(&self, id: i64, actor: &str) -> Result<()> {
        if ops::revoke_api_key(self.db(), id, actor).await? {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::NotFound, "no such live API key"))
        }
    }

    /// A browser session's stored record, unless missing or expired.
    pub async fn web_session(&self, id: &str) -> Result<Option<String>> {
        ops::load_web_session(self.db(), id).await
    }

    /// Store a new browser session record; [`ErrorKind::Conflict`] when the id exists.
    pub async fn create_web_session(
        &self,
        id: &str,
        data: &str,
        expires_at: i64,
        operator: Option<&str>,
    ) -> Result<()> {
        ops::create_web_session(self.db(), id, data, expires_at, operator).await
    }

    /// Store or replace a browser session record (`expires_at` in ms since the epoch).
    pub async fn save_web_session(&self, id: &str, data: &str, expires_at: i64, operator: Option<&str>) -> Result<()> {
        ops::save_web_session(self.db(), id, data, expires_at, operator).await
    }

    /// Delete a browser session record.
    pub async fn delete_web_session(&self, id: &str) -> Result<()> {
        ops::delete_web_session(self.db(), id).await
    }

    /// Delete expired browser sessions; returns how many.
    pub async fn delete_expired_web_sessions(&self) -> Result<u64> {
        ops::delete_expired_web_sessions(self.db()).await
    }
}
