//! all-MiniLM-L6-v2 (int8 ONNX) through fastembed and a dynamically loaded ONNX Runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fastembed::{InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel};

use super::assets::{DIMENSIONS, MODEL_ID, ModelFiles};
use super::{Embedder, normalize};
use crate::error::{Error, ErrorKind, Result};

/// Tokens per text; longer texts are truncated (the tokenizer file's own 128 is too short
/// for long messages, and the model was trained on at most 256 word pieces).
const MAX_TOKENS: usize = 256;

/// Texts a batch embeds per turn at the model; recall queries waiting go first between turns.
const CHUNK: usize = 16;

/// Longest a batch turn waits for recall queries to go first (so batches cannot starve).
const MAX_YIELD: Duration = Duration::from_millis(200);

/// Most recall queries embedded in one model run.
const MAX_QUERY_BATCH: usize = 32;

/// A recall query waiting for the model, and where its vector goes.
type PendingQuery = (String, tokio::sync::oneshot::Sender<Result<Vec<f32>>>);

/// Recall queries waiting for the model: the first one to arrive runs the model for all of
/// those waiting by then (and for those that arrive while it runs), so concurrent recalls share
/// model runs instead of queueing one by one.
#[derive(Default)]
struct QueryBatcher {
    waiting: Mutex<Vec<PendingQuery>>,
    /// A blocking task is running the queue.
    running: std::sync::atomic::AtomicBool,
}

/// Local embeddings with all-MiniLM-L6-v2, int8, 384 dimensions.
///
/// One model per process, shared by recall and the workers: batches take the model a chunk
/// at a time and let waiting recall queries go first, so a query waits for at most one chunk
/// rather than for a worker's whole batch.
#[derive(Clone)]
pub struct FastEmbedder {
    model: Arc<Mutex<TextEmbedding>>,
    /// Recall queries waiting for the model.
    queries_waiting: Arc<AtomicUsize>,
    queries: Arc<QueryBatcher>,
}

impl std::fmt::Debug for FastEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastEmbedder").field("model", &MODEL_ID).finish()
    }
}

fn init_runtime(files: &ModelFiles) -> Result<()> {
    // ONNX Runtime is process-global: load it once, and remember a failure.
    static INIT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        // Loading the library is all that is needed here: fastembed creates the environment.
        ort::init_from(&files.ort_library)
            .map(drop)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", files.ort_library.display()))
    })
    .clone()
    .map_err(|e| Error::new(ErrorKind::MissingModel, e))
}

impl FastEmbedder {
    /// Load from the cache directory filled by `memori setup`, with ONNX Runtime using up to
    /// four threads (one per core).
    pub fn from_cache() -> Result<Self> {
        Self::from_files(&ModelFiles::locate()?)
    }

    /// Load from the cache directory, with ONNX Runtime using `threads` threads per model run
    /// (0: one per core, at most four).
    pub fn from_cache_with_threads(threads: usize) -> Result<Self> {
        Self::from_files_with_threads(&ModelFiles::locate()?, threads)
    }

    /// Load from verified files.
    pub fn from_files(files: &ModelFiles) -> Result<Self> {
        Self::from_files_with_threads(files, 0)
    }

