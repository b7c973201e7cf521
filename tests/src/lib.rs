//! Test support shared by the integration tests: one test body on every database backend.
//!
//! Backends come from environment variables:
//! - SQLite always runs (a fresh file per test);
//! - `MEMORI_TEST_POSTGRES_URL` (for example `postgres://postgres@127.0.0.1:5432/postgres`)
//!   and `MEMORI_TEST_MYSQL_URL` (for example `mysql://memori:memori@127.0.0.1:3306`) name a
//!   server where each test creates, and afterwards drops, its own database;
//! - with `MEMORI_TEST_REQUIRE_ALL_BACKENDS=1` (set by `cargo xtask test` and CI), a missing
//!   URL fails the test instead of skipping that backend.

pub mod openai;

use std::future::Future;

use sea_orm::{ConnectionTrait, Database};

/// Whether the local embedding model is set up. With `MEMORI_TEST_REQUIRE_MODEL=1` (set by
/// `cargo xtask test` and CI) a missing model panics with the fix; otherwise the caller is
/// told to skip, and a note says why.
pub fn model_available() -> bool {
    match memori_rig::embed::assets::ModelFiles::locate() {
        Ok(_) => true,
        Err(e) if std::env::var("MEMORI_TEST_REQUIRE_MODEL").is_ok_and(|v| v == "1") => panic!("{e}"),
        Err(e) => {
            eprintln!("note: skipping a real-model test: {e}");
            false
        }
    }
}

/// A database backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file in the temp directory.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl Backend {
    fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some("MEMORI_TEST_POSTGRES_URL"),
            Backend::MySql => Some("MEMORI_TEST_MYSQL_URL"),
        }
    }
}

/// A fresh, empty database for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The backend.
    pub backend: Backend,
    /// URL of the fresh database.
    pub url: String,
    admin_url: Option<String>,
    name: String,
}

fn require_all() -> bool {
    std::env::var("MEMORI_TEST_REQUIRE_ALL_BACKENDS").is_ok_and(|v| v == "1" || v == "true")
}

fn with_database(server_url: &str, db: &str) -> String {
    // Replace (or add) the path component of `scheme://auth@host:port/path?query`.
    let (base, query) = server_url.split_once('?').map_or((server_url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..].find('/').map_or(base.len(), |i| after_scheme + i);
    let mut url = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

impl TestDb {
    /// Create a fresh database, or `None` when the backend is not configured (and not required).
    pub async fn create(backend: Backend) -> anyhow::Result<Option<Self>> {
        let name = format!("memori_t_{}", uuid::Uuid::new_v4().simple());
        let Some(var) = backend.env_var() else {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            return Ok(Some(Self {
                backend,
                url: format!("sqlite://{}?mode=rwc", path.display()),
                admin_url: None,
                name,
            }));
        };
        let server = match std::env::var(var) {
            Ok(url) if !url.is_empty() => url,
            _ if require_all() => anyhow::bail!(
                "{var} is not set but MEMORI_TEST_REQUIRE_ALL_BACKENDS=1: every backend must run (see README, `cargo xtask test`)"
            ),
            _ => {
                eprintln!("note: {backend:?} not configured ({var} unset); this test ran on the other backends only");
                return Ok(None);
            }
        };
        let admin =
            Database::connect(&server).await.map_err(|e| anyhow::anyhow!("cannot reach {backend:?} at {var}: {e}"))?;
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        admin.close().await?;
        Ok(Some(Self { backend, url: with_database(&server, &name), admin_url: Some(server), name }))
    }

    /// Drop the database (SQLite: delete the files).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        match (&self.admin_url, self.backend) {
            (None, _) => {
                let path = std::env::temp_dir().join(format!("{}.db", self.name));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            (Some(admin), backend) => {
                let admin = Database::connect(admin).await?;
                let force = if backend == Backend::Postgres { " WITH (FORCE)" } else { "" };
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {}{force}", self.name)).await?;
                admin.close().await?;
            }
        }
        Ok(())
    }
}

/// Run `body` against a fresh database of `backend`, then drop it. A failing body fails the
/// test after cleanup.
pub async fn run_on<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let db = match TestDb::create(backend).await {
        Ok(Some(db)) => db,
        Ok(None) => return,
        Err(e) => panic!("cannot create a {backend:?} test database: {e:#}"),
    };
    let result = body(db.url.clone()).await;
    if let Err(e) = db.drop_database().await {
        eprintln!("warning: cannot drop test database: {e:#}");
    }
    if let Err(e) = result {
        panic!("failed on {backend:?}: {e:#}");
    }
}

