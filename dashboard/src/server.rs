//! The dashboard server: the JSON API under `/api/v1`, the browser app's static files, and
//! the security around both (sessions, CSRF, roles, headers).
//!
//! Every `/api/v1` route except `auth/login` needs a signed-in operator or an API key: one
//! layer over the whole API authenticates every request that the route table does not mark
//! [`Access::Public`], and each [`Access::Admin`] route checks the role. The static files (the
//! app's code, no data) are public so that the login page can load.

mod api;
pub mod auth;
mod error;
mod session_store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use memori_rig::Memori;
use sha2::{Digest, Sha256};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use auth::{Throttle, check_new_password, hash_password};
pub use error::ApiError;
pub use session_store::MemoriSessionStore;

/// Where the browser app's files come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AppFiles {
    /// Compiled into this binary: the committed build in `dashboard/dist` (see
    /// ARCHITECTURE.md, "Dashboard build"). What `memori serve` uses unless told otherwise.
    #[default]
    Embedded,
    /// Trunk's output in a directory (`memori serve --assets DIR`), for working on the app.
    Dir(PathBuf),
    /// No app: the API only, and a page that says how to get the app.
    None,
}

/// The built app compiled into the binary. Dot files (the source hash) are not served.
#[derive(rust_embed::Embed)]
#[folder = "dist/"]
#[exclude = ".*"]
struct EmbeddedApp;

/// The hash of the app sources the embedded build was made from (`dashboard/dist/.sources`,
/// written by `cargo xtask dashboard`); `memori --version` prints it.
pub const EMBEDDED_APP_SOURCES: &str = include_str!("../dist/.sources");

/// How the server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The browser app's files.
    pub assets: AppFiles,
    /// Send the session cookie only over HTTPS. Off by default on a loopback address (plain
    /// HTTP on localhost), on anywhere else.
    pub secure_cookies: bool,
    /// Idle time after which a browser session ends.
    pub session_idle: std::time::Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the login throttle).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            assets: AppFiles::Embedded,
            secure_cookies: true,
            session_idle: std::time::Duration::from_secs(8 * 3600),
            trusted_proxies: Vec::new(),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    memori: Memori,
    throttle: Arc<Throttle>,
    trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    index: Arc<Option<IndexPage>>,
}

/// The app's `index.html` and the CSP that lets exactly its inline scripts run.
struct IndexPage {
    html: String,
    csp: String,
}

/// The CSP for every response. Trunk's loader is an inline module script, allowed by hash
/// (computed from the built page at start-up), and wasm needs `'wasm-unsafe-eval'`. Styles
/// allow inline attributes, which the app sets; nothing else is loosened.
fn csp(script_hashes: &[String]) -> String {
    let hashes: String = script_hashes.iter().map(|h| format!(" 'sha256-{h}'")).collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

fn load_index(files: &AppFiles) -> Option<IndexPage> {
    let html = match files {
        AppFiles::Embedded => String::from_utf8(EmbeddedApp::get("index.html")?.data.into_owned()).ok()?,
        AppFiles::Dir(dir) => std::fs::read_to_string(dir.join("index.html")).ok()?,
        AppFiles::None => return None,
    };
    let mut hashes = Vec::new();
    let mut rest = html.as_str();
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else { break };
        let tag = &after[..open_end];
        let body_start = open_end + 1;
        let Some(close) = after[body_start..].find("</script>") else { break };
        let body = &after[body_start..body_start + close];
        if !tag.contains(" src=") && !body.trim().is_empty() {
            use base64::Engine as _;
            hashes.push(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes())));
        }
        rest = &after[body_start + close..];
    }
    Some(IndexPage { csp: csp(&hashes), html })
}

/// Who may call an API route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: only `POST /auth/login`.
    Public,
    /// Any signed-in operator or API key, viewers included (reads, the recall preview,
    /// signing out). Mutations from a browser session also need its CSRF token.
    Operator,
    /// The admin role (every change to stored data, settings and keys).
    Admin,
}

