//! `memori eval`: retrieval quality and latency on LoCoMo / LongMemEval files, through the
//! shipped import and recall path with the default configuration.
//!
//! Each conversation goes into its own fresh SQLite database and is augmented by the real
//! pipeline (offline extractor, local MiniLM embeddings); each question is asked as of its
//! question date when it has one. Retrieved memories are mapped to their source turn ids (a
//! memory from several turns counts for each, once, in rank order). R@k is the share of a
//! question's evidence turns in the top k, Hit@k whether any is, All@k whether all are, NDCG@k
//! with binary relevance; averaged over questions that have evidence (LoCoMo category 5 and
//! LongMemEval `_abs` questions have none and are left out). The file format is the one
//! `memori_rig::import` reads.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use memori_rig::{EntityId, Memori, RecallRequest, Recalled};

use crate::progress::Progress;
use serde_json::json;

/// What to evaluate.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) input: PathBuf,
    pub(crate) ks: Vec<usize>,
    pub(crate) limit: Option<usize>,
    pub(crate) json: Option<PathBuf>,
    pub(crate) work_dir: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) strict_as_of: bool,
}

/// One question's figures at each k.
#[derive(Clone, Debug, PartialEq)]
struct Scores {
    recall: f64,
    hit: f64,
    all: f64,
    ndcg: f64,
}

/// Unique source turn ids of memories, in rank order, each with the rank (0-based) of the
/// memory that brought it.
fn turns(recalled: &[Recalled]) -> Vec<(usize, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (rank, r) in recalled.iter().enumerate() {
        for s in &r.memory.sources {
            if let Some(t) = &s.external_id
                && seen.insert(t.clone())
            {
                out.push((rank, t.clone()));
            }
        }
    }
    out
}

/// Figures for the top `k` memories. NDCG is binary at the memory level: a memory is relevant
/// when it brings at least one evidence turn not brought by a better one.
fn score(turns: &[(usize, String)], evidence: &[String], k: usize) -> Scores {
    let evidence: HashSet<&str> = evidence.iter().map(String::as_str).collect();
    let found: Vec<usize> =
        turns.iter().filter(|(rank, t)| *rank < k && evidence.contains(t.as_str())).map(|(rank, _)| *rank).collect();
    let n = evidence.len().max(1) as f64;
    let mut relevant_ranks: Vec<usize> = found.clone();
    relevant_ranks.dedup();
    let dcg: f64 = relevant_ranks.iter().map(|&r| 1.0 / ((r + 2) as f64).log2()).sum();
    let idcg: f64 = (0..evidence.len().min(k)).map(|r| 1.0 / ((r + 2) as f64).log2()).sum();
    Scores {
        recall: found.len() as f64 / n,
        hit: f64::from(u8::from(!found.is_empty())),
        all: f64::from(u8::from(found.len() == evidence.len())),
        ndcg: if idcg > 0.0 { dcg / idcg } else { 0.0 },
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A question's category as reported: LoCoMo's name for its code, LongMemEval's type.
fn category(q: &memori_rig::import::Question) -> String {
    q.category_name.clone().unwrap_or_else(|| match &q.category {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    })
}

/// Excluded from retrieval scores: LoCoMo category 5 (adversarial) and LongMemEval abstention
/// questions, and anything without evidence.
fn excluded(q: &memori_rig::import::Question) -> bool {
    q.evidence_turn_ids.is_empty() || q.category.as_i64() == Some(5) || q.qid.ends_with("_abs")
}

struct Outcome {
    category: String,
    scores: Vec<Scores>,
    latency_ms: f64,
    tokens: usize,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let mut ks = args.ks.clone();
    ks.sort_unstable();
    ks.dedup();
    anyhow::ensure!(!ks.is_empty() && ks[0] > 0, "--k needs positive values, for example --k 1,5,10");
    let k_max = *ks.last().unwrap_or(&10);
    let config: memori_rig::RecallConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let cfg: memori_rig::RecallConfig = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a recall configuration", path.display()))?;
            cfg.validate().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            cfg
        }
        None => memori_rig::RecallConfig::default(),
    };
    let mut conversations = memori_rig::import::read_file(&args.input)?;
    if let Some(n) = args.limit {
        conversations.truncate(n);
    }
    let dataset = conversations.first().and_then(|c| c.dataset.clone()).unwrap_or_else(|| "unknown".into());
    let embedder: Arc<dyn memori_rig::Embedder> = Arc::new(
        memori_rig::embed::FastEmbedder::from_cache()
            .context("the evaluation uses the local embedding model; run `memori setup` first")?,
    );
    let (dir, temporary) = match &args.work_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("memori-eval-{}", std::process::id())), true),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let (mut outcomes, mut turns_total, mut augment_time) = (Vec::new(), 0usize, Duration::ZERO);
    let mut extraction = Extraction::default();
    let mut progress = Progress::new("conversations", conversations.len() as u64);
    for (i, conv) in conversations.iter().enumerate() {
        let db = dir.join(format!("{i:04}.db"));
        let memori = Memori::builder()
            .database_url(format!("sqlite://{}?mode=rwc", db.display()))
            .shared_embedder(Arc::clone(&embedder))
            .configure(|c| {
                c.workers = 2;
                c.recall = config.clone();
            })
            .build()
            .await
            .with_context(|| format!("cannot open {}", db.display()))?;
        let t = Instant::now();
        let receipt = memori_rig::import::import_conversation(&memori, conv, "eval").await?;
        memori.flush_timeout(Duration::from_secs(3600)).await?;
        augment_time += t.elapsed();
        turns_total += receipt.stored;
        let entity = EntityId::new(conv.id.as_str())?;
        extraction.add(&memori, &entity).await?;
        let last_said = conv
            .sessions
            .iter()
            .filter_map(|s| {
                let start = s.date_iso.as_deref().and_then(memori_rig::import::parse_iso_date)?;
                Some(start + chrono::Duration::seconds(s.turns.len() as i64))
            })
            .max()
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        for q in conv.questions.iter().filter(|q| !excluded(q)) {
            let mut req = RecallRequest::new(q.question.as_str()).limit(k_max);
            if let Some(d) = q.question_date_iso.as_deref() {
                let asked = memori_rig::import::parse_iso_date(d)
                    .with_context(|| format!("question {}: bad question_date_iso {d:?}", q.qid))?;
                // LongMemEval dates some evidence sessions after their question (36 temporal
                // questions): the flat baselines search those turns, so recall here does too,
                // as of the later of the two dates.
                req = req.as_of(if args.strict_as_of { asked } else { asked.max(last_said) });
            }
            let t = Instant::now();
            let recollection = memori.recall_with(&entity, req).await?;
            let latency_ms = t.elapsed().as_secs_f64() * 1000.0;
            let tokens = recollection.block().map_or(0, |b| memori_rig::recall::tokens::count(&b));
            let turns = turns(&recollection.memories);
            outcomes.push(Outcome {
                category: category(q),
                scores: ks.iter().map(|&k| score(&turns, &q.evidence_turn_ids, k)).collect(),
                latency_ms,
                tokens,
            });
        }
        memori.shutdown().await;
        if temporary {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
        }
        progress.step(&format!("{} questions", outcomes.len()));
    }
    progress.finish();
    if temporary {
        let _ = std::fs::remove_dir(&dir);
    }
    anyhow::ensure!(!outcomes.is_empty(), "{} holds no question with evidence to score", args.input.display());

    let mut report = report(&dataset, &ks, &outcomes, turns_total, augment_time, &config);
    report["extraction"] = extraction.report(turns_total);
    report["strict_as_of"] = json!(args.strict_as_of);
    print(&report, &ks);
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(())
}

