//! `cargo xtask`: the project's build chores, in Rust so that they run wherever cargo does.
//!
//! - `cargo xtask setup`: fetch the local embedding model and ONNX Runtime (`memori setup`).
//! - `cargo xtask dashboard [--check|--force]`: make sure the committed build of the browser app
//!   (`dashboard/dist`, compiled into `memori`) was made from the current sources; rebuild it
//!   with Trunk when they changed (installing the pinned tools first), or with `--check` fail
//!   and say what to run (CI). See `app_build`.
//! - `cargo xtask demo`: setup (and the app, only if its sources changed), import sample conversations and run a rig agent
//!   over an embedded SQLite database (the offline quickstart), then serve the dashboard on it
//!   with a fresh one-time admin password.
//! - `cargo xtask test`: setup and dashboard, make sure PostgreSQL and MariaDB are up (starting
//!   them, creating the test login and dropping databases an interrupted run left, when they
//!   are local), then every test on all three databases (the crash test's failpoints on), the
//!   browser tests in headless Chromium, the doc tests, a small load run and the fuzzers.
//! - `cargo xtask lint`: rustfmt check and clippy with warnings as errors (the browser app is
//!   checked for wasm32), and `cargo package` of the publishable library crates.
//! - `cargo xtask load`: the small load run alone (20 agent tasks x 5 turns through the hook on
//!   SQLite and PostgreSQL; fails on any lost, doubled or leaked message).
//! - `cargo xtask fuzz [SECONDS]`: each cargo-fuzz target of `memori-rig/fuzz` (default 300 s).
//!
//! Database start-up lives here only; `.ci/run` installs packages and calls these tasks.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod app_build;

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_URL: &str = "mysql://memori:memori@127.0.0.1:3306";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "setup" => setup(),
        "dashboard" => {
            let flag = std::env::args().nth(2);
            match flag.as_deref() {
                None => dashboard(AppBuild::IfStale),
                Some("--check") => dashboard(AppBuild::Check),
                Some("--force") => dashboard(AppBuild::Always),
                Some(other) => bail!("cargo xtask dashboard [--check|--force]: unknown flag {other:?}"),
            }
        }
        "demo" => demo(),
        "test" => {
            setup()?;
            dashboard(AppBuild::IfStale)?;
            browser()?;
            let (pg, my) = databases()?;
            // Failpoints (the crash test's) exist only in this test build, never in a release.
            let mut cmd =
                cargo_cmd(&["test", "--workspace", "--all-targets", "--features", "memori-dashboard/failpoints"]);
            cmd.env("MEMORI_TEST_POSTGRES_URL", &pg)
                .env("MEMORI_TEST_MYSQL_URL", my)
                .env("MEMORI_TEST_REQUIRE_ALL_BACKENDS", "1")
                .env("MEMORI_TEST_REQUIRE_MODEL", "1")
                .env("MEMORI_TEST_REQUIRE_BROWSER", "1");
            run(&mut cmd)?;
            // Doc tests (the crate docs and README snippets) are not part of --all-targets.
            run(cargo_cmd(&["test", "--workspace", "--doc"]).env("MEMORI_TEST_REQUIRE_MODEL", "1"))?;
            // A small load through the hook on SQLite and PostgreSQL: it fails on any lost, doubled
            // or leaked message. The figures in BENCHMARKS.md come from the release build at 200 x 20.
            load(&pg, 20, 5)?;
            // Bounded in the test run; `cargo xtask fuzz SECONDS` fuzzes longer.
            fuzz(15)
        }
        "load" => load(&databases()?.0, 20, 5),
        "fuzz" => fuzz(std::env::args().nth(2).map_or(Ok(300), |s| s.parse()).context("cargo xtask fuzz [SECONDS]")?),
        "lint" => {
            cargo(&["fmt", "--all", "--check"])?;
            cargo(&["clippy", "--workspace", "--all-targets", "--exclude", "memori-app", "--", "-D", "warnings"])?;
            wasm_target()?;
            cargo(&["clippy", "-p", "memori-app", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"])?;
            // The library crates stay publishable: metadata, versions on path dependencies, the
            // files they include. (`--no-verify`: building the packages alone takes a full build
            // without the workspace's profiles; run `cargo package` without it before publishing.)
            let publishable = ["-p", "memori-types", "-p", "memori-migrations", "-p", "memori-rig"];
            cargo(&[&["package", "--no-verify", "--allow-dirty", "--quiet"][..], &publishable[..]].concat())
        }
        _ => {
            eprintln!("usage: cargo xtask <setup|dashboard|demo|test|lint|load|fuzz [SECONDS]>");
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
            drop_leftovers(
                "psql",
                &[POSTGRES_URL, "-Atc"],
                "SELECT datname FROM pg_database WHERE datname LIKE 'memori_t_%'",
                |db| format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"),
            );
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
            let list = r"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'memori\_t\_%'";
            drop_leftovers("mariadb", &["-uroot", "-N", "-e"], list, |db| format!("DROP DATABASE IF EXISTS `{db}`"));
            MYSQL_URL.to_owned()
        }
    };
    Ok((pg, my))
}