/// Define one test per backend from one body: `backend_test!(name, |url| async move { .. })`
/// expands to `name::sqlite`, `name::postgres` and `name::mysql`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::run_on($crate::Backend::Sqlite, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::run_on($crate::Backend::Postgres, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                $crate::run_on($crate::Backend::MySql, $body).await;
            }
        }
    };
}

/// Every job of the database at `url`: id, status, attempts and the worker that last claimed
/// it (`<pid>-<uuid>-<task>`), read with SQL so tests of other crates need no sea-orm.
pub async fn job_claims(url: &str) -> anyhow::Result<Vec<(i64, String, i32, Option<String>)>> {
    use sea_orm::{FromQueryResult, JsonValue, Statement};
    let db = Database::connect(url).await?;
    let sql = "SELECT id, status, attempts, locked_by FROM memori_jobs ORDER BY id";
    let rows = JsonValue::find_by_statement(Statement::from_string(db.get_database_backend(), sql)).all(&db).await?;
    db.close().await?;
    rows.into_iter()
        .map(|r| {
            let field = |k: &str| r.get(k).cloned().unwrap_or_default();
            Ok((
                field("id").as_i64().ok_or_else(|| anyhow::anyhow!("job id in {r}"))?,
                field("status").as_str().unwrap_or_default().to_owned(),
                i32::try_from(field("attempts").as_i64().unwrap_or(-1))?,
                field("locked_by").as_str().map(str::to_owned),
            ))
        })
        .collect()
}

/// What a [`Proxy`] does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward to the database.
    Up,
    /// Close every open connection and refuse new ones at once: the server is down.
    Down,
    /// Close every open connection and accept new ones without ever answering: a network that
    /// drops packets, where only timeouts help.
    Blackhole,
}

/// A TCP proxy in front of a database server that a test can cut and restore: for the code
/// under test the database goes away while the server itself (shared by other tests) runs on.
pub struct Proxy {
    /// Where the proxy listens (loopback).
    pub addr: std::net::SocketAddr,
    state: std::sync::Arc<ProxyState>,
    accept: tokio::task::JoinHandle<()>,
}

struct ProxyState {
    mode: std::sync::Mutex<ProxyMode>,
    connections: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Proxy {
    /// Listen on a free loopback port and forward to the host and port of `url`.
    pub async fn start(url: &str) -> anyhow::Result<Self> {
        let upstream = host_port(url).ok_or_else(|| anyhow::anyhow!("no host:port in {url}"))?.to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = std::sync::Arc::new(ProxyState {
            mode: std::sync::Mutex::new(ProxyMode::Up),
            connections: std::sync::Mutex::new(Vec::new()),
        });
        let shared = std::sync::Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mode = *shared.mode.lock().expect("proxy lock");
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    match mode {
                        ProxyMode::Down => {}
                        ProxyMode::Blackhole => {
                            let _held = client;
                            std::future::pending::<()>().await;
                        }
                        ProxyMode::Up => {
                            if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        }
                    }
                });
                let mut connections = shared.connections.lock().expect("proxy lock");
                connections.retain(|c| !c.is_finished());
                connections.push(task.abort_handle());
            }
        });
        Ok(Self { addr, state, accept })
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        match host_port(url) {
            Some(hp) => url.replacen(hp, &self.addr.to_string(), 1),
            None => url.to_owned(),
        }
    }

    /// Switch mode; `Down` and `Blackhole` also close every open connection.
    pub fn set(&self, mode: ProxyMode) {
        *self.state.mode.lock().expect("proxy lock") = mode;
        if mode != ProxyMode::Up {
            for c in self.state.connections.lock().expect("proxy lock").drain(..) {
                c.abort();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set(ProxyMode::Down);
    }
}

/// The `host:port` of `scheme://[auth@]host:port/...`.
fn host_port(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let start = authority.rfind('@').map_or(0, |i| i + 1);
    Some(&authority[start..]).filter(|hp| hp.contains(':'))
}

#[cfg(test)]
mod tests {
    use super::{host_port, with_database};

    #[test]
    fn proxy_urls() {
        assert_eq!(host_port("postgres://postgres@127.0.0.1:5432/x"), Some("127.0.0.1:5432"));
        assert_eq!(host_port("mysql://u:p@127.0.0.1:3306"), Some("127.0.0.1:3306"));
        assert_eq!(host_port("sqlite:///tmp/x.db"), None);
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("mysql://u:p@127.0.0.1:3306", "x"), "mysql://u:p@127.0.0.1:3306/x");
        assert_eq!(with_database("mysql://u:p@h/db?ssl-mode=disabled", "x"), "mysql://u:p@h/x?ssl-mode=disabled");
    }
}
