//! Types that only the dashboard's JSON API (`/api/v1`) speaks: errors, logins, operators,
//! API keys, the recall preview and settings pages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::admin::OperatorRole;
use crate::model::Recalled;
use crate::settings::{RecallConfig, Settings};

/// Every error response: a stable machine-readable `code` and a message for people.
///
/// Codes: `unauthenticated` (401), `forbidden` (403, role too low), `csrf` (403, missing or
/// wrong `X-CSRF-Token`), `not_found` (404), `invalid_input` (400/422), `conflict` (409),
/// `too_many_attempts` (429, login throttled), `unavailable` (503, database down),
/// `internal` (500).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Operator name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The signed-in operator (`GET /api/v1/auth/me`, and the login answer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Operator name (or `key:<prefix>` for an API key).
    pub name: String,
    /// Role.
    pub role: OperatorRole,
    /// The token to send as `X-CSRF-Token` with every mutating request of this session.
    pub csrf_token: Option<String>,
}

/// An operator account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorInfo {
    /// Name.
    pub name: String,
    /// Role.
    pub role: OperatorRole,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// An API key, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// Key id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// The public part (`mk_<prefix>_...`).
    pub prefix: String,
    /// Role it acts with.
    pub role: OperatorRole,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last request made with it.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it expires; an expired key is refused. `None` for keys made before keys expired.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/api-keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateApiKey {
    /// What it is for (1 to 64 characters).
    pub name: String,
    /// Role it acts with.
    pub role: OperatorRole,
    /// Days until it expires: 1 to 365, 90 when absent.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new API key: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    /// The key as stored.
    pub key: ApiKeyInfo,
    /// The whole token, to send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// `POST /api/v1/recall/preview`: what recall would return for a query, optionally with
/// unsaved settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecallPreviewRequest {
    /// Entity id.
    pub entity: String,
    /// The query, as a user would type it.
    pub query: String,
    /// Settings to try instead of the saved ones.
    pub config: Option<RecallConfig>,
    /// Include invalidated memories.
    #[serde(default)]
    pub history: bool,
}

/// The answer to a recall preview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecallPreview {
    /// Ranked memories with explanations.
    pub results: Vec<Recalled>,
    /// The exact block that would be injected into the system prompt.
    pub block: Option<String>,
    /// Its size in `o200k_base` tokens.
    pub block_tokens: usize,
    /// How long recall took, in milliseconds.
    pub took_ms: f64,
}

/// `GET /api/v1/settings`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    /// Version in effect (0: none saved, the server's defaults apply).
    pub version: i64,
    /// The settings.
    pub settings: Settings,
    /// The extractor in use (set in code, where the rig model is chosen).
    pub extractor: String,
    /// The embedding model in use.
    pub embedder: String,
}

/// `PUT /api/v1/settings`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveSettings {
    /// The version the change was made to (a stale one is refused with `conflict`).
    pub base: Option<i64>,
    /// The new settings.
    pub settings: Settings,
}

/// One saved settings version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsVersion {
    /// Version.
    pub version: i64,
    /// The settings.
    pub settings: Settings,
    /// Who saved it.
    pub saved_by: String,
    /// When.
    pub saved_at: DateTime<Utc>,
}
