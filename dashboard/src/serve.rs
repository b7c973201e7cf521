//! `memori serve`: options from flags, the environment or a config file, then the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use memori_dashboard::server::{self, AppFiles, ServerOptions};
use memori_rig::Memori;

pub(crate) struct Args {
    pub(crate) url: String,
    pub(crate) bind: Option<SocketAddr>,
    pub(crate) assets: Option<PathBuf>,
    pub(crate) workers: Option<usize>,
    pub(crate) secure_cookies: Option<String>,
    pub(crate) trusted_proxy: Vec<std::net::IpAddr>,
    pub(crate) file: HashMap<String, String>,
}

const KEYS: [&str; 6] = ["database_url", "bind", "assets", "workers", "secure_cookies", "trusted_proxies"];

/// Read `KEY=VALUE` lines; `#` starts a comment line. Unknown keys are an error.
pub(crate) fn read_config(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("{}:{}: expected KEY=VALUE", path.display(), n + 1);
        };
        let key = key.trim().to_lowercase();
        if !KEYS.contains(&key.as_str()) {
            bail!("{}:{}: unknown setting {key:?} (known: {})", path.display(), n + 1, KEYS.join(", "));
        }
        out.insert(key, value.trim().trim_matches('"').to_owned());
    }
    Ok(out)
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let f = |k: &str| args.file.get(k).cloned();
    let bind = match (args.bind, f("bind")) {
        (Some(b), _) => b,
        (None, Some(b)) => b.parse().with_context(|| format!("config: bind {b:?} is not an address"))?,
        (None, None) => SocketAddr::from(([127, 0, 0, 1], 7700)),
    };
    let workers = match (args.workers, f("workers")) {
        (Some(w), _) => w,
        (None, Some(w)) => w.parse().with_context(|| format!("config: workers {w:?} is not a number"))?,
        (None, None) => 1,
    };
    let secure = match args.secure_cookies.or_else(|| f("secure_cookies")).as_deref().unwrap_or("auto") {
        "auto" => !bind.ip().is_loopback(),
        "on" | "true" => true,
        "off" | "false" => false,
        other => bail!("secure_cookies must be auto, on or off, not {other:?}"),
    };
    let assets = match args.assets.or_else(|| f("assets").map(PathBuf::from)) {
        Some(dir) if dir.join("index.html").is_file() => AppFiles::Dir(dir),
        Some(dir) => bail!(
            "--assets {}: no index.html there (leave --assets out to serve the app built into memori)",
            dir.display()
        ),
        None => AppFiles::Embedded,
    };
    let trusted_proxies = if args.trusted_proxy.is_empty() {
        let listed = f("trusted_proxies").unwrap_or_default();
        let addresses = listed.split(',').map(str::trim).filter(|a| !a.is_empty());
        addresses
            .map(|a| a.parse().with_context(|| format!("config: trusted_proxies: {a:?} is not an IP address")))
            .collect::<anyhow::Result<Vec<std::net::IpAddr>>>()?
    } else {
        args.trusted_proxy
    };
    let memori = Memori::builder()
        .database_url(&args.url)
        .configure(|c| c.workers = workers)
        .build()
        .await
        .with_context(|| format!("cannot open memory at {}", memori_rig::redact_url(&args.url)))?;
    if memori.accounts().operators().await?.is_empty() {
        eprintln!("memori serve: no operator can sign in yet; add one with `memori user add NAME --role admin`");
    }
    eprintln!("memori serve: http://{bind} on {}", memori_rig::redact_url(&args.url));
    let options = ServerOptions { assets, secure_cookies: secure, trusted_proxies, ..ServerOptions::default() };
    let result = server::serve(memori.clone(), bind, options).await;
    memori.shutdown().await;
    result
}