/// One route of the JSON API, as the router serves it (paths relative to `/api/v1`).
#[derive(Clone, Debug)]
pub struct ApiRoute {
    /// HTTP method.
    pub method: Method,
    /// Path pattern, with `{param}` segments.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// Builds the API router and its route table together: a route cannot be added without
/// saying who may call it, and the table is what the security tests walk and what the OpenAPI
/// document must match.
struct Api {
    router: Router<AppState>,
    table: Vec<ApiRoute>,
}

impl Api {
    fn route(mut self, method: Method, path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Self {
        let handler = match access {
            Access::Admin => handler.route_layer(middleware::from_fn(auth::require_admin)),
            Access::Public | Access::Operator => handler,
        };
        self.router = self.router.route(path, handler);
        self.table.push(ApiRoute { method, path, access });
        self
    }
}

/// Every `/api/v1` route with its handler and access level.
fn api_router() -> (Router<AppState>, Vec<ApiRoute>) {
    use Access::{Admin, Operator, Public};
    let api = Api { router: Router::new(), table: Vec::new() }
        .route(Method::POST, "/auth/login", Public, post(auth::login))
        .route(Method::POST, "/auth/logout", Operator, post(auth::logout))
        .route(Method::GET, "/auth/me", Operator, get(auth::me))
        .route(Method::GET, "/overview", Operator, get(api::overview))
        .route(Method::GET, "/entities", Operator, get(api::entities))
        .route(Method::GET, "/entities/{id}", Operator, get(api::entity))
        .route(Method::DELETE, "/entities/{id}", Admin, delete(api::erase_entity))
        .route(Method::GET, "/entities/{id}/export", Operator, get(api::export_entity))
        .route(Method::GET, "/entities/{id}/graph", Operator, get(api::graph))
        .route(Method::GET, "/entities/{id}/memories", Operator, get(api::entity_memories))
        .route(Method::GET, "/entities/{id}/sessions/{session}", Operator, get(api::transcript))
        .route(Method::GET, "/memories/{id}", Operator, get(api::memory))
        .route(Method::PATCH, "/memories/{id}", Admin, patch(api::update_memory))
        .route(Method::DELETE, "/memories/{id}", Admin, delete(api::delete_memory))
        .route(Method::POST, "/recall/preview", Operator, post(api::recall_preview))
        .route(Method::GET, "/settings", Operator, get(api::settings))
        .route(Method::PUT, "/settings", Admin, put(api::save_settings))
        .route(Method::GET, "/settings/history", Operator, get(api::settings_history))
        .route(Method::POST, "/retention/apply", Admin, post(api::apply_retention))
        .route(Method::GET, "/audit", Operator, get(api::audit))
        .route(Method::GET, "/jobs", Operator, get(api::jobs))
        .route(Method::POST, "/jobs/retry-dead", Admin, post(api::retry_dead))
        .route(Method::POST, "/jobs/{id}/retry", Admin, post(api::retry_job))
        .route(Method::GET, "/api-keys", Admin, get(api::api_keys))
        .route(Method::POST, "/api-keys", Admin, post(api::create_api_key))
        .route(Method::DELETE, "/api-keys/{id}", Admin, delete(api::revoke_api_key))
        .route(Method::GET, "/operators", Operator, get(api::operators))
        .route(Method::GET, "/openapi.json", Operator, get(api::openapi));
    (api.router, api.table)
}

/// The API's route table (paths relative to `/api/v1`).
pub fn routes() -> Vec<ApiRoute> {
    api_router().1
}

/// The whole app: API, static files, sessions and security headers.
pub fn router(memori: Memori, options: &ServerOptions) -> Router {
    let index = load_index(&options.assets);
    if options.assets != AppFiles::None && index.is_none() {
        tracing::warn!(assets = ?options.assets, "no index.html in the app's files; serving the API only");
    }
    let state = AppState {
        memori: memori.clone(),
        throttle: Arc::new(Throttle::default()),
        trusted_proxies: Arc::new(options.trusted_proxies.clone()),
        index: Arc::new(index),
    };
    let sessions = SessionManagerLayer::new(MemoriSessionStore::new(memori))
        .with_name("memori_session")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(options.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            time::Duration::try_from(options.session_idle).unwrap_or(time::Duration::hours(8)),
        ));

    let (api, table) = api_router();
    let public: Vec<(Method, &'static str)> =
        table.iter().filter(|r| r.access == Access::Public).map(|r| (r.method.clone(), r.path)).collect();
    let api = api
        .fallback(|| async { ApiError::not_found("no such API route") })
        .layer(middleware::from_fn_with_state(
            auth::Gate { state: state.clone(), public: Arc::new(public) },
            auth::authenticate,
        ))
        .layer(middleware::from_fn(no_store));

    // Probes answer anyone (a load balancer has no login) and say nothing but ready or not;
    // `/metrics` needs an operator or an API key (`Authorization: Bearer`), like the API.
    // None of them is cached.
    let monitoring = Router::new()
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(
            auth::Gate { state: state.clone(), public: Arc::new(Vec::new()) },
            auth::authenticate,
        ))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .layer(middleware::from_fn(no_store));
    let mut app = Router::new().nest("/api/v1", api).merge(monitoring);
    let files = match &options.assets {
        _ if state.index.is_none() => None,
        AppFiles::Embedded => Some(Router::<AppState>::new().fallback(get(embedded_file))),
        AppFiles::Dir(dir) => Some(Router::new().fallback_service(
            tower_http::services::ServeDir::new(dir).fallback(get(spa_index).with_state(state.clone())),
        )),
        AppFiles::None => None,
    };
    if let Some(files) = files {
        // The app's code is public and compressible; API answers are not compressed (they mix
        // secrets such as the CSRF token with text an attacker may choose).
        let files = files
            .layer(middleware::from_fn(static_cache))
            .layer(tower_http::compression::CompressionLayer::new())
            .with_state(state.clone());
        app = app.route("/", get(spa_index)).route("/index.html", get(spa_index)).fallback_service(files);
    } else {
        app = app.fallback(get(not_built));
    }
    app.layer(sessions)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn(too_large_as_json))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .with_state(state)
}

