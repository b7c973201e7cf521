//! Who is asking: operators signed in with a password (a browser session with a CSRF token)
//! or programs holding an API key. Passwords are Argon2id hashes; API keys are 256-bit random
//! secrets stored as SHA-256 (a fast hash is right for a high-entropy secret).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use memori_types::admin::OperatorRole;
use memori_types::http::{LoginRequest, Me};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::AppState;
use super::error::ApiError;

/// The session key holding the signed-in operator.
pub(crate) const SESSION_KEY: &str = "operator";
/// The header a browser session must send with every mutating request.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a browser session remembers about its operator.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SignedIn {
    name: String,
    role: OperatorRole,
    csrf: String,
}

/// The caller of an API route: an operator (by session) or an API key.
#[derive(Clone, Debug)]
pub struct Operator {
    /// Operator name, or `key:<prefix>`.
    pub name: String,
    /// What they may do.
    pub role: OperatorRole,
}

/// An [`Operator`] with the admin role; any other caller gets 403 `forbidden`.
#[derive(Clone, Debug)]
pub struct Admin(pub Operator);

/// Hash a password with Argon2id (the crate's defaults: 19 MiB, 2 passes) and a random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Check a new password's length; the message says what is wrong.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("a password needs at least {MIN_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new API key: `(prefix, token, hash of the secret)`. The token is `mk_<prefix>_<secret>`.
pub(crate) fn new_api_key() -> (String, String, String) {
    let prefix = hex(&random_bytes::<6>());
    let secret = hex(&random_bytes::<32>());
    let hash = hex(&Sha256::digest(secret.as_bytes()));
    (prefix.clone(), format!("mk_{prefix}_{secret}"), hash)
}

/// Failed logins per (name, address): five in fifteen minutes lock that pair for the rest of
/// the window. Kept in memory: behind several server processes each counts on its own.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    const WINDOW: Duration = Duration::from_secs(15 * 60);
    const LIMIT: usize = 5;

    fn recent(&self, key: &str) -> usize {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let entry = map.entry(key.to_owned()).or_default();
        entry.retain(|t| now.duration_since(*t) < Self::WINDOW);
        entry.len()
    }

    fn fail(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            // Bounded memory under a spraying attack: forget the oldest state wholesale.
            map.clear();
        }
        map.entry(key.to_owned()).or_default().push(Instant::now());
    }

    fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }
}

fn client_key(addr: Option<std::net::SocketAddr>, name: &str) -> String {
    format!("{}|{}", name.to_lowercase(), addr.map(|a| a.ip().to_string()).unwrap_or_default())
}

/// A precomputed hash to verify against when the name is unknown, so that a wrong name
/// costs as long as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// `POST /api/v1/auth/login`.
pub(crate) async fn login(
    State(state): State<AppState>,
    session: Session,
    connect: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<Me>, ApiError> {
    let key = client_key(connect.map(|c| c.0.0), &req.username);
    if state.throttle.recent(&key) >= Throttle::LIMIT {
        tracing::warn!(target: "memori::audit", "login throttled");
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed logins; wait 15 minutes and try again",
        ));
    }
    let record = state.memori.accounts().operator(&req.username).await?;
    let hash = record.as_ref().map_or_else(|| dummy_hash().to_owned(), |r| r.password_hash.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::internal(format!("password check failed: {e}")))?;
    let (Some(record), true) = (record, ok) else {
        state.throttle.fail(&key);
        return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unauthenticated", "wrong name or password"));
    };
    state.throttle.clear(&key);
    let role = record.role;
    let signed = SignedIn { name: record.name, role, csrf: hex(&random_bytes::<32>()) };
    // A new session id on every login: a session id planted before login is worth nothing.
    session.cycle_id().await.map_err(|e| session_err(&e))?;
    session.insert(SESSION_KEY, &signed).await.map_err(|e| session_err(&e))?;
    Ok(Json(Me { name: signed.name, role, csrf_token: Some(signed.csrf) }))
}