/// Drop the test databases an interrupted earlier run left behind (`memori_t_*`): list them
/// with `client args.. list_sql`, then run `client args.. drop(name)` for each. Best effort.
fn drop_leftovers(client: &str, args: &[&str], list_sql: &str, drop: impl Fn(&str) -> String) {
    let Ok(out) = Command::new(client).args(args).arg(list_sql).output() else { return };
    for db in String::from_utf8_lossy(&out.stdout).lines().map(str::trim).filter(|l| l.starts_with("memori_t_")) {
        let _ = Command::new(client).args(args).arg(drop(db)).status();
    }
}

/// `$MEMORI_HOME`, default `~/.cache/memori-rig`: model files, tools, the built app.
fn memori_home() -> PathBuf {
    std::env::var_os("MEMORI_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cache/memori-rig")
    })
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// The first line `program --version` prints, if it runs.
fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_owned())
}

fn wasm_target() -> anyhow::Result<()> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown")) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// Trunk 0.21.14 and wasm-bindgen-cli 0.2.130 (built once into `$MEMORI_HOME/tools`),
/// binaryen 132's wasm-opt (npm), and the app's npm packages. Returns the PATH to build with.
/// Build a pinned cargo tool into `$MEMORI_HOME/tools/bin` unless that version is there.
fn install_tool(krate: &str, binary: &str, want: &str, locked: bool) -> anyhow::Result<PathBuf> {
    let tools = memori_home().join("tools");
    let path = tools.join("bin").join(binary);
    if version_of(&path).is_some_and(|v| v.contains(want)) {
        return Ok(path);
    }
    eprintln!("xtask: building {krate} into {} (once; several minutes)", tools.display());
    let root = tools.to_string_lossy().into_owned();
    let target = memori_home().join("tools-build").to_string_lossy().into_owned();
    let mut args = vec!["install", "--root", &root, "--target-dir", &target, krate];
    // wasm-bindgen-cli's lock names a crate version the registry mirror lacks (ENV.md).
    if locked {
        args.push("--locked");
    }
    run(cargo_cmd(&args)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_PROFILE_RELEASE_LTO", "off")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"))?;
    Ok(path)
}

/// Run `examples/load.rs` with `tasks` x `turns` agent calls (hash embedder) on a fresh SQLite
/// file and on a fresh PostgreSQL database of the server at `pg`; it exits non-zero on any lost,
/// doubled or leaked message.
fn load(pg: &str, tasks: usize, turns: usize) -> anyhow::Result<()> {
    let (tasks, turns) = (tasks.to_string(), turns.to_string());
    let example = ["run", "--quiet", "-p", "memori-examples", "--example", "load", "--", "--hash-embedder"];
    run(cargo_cmd(&example).args(["--tasks", &tasks, "--turns", &turns]))?;
    let db = "memori_xtask_load";
    let psql = |sql: String| Command::new("psql").arg(pg).arg("-qc").arg(sql).status();
    let created = psql(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .and_then(|_| psql(format!("CREATE DATABASE {db}")))
        .context("psql is needed to create the load test's database")?;
    if !created.success() {
        bail!("cannot create the database {db} on {pg}");
    }
    let url = match pg.rsplit_once('/') {
        Some((server, _)) if server.contains("://") && !server.ends_with('/') => format!("{server}/{db}"),
        _ => bail!("cannot read the PostgreSQL URL {pg}"),
    };
    let result = run(cargo_cmd(&example).args(["--tasks", &tasks, "--turns", &turns, "--database-url", &url]));
    let _ = psql(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    result
}

/// Run every cargo-fuzz target of `memori-rig/fuzz` for `seconds` each, from the committed
/// seeds plus the corpus kept in `$MEMORI_HOME/fuzz/corpus`. The instrumented build has its own
/// target directory. cargo-fuzz needs nightly flags; `RUSTC_BOOTSTRAP=1` lets the pinned
/// stable toolchain accept them (no other toolchain is fetched). No sanitizer: the workspace
/// forbids `unsafe`, so the fuzzers look for panics, hangs and broken invariants.
fn fuzz(seconds: u64) -> anyhow::Result<()> {
    let cargo_fuzz = install_tool("cargo-fuzz@0.13.2", "cargo-fuzz", "0.13.2", true)?;
    let fuzz_dir = root().join("memori-rig/fuzz");
    let work = memori_home().join("fuzz");
    let fuzz_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&cargo_fuzz);
        cmd.arg("fuzz")
            .args(args)
            .current_dir(root().join("memori-rig"))
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", work.join("target"));
        cmd
    };
    run(&mut fuzz_cmd(&["build", "-s", "none", "-O"]))?;
    for target in ["import_jsonl", "extraction_output", "scope_ids", "query_text"] {
        let corpus = work.join("corpus").join(target);
        let artifacts = work.join("artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let seeds = fuzz_dir.join("seeds").join(target);
        eprintln!("xtask: fuzzing {target} for {seconds} s (crashes go to {})", artifacts.display());
        run(fuzz_cmd(&["run", "-s", "none", "-O", target])
            .arg(&corpus)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-max_len=65536")
            .arg("-timeout=10")
            .arg(format!("-artifact_prefix={}/", artifacts.display())))
        .with_context(|| format!("fuzz target {target} failed; the input is in {}", artifacts.display()))?;
    }
    Ok(())
}

fn dashboard_tools() -> anyhow::Result<std::ffi::OsString> {
    wasm_target()?;
    let tools = memori_home().join("tools");
    let bin = tools.join("bin");
    install_tool("trunk@0.21.14", "trunk", "0.21.14", true)?;
    install_tool("wasm-bindgen-cli@0.2.130", "wasm-bindgen", "0.2.130", false)?;
    let binaryen = tools.join("binaryen");
    let wasm_opt = binaryen.join("node_modules/.bin/wasm-opt");
    if !version_of(&wasm_opt).is_some_and(|v| v.contains("version 132")) {
        std::fs::create_dir_all(&binaryen)?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&binaryen)
            .arg("binaryen@132.0.0"))
        .context("cannot install binaryen 132 from npm (needs node and npm)")?;
    }
    let app = root().join("dashboard/app");
    if !app.join("node_modules/cytoscape/dist/cytoscape.min.js").is_file() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&app))
            .context("cannot install the app's npm packages (dashboard/app/package-lock.json)")?;
    }
    let mut paths = vec![bin, binaryen.join("node_modules/.bin")];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    Ok(std::env::join_paths(paths)?)
}