/// Largest request body accepted.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Every SPA route (`/entities/alice`, ...) answers with the app's page, never cached: after
/// sign-out, Back must not show a page from the cache.
async fn spa_index(State(state): State<AppState>) -> Response {
    let mut res = match state.index.as_ref() {
        Some(page) => Html(page.html.clone()).into_response(),
        None => not_built().await.into_response(),
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A file of the embedded app, or the app's page for any other path (the app's own routes).
/// Files carry an `ETag` (their SHA-256), so the unhashed ones (`no-cache`) are revalidated
/// with a 304 instead of downloaded again.
async fn embedded_file(
    State(state): State<AppState>,
    req_headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let path = uri.path().trim_start_matches('/');
    let Some(file) = EmbeddedApp::get(path).filter(|_| !path.is_empty()) else {
        return spa_index(State(state)).await;
    };
    let etag = format!("\"{}\"", auth::hex(&file.metadata.sha256_hash()));
    let fresh = req_headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = match file.data {
            std::borrow::Cow::Borrowed(bytes) => axum::body::Body::from(bytes),
            std::borrow::Cow::Owned(bytes) => axum::body::Body::from(bytes),
        };
        let mut res = body.into_response();
        if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
            res.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        res
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Static files: names Trunk gives a content hash (`app-0123456789abcdef_bg.wasm`) never
/// change, so browsers keep them a year; anything else is checked again on every use.
async fn static_cache(req: Request, next: Next) -> Response {
    let immutable = is_hashed_name(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() && !res.headers().contains_key(header::CACHE_CONTROL) {
        let policy = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    res
}

/// Whether a file name carries a hash of at least 16 hex digits after a `-`.
fn is_hashed_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default().trim_end_matches("_bg");
    stem.rsplit_once('-').is_some_and(|(_, h)| h.len() >= 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The body-limit layer answers 413 in plain text; every error of the API is JSON.
async fn too_large_as_json(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    let json = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if json {
        return res;
    }
    let mut res = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the request body is larger than {} MiB", BODY_LIMIT / (1024 * 1024)),
    )
    .into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn not_built() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><title>memori</title><p>This server has no dashboard app: the directory given \
             to <code>--assets</code> holds no <code>index.html</code>, or the binary was built without \
             one. Leave out <code>--assets</code> to use the app built into <code>memori</code>, or build \
             it with <code>cargo xtask dashboard</code>. The JSON API under <code>/api/v1</code> works \
             without it.</p>",
        ),
    )
}

/// `GET /metrics`: Prometheus text (see `Memori::prometheus_metrics`).
async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.memori.prometheus_metrics().await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// `GET /readyz`: 200 when the database answers and its schema is current, else 503. The
/// reason goes to the log, not to an unauthenticated caller.
async fn readyz(State(state): State<AppState>) -> Response {
    let r = state.memori.readiness().await;
    if r.ready {
        return "ready\n".into_response();
    }
    tracing::warn!(problem = r.problem.as_deref().unwrap_or_default(), "not ready");
    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
}

/// API answers are never cached: they hold personal data (and probes and metrics are live).
async fn no_store(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let csp = state.index.as_ref().as_ref().map_or_else(|| csp(&[]), |p| p.csp.clone());
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    res
}

/// Serve until Ctrl-C or SIGTERM. Expired browser sessions are swept hourly, and the saved
/// retention policy (if any) is applied hourly by this process.
pub async fn serve(memori: Memori, addr: SocketAddr, options: ServerOptions) -> anyhow::Result<()> {
    let app = router(memori.clone(), &options);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let sweeper = {
        let memori = memori.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tick.tick().await;
                if let Err(e) = memori.accounts().delete_expired_web_sessions().await {
                    tracing::warn!(error = %e, "cannot sweep expired sessions");
                }
                match memori.settings().await {
                    Ok((_, s)) if s.retention.days.is_some() || !s.retention.processes.is_empty() => {
                        match memori.apply_retention("system").await {
                            Ok(r) => tracing::info!(removed = ?r.removed, "retention applied"),
                            Err(e) => tracing::warn!(error = %e, "retention failed"),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read settings for retention"),
                }
            }
        })
    };
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    sweeper.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