/// What augmentation extracted: memories other than episodes, and the graph's nodes.
#[derive(Default)]
struct Extraction {
    memories: usize,
    by_kind: BTreeMap<String, usize>,
    nodes: Vec<String>,
}

impl Extraction {
    async fn add(&mut self, memori: &Memori, entity: &EntityId) -> anyhow::Result<()> {
        let memories = memori.memories(entity, memori_rig::Validity::All).await?;
        for m in memories.iter().filter(|m| m.kind != memori_rig::MemoryKind::Episode) {
            self.memories += 1;
            *self.by_kind.entry(m.kind.as_str().to_owned()).or_default() += 1;
        }
        let graph = memori.graph(entity, memori_rig::Validity::All).await?;
        self.nodes.extend(graph.nodes().map(|n| n.name.clone()));
        Ok(())
    }

    /// Counts, and 50 graph nodes drawn with a fixed seed, for judging by eye whether nodes
    /// are things ("Lisbon", "pottery") or chunks of chat.
    fn report(&self, turns: usize) -> serde_json::Value {
        let mut pool = self.nodes.clone();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut sample = Vec::new();
        while sample.len() < 50 && !pool.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            sample.push(pool.swap_remove((seed % pool.len() as u64) as usize));
        }
        json!({
            "memories": self.memories,
            "per_100_turns": round(self.memories as f64 * 100.0 / turns.max(1) as f64),
            "by_kind": self.by_kind,
            "graph_nodes": self.nodes.len(),
            "node_sample": sample,
        })
    }
}

fn mean(scores: &[&Scores], f: impl Fn(&Scores) -> f64) -> f64 {
    scores.iter().map(|s| f(s)).sum::<f64>() / scores.len().max(1) as f64
}

