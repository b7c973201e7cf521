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
use memori_types::admin::{OperatorRole, SignInEvent};
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
    /// Operator name, or `key:<key name> (<prefix>)` for an API key.
    pub name: String,
    /// What they may do.
    pub role: OperatorRole,
    /// Whether the caller holds an API key rather than a signed-in session.
    pub by_key: bool,
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

/// Failed logins per (name, client address): five in fifteen minutes lock that pair for the
/// rest of the window. A check takes its slot under the lock before the password is verified,
/// so concurrent guesses cannot all pass the check (an attempt in flight counts as a failure
/// until it ends). Keyed by address too, so that nobody can lock an operator out from
/// elsewhere; behind a reverse proxy, name the proxy with `--trusted-proxy` so the address is
/// the client's, not the proxy's. Kept in memory: behind several server processes each counts
/// on its own.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// One login attempt, already counted as a failure in the [`Throttle`]; only
/// [`Attempt::succeeded`] takes it back (a wrong password or a request that died stays counted).
pub(crate) struct Attempt<'t> {
    throttle: &'t Throttle,
    key: String,
}

impl Throttle {
    const WINDOW: Duration = Duration::from_secs(15 * 60);
    const LIMIT: usize = 5;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Instant>>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take a slot for one attempt, or `None` when the key is locked.
    pub(crate) fn begin(&self, key: &str) -> Option<Attempt<'_>> {
        let mut map = self.lock();
        let now = Instant::now();
        if map.len() > 100_000 && !map.contains_key(key) {
            // Bounded memory under a spraying attack: forget the expired state, or all of it.
            map.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < Self::WINDOW));
            if map.len() > 100_000 {
                map.clear();
            }
        }
        let entry = map.entry(key.to_owned()).or_default();
        entry.retain(|t| now.duration_since(*t) < Self::WINDOW);
        if entry.len() >= Self::LIMIT {
            return None;
        }
        entry.push(now);
        Some(Attempt { throttle: self, key: key.to_owned() })
    }
}

impl Attempt<'_> {
    /// The password was right: the key's failures are forgotten.
    pub(crate) fn succeeded(self) {
        self.throttle.lock().remove(&self.key);
    }
}

/// The address a login is counted against: the peer, or, when the peer is a trusted proxy,
/// the last address in `X-Forwarded-For` that is not a trusted proxy itself.
pub(crate) fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops = forwarded.unwrap_or_default().split(',').filter_map(|h| h.trim().parse::<std::net::IpAddr>().ok());
    Some(hops.rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

fn client_key(ip: Option<std::net::IpAddr>, name: &str) -> String {
    format!("{}|{}", name.to_lowercase(), ip.map(|a| a.to_string()).unwrap_or_default())
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
    headers: axum::http::HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Json<Me>, ApiError> {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = client_ip(connect.map(|c| c.0.0.ip()), forwarded, &state.trusted_proxies);
    let key = client_key(ip, &req.username);
    let accounts = state.memori.accounts();
    let Some(attempt) = state.throttle.begin(&key) else {
        tracing::warn!(target: "memori::audit", "login throttled");
        audit_sign_in(&state, &req.username, SignInEvent::Locked).await;
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed logins; wait 15 minutes and try again",
        ));
    };
    let record = accounts.operator(&req.username).await?;
    let hash = record.as_ref().map_or_else(|| dummy_hash().to_owned(), |r| r.password_hash.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::internal(format!("password check failed: {e}")))?;
    let (Some(record), true) = (record, ok) else {
        drop(attempt);
        audit_sign_in(&state, &req.username, SignInEvent::Failed).await;
        return Err(ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unauthenticated", "wrong name or password"));
    };
    attempt.succeeded();
    audit_sign_in(&state, &record.name, SignInEvent::Succeeded).await;
    let role = record.role;
    let signed = SignedIn { name: record.name, role, csrf: hex(&random_bytes::<32>()) };
    // A new session id on every login: a session id planted before login is worth nothing.
    session.cycle_id().await.map_err(|e| session_err(&e))?;
    session.insert(SESSION_KEY, &signed).await.map_err(|e| session_err(&e))?;
    Ok(Json(Me { name: signed.name, role, csrf_token: Some(signed.csrf) }))
}

/// Sign-ins are audited; a log that cannot be written does not keep an operator out (the
/// failure is logged), since the store being down already refuses the sign-in itself.
async fn audit_sign_in(state: &AppState, name: &str, event: SignInEvent) {
    if let Err(e) = state.memori.accounts().record_sign_in(name, event).await {
        tracing::warn!(target: "memori::audit", error = %e, "cannot audit a sign-in");
    }
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
    Ok(Operator { name: signed.name, role: record.role, by_key: false })
}

async fn api_key_operator(state: &AppState, token: &str) -> Result<Operator, ApiError> {
    let bad = || {
        ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unauthenticated", "invalid, revoked or expired API key")
    };
    let mut it = token.splitn(3, '_');
    let (Some("mk"), Some(prefix), Some(secret)) = (it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    let accounts = state.memori.accounts();
    let Some(key) = accounts.api_key(prefix).await? else {
        return Err(bad());
    };
    let hash = hex(&Sha256::digest(secret.as_bytes()));
    if !ct_eq(&hash, &key.secret_hash) || !key.is_live(chrono::Utc::now()) {
        return Err(bad());
    }
    if let Err(e) = accounts.touch_api_key(key.id).await {
        tracing::warn!(error = %e, "cannot record API key use");
    }
    Ok(Operator { name: format!("key:{} ({})", key.name, key.prefix), role: key.role, by_key: true })
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
        let held: Vec<_> = (0..5).map(|_| t.begin("ann|1.2.3.4").expect("a slot")).collect();
        assert!(t.begin("ann|1.2.3.4").is_none(), "five attempts in flight use up the window");
        drop(held);
        assert!(t.begin("ann|1.2.3.4").is_none(), "and count as failures once they end");
        assert!(t.begin("ann|5.6.7.8").is_some(), "per address");
        t.begin("bob|1.2.3.4").expect("per name").succeeded();
        let t = Throttle::default();
        for _ in 0..4 {
            drop(t.begin("ann|1.2.3.4"));
        }
        t.begin("ann|1.2.3.4").expect("a fifth").succeeded();
        assert!(t.begin("ann|1.2.3.4").is_some(), "a success forgets the failures");
    }

    #[test]
    fn the_client_address_comes_from_a_trusted_proxy_only() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().ok();
        let proxy = [ip("10.0.0.1").unwrap()];
        // Anyone can send the header; it counts only when the peer is the proxy.
        assert_eq!(client_ip(ip("8.8.8.8"), Some("1.1.1.1"), &proxy), ip("8.8.8.8"));
        assert_eq!(client_ip(ip("10.0.0.1"), Some("1.1.1.1, 2.2.2.2"), &proxy), ip("2.2.2.2"));
        assert_eq!(client_ip(ip("10.0.0.1"), Some("2.2.2.2, 10.0.0.1"), &proxy), ip("2.2.2.2"));
        assert_eq!(client_ip(ip("10.0.0.1"), None, &proxy), ip("10.0.0.1"));
        assert_eq!(client_ip(ip("10.0.0.1"), Some("junk"), &[]), ip("10.0.0.1"));
    }
}