    /// Load from verified files, with `threads` ONNX Runtime threads (0: one per core, at most
    /// four).
    pub fn from_files_with_threads(files: &ModelFiles, threads: usize) -> Result<Self> {
        init_runtime(files)?;
        let read = |name: &str| {
            let path = files.model_dir.join(name);
            std::fs::read(&path).map_err(|e| {
                Error::new(ErrorKind::MissingModel, format!("cannot read {}: {e}; run `memori setup`", path.display()))
            })
        };
        let model = UserDefinedEmbeddingModel::new(
            read("model.onnx")?,
            TokenizerFiles {
                tokenizer_file: read("tokenizer.json")?,
                config_file: read("config.json")?,
                special_tokens_map_file: read("special_tokens_map.json")?,
                tokenizer_config_file: read("tokenizer_config.json")?,
            },
        )
        // The ONNX graph outputs token states; sentence-transformers mean-pools them.
        .with_pooling(Pooling::Mean);
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
            n => n,
        };
        let embedding = TextEmbedding::try_new_from_user_defined(
            model,
            InitOptionsUserDefined::new().with_max_length(MAX_TOKENS).with_intra_threads(threads),
        )
        .map_err(|e| Error::new(ErrorKind::MissingModel, format!("cannot load the embedding model: {e}")))?;
        // The first run sets ONNX Runtime up (tens of milliseconds): pay it here, not in the
        // first recall.
        let mut embedding = embedding;
        embedding
            .embed(vec!["warm up"], None)
            .map_err(|e| Error::new(ErrorKind::MissingModel, format!("the embedding model does not run: {e}")))?;
        Ok(Self {
            model: Arc::new(Mutex::new(embedding)),
            queries_waiting: Arc::new(AtomicUsize::new(0)),
            queries: Arc::new(QueryBatcher::default()),
        })
    }

    /// Embed synchronously on the calling thread (benchmarks, blocking contexts).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        // Each chunk is padded to its longest text: embedding texts in length order wastes far
        // less work on padding. Results are put back in the caller's order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(CHUNK) {
            let started = Instant::now();
            while self.queries_waiting.load(Ordering::Acquire) > 0 && started.elapsed() < MAX_YIELD {
                std::thread::sleep(Duration::from_micros(500));
            }
            let vectors = self.run(chunk.iter().map(|&i| texts[i].as_str()).collect())?;
            for (mut v, &i) in vectors.into_iter().zip(chunk) {
                normalize(&mut v);
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Embed the recall queries waiting (and those that arrive meanwhile), ahead of any
    /// worker batch waiting for the model, in runs of up to [`MAX_QUERY_BATCH`].
    fn run_queries(&self) {
        /// If a model run panics, the queries waiting get an error and the next query starts a
        /// new runner, instead of every later query waiting forever.
        struct Unwind<'a>(&'a QueryBatcher);
        impl Drop for Unwind<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut waiting = self.0.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    for (_, reply) in waiting.drain(..) {
                        let _ = reply.send(Err(Error::new(ErrorKind::Internal, "the embedding model run panicked")));
                    }
                    self.0.running.store(false, Ordering::Release);
                }
            }
        }
        let _unwind = Unwind(&self.queries);
        loop {
            let batch: Vec<PendingQuery> = {
                let mut waiting = self.queries.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                // A recall that stopped waiting (its budget ran out) needs no vector.
                waiting.retain(|(_, reply)| !reply.is_closed());
                let n = waiting.len().min(MAX_QUERY_BATCH);
                if n == 0 {
                    // Checked under the lock: a query pushed after this sees `running` false.
                    self.queries.running.store(false, Ordering::Release);
                    return;
                }
                // Newest first: under overload the oldest are the likeliest to be abandoned
                // before their turn, the newest still have their whole budget.
                let from = waiting.len() - n;
                waiting.drain(from..).collect()
            };
            let texts: Vec<&str> = batch.iter().map(|(q, _)| q.as_str()).collect();
            match self.run(texts) {
                Ok(vectors) if vectors.len() == batch.len() => {
                    for ((_, reply), mut v) in batch.into_iter().zip(vectors) {
                        normalize(&mut v);
                        let _ = reply.send(Ok(v));
                    }
                }
                Ok(vectors) => {
                    let e = Error::new(
                        ErrorKind::Embedding,
                        format!("{} vectors for {} queries", vectors.len(), batch.len()),
                    );
                    for (_, reply) in batch {
                        let _ = reply.send(Err(e.duplicate()));
                    }
                }
                Err(e) => {
                    for (_, reply) in batch {
                        let _ = reply.send(Err(e.duplicate()));
                    }
                }
            }
        }
    }

    fn run(&self, texts: Vec<&str>) -> Result<Vec<Vec<f32>>> {
        let mut model = self
            .model
            .lock()
            .map_err(|_| Error::new(ErrorKind::Internal, "the embedding model lock is poisoned by a panic"))?;
        model.embed(texts, Some(CHUNK)).map_err(|e| Error::new(ErrorKind::Embedding, format!("embedding failed: {e}")))
    }
}

#[async_trait]
impl Embedder for FastEmbedder {
    fn model_id(&self) -> &str {
        MODEL_ID
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("the embedding task panicked: {e}")))?
    }

    async fn embed_query(&self, query: String) -> Result<Vec<f32>> {
        /// Counts the query as waiting until it is answered or abandoned (a recall whose budget
        /// ran out drops this future): worker batches yield to the queries counted here.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (start, _waiting) = {
            let mut waiting = self.queries.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            waiting.push((query, tx));
            self.queries_waiting.fetch_add(1, Ordering::AcqRel);
            (!self.queries.running.swap(true, Ordering::AcqRel), Waiting(&self.queries_waiting))
        };
        if start {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.run_queries());
        }
        rx.await.map_err(|_| {
            Error::new(ErrorKind::Internal, "the query embedding task stopped (a panic in the model run)")
        })?
    }
}