fn figures(ks: &[usize], outcomes: &[&Outcome]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("questions".into(), json!(outcomes.len()));
    for (i, k) in ks.iter().enumerate() {
        let at: Vec<&Scores> = outcomes.iter().map(|o| &o.scores[i]).collect();
        m.insert(format!("R@{k}"), json!(round(mean(&at, |s| s.recall))));
        m.insert(format!("Hit@{k}"), json!(round(mean(&at, |s| s.hit))));
        m.insert(format!("All@{k}"), json!(round(mean(&at, |s| s.all))));
        m.insert(format!("NDCG@{k}"), json!(round(mean(&at, |s| s.ndcg))));
    }
    serde_json::Value::Object(m)
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn report(
    dataset: &str,
    ks: &[usize],
    outcomes: &[Outcome],
    turns: usize,
    augment_time: Duration,
    config: &memori_rig::RecallConfig,
) -> serde_json::Value {
    let all: Vec<&Outcome> = outcomes.iter().collect();
    let mut by_category: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_category.entry(o.category.clone()).or_default().push(o);
    }
    let mut latencies: Vec<f64> = outcomes.iter().map(|o| o.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let mut tokens: Vec<usize> = outcomes.iter().map(|o| o.tokens).collect();
    tokens.sort_unstable();
    json!({
        "dataset": dataset,
        "questions": outcomes.len(),
        "overall": figures(ks, &all),
        "by_category": by_category.iter().map(|(c, o)| (c.clone(), figures(ks, o))).collect::<serde_json::Map<_, _>>(),
        "latency_ms": {
            "p50": round(percentile(&latencies, 0.5)),
            "p95": round(percentile(&latencies, 0.95)),
            "max": round(percentile(&latencies, 1.0)),
        },
        "injected_tokens": { "median": tokens[tokens.len() / 2], "max": tokens.last().copied().unwrap_or(0) },
        "import": { "turns": turns, "seconds": round(augment_time.as_secs_f64()) },
        "config": config,
    })
}

fn print(report: &serde_json::Value, ks: &[usize]) {
    let k_max = ks.last().copied().unwrap_or(10);
    let mut header = format!("{:<28} {:>5}", "category", "n");
    for k in ks {
        header.push_str(&format!(" {:>7}", format!("R@{k}")));
    }
    for name in ["Hit", "All", "NDCG"] {
        header.push_str(&format!(" {:>7}", format!("{name}@{k_max}")));
    }
    println!("{} ({} questions)", report["dataset"].as_str().unwrap_or("?"), report["questions"]);
    println!("{header}");
    let row = |name: &str, f: &serde_json::Value| {
        let mut line = format!("{name:<28} {:>5}", f["questions"].as_u64().unwrap_or(0));
        for k in ks {
            line.push_str(&format!(" {:>7.3}", f[format!("R@{k}")].as_f64().unwrap_or(0.0)));
        }
        for name in ["Hit", "All", "NDCG"] {
            line.push_str(&format!(" {:>7.3}", f[format!("{name}@{k_max}")].as_f64().unwrap_or(0.0)));
        }
        println!("{line}");
    };
    if let Some(cats) = report["by_category"].as_object() {
        for (c, f) in cats {
            row(c, f);
        }
    }
    row("overall", &report["overall"]);
    let l = &report["latency_ms"];
    println!(
        "recall latency ms: p50 {:.1}  p95 {:.1}  max {:.1};  injected tokens: median {}, max {}",
        l["p50"].as_f64().unwrap_or(0.0),
        l["p95"].as_f64().unwrap_or(0.0),
        l["max"].as_f64().unwrap_or(0.0),
        report["injected_tokens"]["median"],
        report["injected_tokens"]["max"]
    );
    println!(
        "import + augmentation: {} turns in {:.1} s",
        report["import"]["turns"],
        report["import"]["seconds"].as_f64().unwrap_or(0.0)
    );
    let x = &report["extraction"];
    println!(
        "extracted: {} memories ({} per 100 turns) {}; graph nodes: {}",
        x["memories"], x["per_100_turns"], x["by_kind"], x["graph_nodes"]
    );
    println!("graph node sample: {}", x["node_sample"]);
}

fn write_json(path: &Path, report: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn scores_follow_the_data_readme() {
        // Memory 0 brings D1:1 and D1:2, memory 1 brings D2:5, memory 2 nothing relevant.
        let turns: Vec<(usize, String)> =
            [(0, "D1:1"), (0, "D1:2"), (1, "D2:5"), (2, "D3:1")].iter().map(|(r, t)| (*r, (*t).to_string())).collect();
        let s = score(&turns, &ev(&["D1:2", "D2:5", "D9:9"]), 1);
        assert_eq!((s.recall, s.hit, s.all), (1.0 / 3.0, 1.0, 0.0));
        assert!((s.ndcg - 1.0).abs() < 1e-12, "one relevant memory at rank 1 of an ideal 1");
        let s = score(&turns, &ev(&["D1:2", "D2:5", "D9:9"]), 3);
        assert_eq!((s.recall, s.hit, s.all), (2.0 / 3.0, 1.0, 0.0));
        let ideal = 1.0 + 1.0 / 3f64.log2() + 0.5;
        assert!((s.ndcg - (1.0 + 1.0 / 3f64.log2()) / ideal).abs() < 1e-12);
        let s = score(&turns, &ev(&["D3:1"]), 2);
        assert_eq!((s.recall, s.hit, s.all, s.ndcg), (0.0, 0.0, 0.0, 0.0));
        assert_eq!(score(&turns, &ev(&["D3:1"]), 3).all, 1.0);
    }

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.95), 95.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