/// When `cargo xtask dashboard` rebuilds the app.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AppBuild {
    /// Only when its sources changed since the committed build.
    IfStale,
    /// Never: fail when the committed build is stale (CI).
    Check,
    /// Always.
    Always,
}

/// Make sure `dashboard/dist` holds a build of the current app sources (see `app_build`).
fn dashboard(mode: AppBuild) -> anyhow::Result<()> {
    let root = root();
    let hash = app_build::sources_hash(&root, &mut cargo_cmd(&[]))?;
    if mode != AppBuild::Always && app_build::is_current(&root, &hash) {
        eprintln!("xtask: dashboard/dist is current ({hash}); the app is not rebuilt");
        return Ok(());
    }
    if mode == AppBuild::Check {
        bail!(
            "dashboard/dist was built from other sources than these (recorded {}, now {hash}).\n\
             Run `cargo xtask dashboard` and commit dashboard/dist.",
            app_build::recorded(&root).unwrap_or_else(|| "nothing".into())
        );
    }
    let path = dashboard_tools()?;
    let dist = app_build::dist(&root);
    run(Command::new(memori_home().join("tools/bin/trunk"))
        .args(["build", "--release", "--dist"])
        .arg(&dist)
        .current_dir(&root)
        .env("PATH", path))
    .context("trunk could not build the dashboard app")?;
    app_build::record(&root, &hash)?;
    eprintln!("xtask: built the app into dashboard/dist ({hash}); commit it with the sources");
    Ok(())
}

/// Headless Chromium and ChromeDriver for the browser tests (Debian's packages).
fn browser() -> anyhow::Result<()> {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    bail!(
        "the browser tests need Chromium and ChromeDriver: `apt-get install -y chromium chromium-driver` \
         (.ci/run does this)"
    )
}

/// The main job: a dashboard over an embedded SQLite database holding real captured and
/// augmented memories, with a fresh admin password printed once.
fn demo() -> anyhow::Result<()> {
    dashboard(AppBuild::IfStale)?;
    // One build for both programs. Built by two `cargo run`s, each gets its own feature
    // unification and much of the tree compiles twice (measured: 21 min instead of 12 on a
    // fresh 2-core machine).
    cargo(&["build", "-p", "memori-dashboard", "-p", "memori-examples", "--bin", "memori", "--example", "quickstart"])?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let memori_bin = target.join("debug/memori");
    run(Command::new(&memori_bin).arg("setup"))?;
    let db = root().join("target/memori-demo.db");
    std::fs::create_dir_all(root().join("target"))?;
    // Imports the sample conversations (offline extractor, local MiniLM embeddings) and runs a
    // rig agent in a new session, whose exchange is captured too.
    run(Command::new(target.join("debug/examples/quickstart")).arg(&db))?;
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let password = one_time_password();
    let memori = |args: &[&str]| {
        let mut cmd = Command::new(&memori_bin);
        cmd.args(["--database-url", &url]).args(args);
        cmd
    };
    run(memori(&["user", "add", "admin", "--role", "admin"]).env("MEMORI_PASSWORD", &password))?;
    let bind = std::env::var("MEMORI_BIND").unwrap_or_else(|_| "127.0.0.1:7700".into());
    println!(
        "\n  memori dashboard: http://{bind}\n  sign in as admin with the one-time password {password}\n  (a new one is set each time `cargo xtask demo` runs; Ctrl-C stops)\n"
    );
    run(&mut memori(&["serve", "--bind", &bind]))
}

/// 20 random characters from the kernel's generator.
fn one_time_password() -> String {
    let mut buf = [0u8; 20];
    use std::io::Read;
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).expect("/dev/urandom is readable");
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    buf.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}
