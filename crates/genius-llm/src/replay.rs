//! Serving a recorded run's replies: `--llm replay:runs/x` reproduces that run with no network, and a resumed run
//! answers its replayed asks from its own transcript, so that nothing is paid twice.
//!
//! Replies are looked up by the full request: the same request gets the replies recorded for it, in the order they
//! were recorded. A request the recording never made means the run has diverged from it (another space, seed,
//! setting or template); a pure replay then fails with a message saying so, and a resume asks the live model.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use genius_core::run_log::EventRecord;
use genius_core::{Recorded, Usage};

use crate::LlmError;
use crate::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Source};
use crate::transcript::{LLM_CALL, LlmEvent};

/// A chat model answering from a recorded transcript, with an optional live model for what it does not hold.
pub struct ReplayModel {
    origin: String,
    info: ModelInfo,
    replies: Mutex<HashMap<String, VecDeque<(ChatReply, Usage)>>>,
    live: Option<Arc<dyn ChatModel>>,
}

impl ReplayModel {
    /// A model answering from `events` (a run's `events.jsonl`), recorded in `origin` (for messages). Requests the
    /// recording does not hold go to `live`, or fail when there is none.
    pub fn from_events(
        origin: &str,
        events: &[EventRecord],
        live: Option<Arc<dyn ChatModel>>,
    ) -> Result<Self, LlmError> {
        let mut replies: HashMap<String, VecDeque<(ChatReply, Usage)>> = HashMap::new();
        let mut info = None;
        for (line, e) in events.iter().enumerate() {
            if e.event.kind != LLM_CALL {
                continue;
            }
            let Some(LlmEvent::LlmCall(record)) = e.event.decode() else {
                return Err(LlmError::Io(format!(
                    "{origin}: events.jsonl line {} is an llm_call that cannot be read (its data is not a model call \
                     record of this version of genius)",
                    line + 1
                )));
            };
            let record = *record;
            info.get_or_insert_with(|| record.model.clone());
            replies.entry(record.request.key()).or_default().push_back((record.reply, e.event.usage));
        }
        let info = match (&live, info) {
            (Some(l), _) => l.info(),
            (None, Some(recorded)) => {
                ModelInfo { provider: "replay".into(), endpoint: Some(origin.to_owned()), ..recorded }
            }
            (None, None) => {
                return Err(LlmError::Replay(format!("{origin} holds no model calls to replay (no llm_call event)")));
            }
        };
        Ok(Self { origin: origin.to_owned(), info, replies: Mutex::new(replies), live })
    }

    /// A model answering from the run recorded in `dir`, with no network.
    pub fn from_dir(dir: &Path) -> Result<Self, LlmError> {
        let recorded =
            Recorded::read(dir).map_err(|e| LlmError::Io(format!("cannot replay {}: {e}", dir.display())))?;
        Self::from_events(&dir.display().to_string(), &recorded.events, None)
    }

    /// Replies still unused.
    pub fn remaining(&self) -> usize {
        self.replies.lock().map(|m| m.values().map(VecDeque::len).sum()).unwrap_or(0)
    }
}

#[async_trait]
impl ChatModel for ReplayModel {
    fn info(&self) -> ModelInfo {
        self.info.clone()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        let hit = self.replies.lock().ok().and_then(|mut m| m.get_mut(&request.key()).and_then(VecDeque::pop_front));
        if let Some((reply, usage)) = hit {
            return Ok(Exchange { reply, source: Source::Replay, usage, latency_s: 0.0, retries: Vec::new() });
        }
        match &self.live {
            Some(live) => live.chat(request).await,
            None => {
                let last = request.messages.last().map(|m| crate::http::shorten(&m.content, 160)).unwrap_or_default();
                Err(LlmError::Replay(format!(
                    "{} has no recorded reply to this request ({} messages, ending \"{last}\"): the run has diverged \
                     from the recording; replay it with the recorded space, seed and optimizer settings",
                    self.origin,
                    request.messages.len()
                )))
            }
        }
    }
}
