//! `cargo xtask`: the project's build chores, in Rust so that they run wherever cargo does.
//!
//! - `cargo xtask setup`: fetch the local embedding model and ONNX Runtime (`memori setup`).
//! - `cargo xtask demo`: setup, then the offline quickstart over an embedded SQLite database.
//! - `cargo xtask test`: setup, make sure PostgreSQL and MariaDB are up (starting them and
//!   creating the test login when they are local), then every test on all three databases.
//! - `cargo xtask lint`: rustfmt check and clippy with warnings as errors.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_URL: &str = "mysql://memori:memori@127.0.0.1:3306";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "setup" => setup(),
        "demo" => {
            setup()?;
            cargo(&[
                "run",
                "--quiet",
                "-p",
                "memori-examples",
                "--example",
                "quickstart",
                "--",
                "target/memori-demo.db",
            ])
        }
        "test" => {
            setup()?;
            let (pg, my) = databases()?;
            let mut cmd = cargo_cmd(&["test", "--workspace", "--all-targets"]);
            cmd.env("MEMORI_TEST_POSTGRES_URL", pg)
                .env("MEMORI_TEST_MYSQL_URL", my)
                .env("MEMORI_TEST_REQUIRE_ALL_BACKENDS", "1")
                .env("MEMORI_TEST_REQUIRE_MODEL", "1");
            run(&mut cmd)?;
            // Doc tests (the crate docs and README snippets) are not part of --all-targets.
            run(cargo_cmd(&["test", "--workspace", "--doc"]).env("MEMORI_TEST_REQUIRE_MODEL", "1"))
        }
        "lint" => {
            cargo(&["fmt", "--all", "--check"])?;
            cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
        }
        _ => {
            eprintln!("usage: cargo xtask <setup|demo|test|lint>");
            bail!("unknown task {task:?}")
        }
    }
}

fn cargo_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args);
    cmd
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    run(&mut cargo_cmd(args))
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn setup() -> anyhow::Result<()> {
    cargo(&["run", "--quiet", "-p", "memori-dashboard", "--bin", "memori", "--", "setup"])
}

fn reachable(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(500)).is_ok()
}

fn wait_for(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reachable(port) {
        if Instant::now() > deadline {
            bail!("{what} did not come up on 127.0.0.1:{port} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(())
}

/// Test URLs for PostgreSQL and MariaDB. Explicit `MEMORI_TEST_*_URL` variables win; otherwise
/// the local servers are used, started when down (as root on the project's machines).
fn databases() -> anyhow::Result<(String, String)> {
    let pg = match std::env::var("MEMORI_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) => {
            if !reachable(5432) {
                eprintln!("xtask: PostgreSQL is down, starting it");
                let versions = std::fs::read_dir("/etc/postgresql")
                    .context("PostgreSQL is not installed (no /etc/postgresql); see README")?;
                for v in versions.filter_map(Result::ok) {
                    let _ = Command::new("pg_ctlcluster")
                        .args(["--skip-systemctl-redirect", &v.file_name().to_string_lossy(), "main", "start"])
                        .status();
                }
                wait_for(5432, "PostgreSQL")?;
            }
            POSTGRES_URL.to_owned()
        }
    };
    let my = match std::env::var("MEMORI_TEST_MYSQL_URL") {
        Ok(url) => url,
        Err(_) => {
            if !reachable(3306) {
                eprintln!("xtask: MariaDB is down, starting it");
                let _ = std::fs::create_dir_all("/run/mysqld");
                let _ = Command::new("chown").args(["mysql:mysql", "/run/mysqld"]).status();
                run(Command::new("start-stop-daemon").args([
                    "--start",
                    "--oknodo",
                    "--background",
                    "--exec",
                    "/usr/sbin/mariadbd",
                ]))
                .context("cannot start MariaDB; see README")?;
                wait_for(3306, "MariaDB")?;
            }
            // The tests create and drop a database each: a login that may do so.
            let sql = "CREATE USER IF NOT EXISTS 'memori'@'127.0.0.1' IDENTIFIED BY 'memori'; \
                       CREATE USER IF NOT EXISTS 'memori'@'localhost' IDENTIFIED BY 'memori'; \
                       GRANT ALL ON *.* TO 'memori'@'127.0.0.1'; GRANT ALL ON *.* TO 'memori'@'localhost'; FLUSH PRIVILEGES;";
            run(Command::new("mariadb").args(["-uroot", "-e", sql]))
                .context("cannot create the MariaDB test login (needs local root access)")?;
            MYSQL_URL.to_owned()
        }
    };
    Ok((pg, my))
}
