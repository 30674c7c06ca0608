//! A response cache keyed by the run and the full request: a re-run of the same run never pays for a request twice,
//! while another run (another seed: an independent repeat) is never answered from this one's entries, even at
//! temperature 0. A JSON-lines file of `{scope, request, reply}` in a directory (by default the user's cache
//! directory, `~/.cache/genius/llm`); a damaged line, or one from before entries had a scope, is skipped (it is only
//! a cache). Off by default when sampling (temperature > 0), where identical requests are meant to get different
//! answers.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use genius_core::Usage;
use serde::{Deserialize, Serialize};

use crate::LlmError;
use crate::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Source};

/// The cache file inside the cache directory.
pub const CACHE_FILE: &str = "responses.jsonl";

#[derive(Serialize, Deserialize)]
struct Entry {
    /// The run it belongs to ([`GeniusSettings::cache_scope`](crate::GeniusSettings::cache_scope)).
    #[serde(default)]
    scope: Option<String>,
    request: ChatRequest,
    reply: ChatReply,
}

fn key(scope: &str, request: &ChatRequest) -> String {
    format!("{scope}\u{1f}{}", request.key())
}

/// The cache directory used when none is configured.
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("genius").join("llm"))
}

/// A chat model whose replies are cached on disk.
pub struct CachedModel {
    inner: Arc<dyn ChatModel>,
    scope: String,
    path: PathBuf,
    replies: Mutex<HashMap<String, ChatReply>>,
    file: Mutex<File>,
}

impl CachedModel {
    /// `inner` with a cache in `dir` (created if needed), answering the requests of the run `scope`.
    pub fn open(inner: Arc<dyn ChatModel>, dir: &Path, scope: &str) -> Result<Self, LlmError> {
        let io = |what: &str, e: std::io::Error| {
            LlmError::Io(format!("response cache: cannot {what} {}: {e}", dir.display()))
        };
        fs::create_dir_all(dir).map_err(|e| io("create", e))?;
        let path = dir.join(CACHE_FILE);
        let mut replies = HashMap::new();
        match fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Ok(Entry { scope: Some(s), request, reply }) = serde_json::from_str::<Entry>(line)
                        && s == scope
                    {
                        replies.insert(key(&s, &request), reply);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", e)),
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io("open", e))?;
        Ok(Self { inner, scope: scope.to_owned(), path, replies: Mutex::new(replies), file: Mutex::new(file) })
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replies held.
    pub fn len(&self) -> usize {
        self.replies.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ChatModel for CachedModel {
    fn info(&self) -> ModelInfo {
        self.inner.info()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        let key = key(&self.scope, request);
        if let Some(reply) = self.replies.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Exchange {
                reply,
                source: Source::Cache,
                usage: Usage::default(),
                latency_s: 0.0,
                retries: Vec::new(),
            });
        }
        let exchange = self.inner.chat(request).await?;
        if matches!(exchange.source, Source::Network | Source::Local) {
            let entry =
                Entry { scope: Some(self.scope.clone()), request: request.clone(), reply: exchange.reply.clone() };
            let mut line = serde_json::to_vec(&entry).expect("cache entries serialize");
            line.push(b'\n');
            if let Ok(mut f) = self.file.lock() {
                f.write_all(&line)
                    .and_then(|()| f.flush())
                    .map_err(|e| LlmError::Io(format!("response cache: cannot write {}: {e}", self.path.display())))?;
            }
            if let Ok(mut m) = self.replies.lock() {
                m.insert(key, exchange.reply.clone());
            }
        }
        Ok(exchange)
    }
}
