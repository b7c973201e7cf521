//! Test support shared by the integration tests: one test body on every database backend.
//!
//! Backends come from environment variables:
//! - SQLite always runs (a fresh file per test);
//! - `MEMORI_TEST_POSTGRES_URL` (for example `postgres://postgres@127.0.0.1:5432/postgres`)
//!   and `MEMORI_TEST_MYSQL_URL` (for example `mysql://memori:memori@127.0.0.1:3306`) name a
//!   server where each test creates, and afterwards drops, its own database;
//! - with `MEMORI_TEST_REQUIRE_ALL_BACKENDS=1` (set by `cargo xtask test` and CI), a missing
//!   URL fails the test instead of skipping that backend.

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

#[cfg(test)]
mod tests {
    use super::with_database;

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
