//! A response cache keyed by the full request: an identical request is never paid twice. A JSON-lines file of
//! `{request, reply}` in a directory (by default the user's cache directory, `~/.cache/genius/llm`); a damaged line
//! is skipped (it is only a cache). Off by default when sampling (temperature > 0), where identical requests are
//! meant to get different answers.

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
    request: ChatRequest,
    reply: ChatReply,
}

/// The cache directory used when none is configured.
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("genius").join("llm"))
}

/// A chat model whose replies are cached on disk.
pub struct CachedModel {
    inner: Arc<dyn ChatModel>,
    path: PathBuf,
    replies: Mutex<HashMap<String, ChatReply>>,
    file: Mutex<File>,
}

impl CachedModel {
    /// `inner` with a cache in `dir` (created if needed).
    pub fn open(inner: Arc<dyn ChatModel>, dir: &Path) -> Result<Self, LlmError> {
        let io = |what: &str, e: std::io::Error| {
            LlmError::Io(format!("response cache: cannot {what} {}: {e}", dir.display()))
        };
        fs::create_dir_all(dir).map_err(|e| io("create", e))?;
        let path = dir.join(CACHE_FILE);
        let mut replies = HashMap::new();
        match fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines() {
                    if let Ok(e) = serde_json::from_str::<Entry>(line) {
                        replies.insert(e.request.key(), e.reply);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", e)),
        }
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io("open", e))?;
        Ok(Self { inner, path, replies: Mutex::new(replies), file: Mutex::new(file) })
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
        let key = request.key();
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
            let mut line = serde_json::to_vec(&Entry { request: request.clone(), reply: exchange.reply.clone() })
                .expect("cache entries serialize");
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