/// `POST /api/v1/auth/logout`: ends the session (CSRF-checked like every mutation).
pub(crate) async fn logout(session: Session, _op: Operator) -> Result<axum::http::StatusCode, ApiError> {
    session.flush().await.map_err(|e| session_err(&e))?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `GET /api/v1/auth/me`.
pub(crate) async fn me(session: Session, op: Operator) -> Result<Json<Me>, ApiError> {
    let signed: Option<SignedIn> = session.get(SESSION_KEY).await.map_err(|e| session_err(&e))?;
    Ok(Json(Me { name: op.name, role: op.role, csrf_token: signed.map(|s| s.csrf) }))
}

fn session_err(e: &tower_sessions::session::Error) -> ApiError {
    ApiError::unavailable(format!("session store: {e}"))
}

fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What the authentication layer knows: the app's state and the routes anyone may call.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) state: AppState,
    pub(crate) public: Arc<Vec<(Method, &'static str)>>,
}

/// The layer over every `/api/v1` route: a request that the route table does not mark public
/// must come from a signed-in operator (or an API key); for a browser session, a mutation must
/// also carry the session's CSRF token. The caller is handed to the handler as an [`Operator`].
pub(crate) async fn authenticate(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    if gate.public.iter().any(|(m, p)| m == req.method() && *p == req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    match caller(&mut parts, &gate.state).await {
        Ok(op) => {
            parts.extensions.insert(op);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

/// Who is asking: an API key, or a browser session's operator as the database knows them now.
async fn caller(parts: &mut Parts, state: &AppState) -> Result<Operator, ApiError> {
    if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let token = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        return api_key_operator(state, token.trim()).await;
    }
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::internal("the session layer is missing"))?;
    let signed: Option<SignedIn> = session.get(SESSION_KEY).await.map_err(|e| session_err(&e))?;
    let Some(signed) = signed else {
        return Err(ApiError::unauthenticated());
    };
    if is_mutation(&parts.method) {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !ct_eq(sent, &signed.csrf) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-CSRF-Token header; reload the page",
            ));
        }
    }
    // The account may have been removed or demoted since login: the database decides.
    let Some(record) = state.memori.accounts().operator(&signed.name).await? else {
        session.flush().await.map_err(|e| session_err(&e))?;
        return Err(ApiError::unauthenticated());
    };
    Ok(Operator { name: signed.name, role: record.role })
}

async fn api_key_operator(state: &AppState, token: &str) -> Result<Operator, ApiError> {
    let bad = || ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unauthenticated", "invalid or revoked API key");
    let mut it = token.splitn(3, '_');
    let (Some("mk"), Some(prefix), Some(secret)) = (it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    let accounts = state.memori.accounts();
    let Some(key) = accounts.api_key(prefix).await? else {
        return Err(bad());
    };
    let hash = hex(&Sha256::digest(secret.as_bytes()));
    if key.revoked_at.is_some() || !ct_eq(&hash, &key.secret_hash) {
        return Err(bad());
    }
    if let Err(e) = accounts.touch_api_key(key.id).await {
        tracing::warn!(error = %e, "cannot record API key use");
    }
    Ok(Operator { name: format!("key:{}", key.prefix), role: key.role })
}

fn forbidden() -> ApiError {
    ApiError::new(axum::http::StatusCode::FORBIDDEN, "forbidden", "this needs the admin role; viewers can only read")
}

/// The layer of every [`super::Access::Admin`] route.
pub(crate) async fn require_admin(req: Request, next: Next) -> Response {
    match req.extensions().get::<Operator>() {
        Some(op) if op.role == OperatorRole::Admin => next.run(req).await,
        Some(_) => forbidden().into_response(),
        None => ApiError::internal("an admin route is not behind the authentication layer").into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Set by `authenticate`; a handler of a route outside it cannot learn who is asking.
        parts.extensions.get::<Operator>().cloned().ok_or_else(|| {
            ApiError::internal("this route is not behind the authentication layer (a bug: see server::api_router)")
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let op = Operator::from_request_parts(parts, state).await?;
        if op.role != OperatorRole::Admin {
            return Err(forbidden());
        }
        Ok(Admin(op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn api_keys_are_random_and_stored_as_hashes() {
        let (prefix, token, hash) = new_api_key();
        let (prefix2, ..) = new_api_key();
        assert_ne!(prefix, prefix2);
        assert!(token.starts_with(&format!("mk_{prefix}_")));
        assert!(!token.contains(&hash), "the stored hash is not the secret");
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn throttle_locks_after_five_failures_and_clears_on_success() {
        let t = Throttle::default();
        for _ in 0..5 {
            assert!(t.recent("ann|1.2.3.4") < Throttle::LIMIT);
            t.fail("ann|1.2.3.4");
        }
        assert_eq!(t.recent("ann|1.2.3.4"), 5);
        assert_eq!(t.recent("bob|1.2.3.4"), 0, "per name");
        t.clear("ann|1.2.3.4");
        assert_eq!(t.recent("ann|1.2.3.4"), 0);
    }
}
