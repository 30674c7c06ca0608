//! The GENIUS optimizer: a chat model proposes architectures from a text description of the space and the results
//! so far, in one of the paper's three protocols. Whatever the model replies, the run goes on: unusable replies get
//! a repair message (bounded, costing calls and tokens, never evaluations), duplicates get "already evaluated", a
//! model that says it cannot improve is recorded and the run stops or continues as configured.
//!
//! The optimizer does no IO, reads no clock and never sleeps: the [`ChatModel`] it holds does the calls (and the
//! waiting between retries), and every call, retry, failure and repair is reported through
//! [`AskContext::emit`] for the runner to write to `events.jsonl`.

use std::sync::Arc;

use async_trait::async_trait;
use genius_core::{
    Architecture, AskContext, Notation, Observation, Optimizer, OptimizerError, SearchSpace, SpaceBrief,
};
use serde_json::json;

use crate::chat::{ChatModel, ChatRequest, Message};
use crate::prompt::{Templates, render};
use crate::reply;
use crate::settings::{GeniusSettings, OnCannotImprove, OnRepairsExhausted, ProtocolChoice};
use crate::transcript::{
    CANNOT_IMPROVE, CallRecord, FALLBACK, GAVE_UP, LLM_CALL, LLM_ERROR, LLM_RETRY, REPLY_PROBLEM, RetryRecord,
};
use crate::{LlmError, schema};

/// The optimizer's name on the command line and in run logs.
pub const NAME: &str = "genius";

/// A protocol, resolved for a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A fresh two-message chat per iteration.
    Stateless,
    /// One growing chat.
    Conversation,
    /// A fresh chat per iteration, violations answered in it.
    Constrained,
}

impl Protocol {
    /// The protocol `choice` means for `space`.
    pub fn resolve(choice: ProtocolChoice, space: &dyn SearchSpace) -> Self {
        match choice {
            ProtocolChoice::Stateless => Self::Stateless,
            ProtocolChoice::Conversation => Self::Conversation,
            ProtocolChoice::Constrained => Self::Constrained,
            ProtocolChoice::Auto if space.is_constrained() => Self::Constrained,
            ProtocolChoice::Auto if space.name().starts_with("nas-bench-201") => Self::Conversation,
            ProtocolChoice::Auto => Self::Stateless,
        }
    }

    /// Its name in settings and events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stateless => "stateless",
            Self::Conversation => "conversation",
            Self::Constrained => "constrained",
        }
    }
}

/// The GENIUS optimizer.
pub struct Genius {
    settings: GeniusSettings,
    templates: Templates,
    model: Arc<dyn ChatModel>,
    /// The conversation protocol's chat.
    chat: Vec<Message>,
    /// History entries already reported in the chat.
    reported: usize,
    calls: u64,
}

impl Genius {
    /// The optimizer with `settings` (checked and resolved here), asking `model`.
    pub fn new(settings: GeniusSettings, model: Arc<dyn ChatModel>) -> Result<Self, LlmError> {
        let (settings, templates) = settings.resolve()?;
        Ok(Self { settings, templates, model, chat: Vec::new(), reported: 0, calls: 0 })
    }

    /// Its (resolved) settings.
    pub fn genius_settings(&self) -> &GeniusSettings {
        &self.settings
    }

    /// The messages of the first request of the next ask, without calling the model (for snapshots and dry
    /// runs). For the conversation protocol it includes the chat so far.
    pub fn preview(
        &self,
        space: &dyn SearchSpace,
        history: &[Observation],
        k: usize,
    ) -> Result<Vec<Message>, OptimizerError> {
        let brief = brief(space)?;
        let protocol = Protocol::resolve(self.settings.protocol, space);
        let words = Words::new(&self.templates, &brief, space.dimensions().len(), k);
        Ok(self.opening(protocol, space, &brief, &words, history).0)
    }

    /// The messages that open an ask, and the chat to keep (conversation).
    fn opening(
        &self,
        protocol: Protocol,
        space: &dyn SearchSpace,
        brief: &SpaceBrief,
        words: &Words,
        history: &[Observation],
    ) -> (Vec<Message>, usize) {
        let t = &self.templates;
        let value = |o: &Observation, decimals: usize| o.value.map(|v| format!("{v:.decimals$}"));
        let arch = |o: &Observation| brief.notation.write(space, &o.arch);
        let reason = |o: &Observation| o.failure.clone().unwrap_or_else(|| "no result".into());
        match protocol {
            Protocol::Stateless => {
                let s = &t.stateless;
                let mut user = words.render(&s.intro, &[]);
                if !history.is_empty() {
                    let lines: Vec<String> = history
                        .iter()
                        .enumerate()
                        .map(|(i, o)| {
                            let (a, n) = (arch(o), (i + 1).to_string());
                            match value(o, s.value_decimals) {
                                Some(v) => words.render(&s.experiment, &[("arch", &a), ("value", &v), ("number", &n)]),
                                None => {
                                    words.render(&s.failed, &[("arch", &a), ("reason", &reason(o)), ("number", &n)])
                                }
                            }
                        })
                        .collect();
                    user.push_str("\n\n");
                    user.push_str(&words.render(&s.experiments, &[("experiments", &lines.join("\n"))]));
                }
                user.push_str("\n\n");
                user.push_str(&words.render(&s.suffix, &[]));
                (vec![Message::system(words.render(&s.system, &[])), Message::user(user.trim())], history.len())
            }
            Protocol::Constrained => {
                let c = &t.constrained;
                let mut user = words.render(&c.intro, &[]);
                if history.is_empty() {
                    user.push_str("\n\n");
                    user.push_str(&words.render(&c.request_first, &[]));
                } else {
                    let lines: Vec<String> = history
                        .iter()
                        .enumerate()
                        .map(|(i, o)| {
                            let (a, n) = (arch(o), (i + 1).to_string());
                            let flops = o.flops.map_or_else(String::new, |f| {
                                words.render(&c.flops, &[("mflops", &format!("{:.1}", f as f64 / 1e6))])
                            });
                            match value(o, c.value_decimals) {
                                Some(v) => words.render(
                                    &c.experiment,
                                    &[("arch", &a), ("value", &v), ("number", &n), ("flops", &flops)],
                                ),
                                None => {
                                    words.render(&c.failed, &[("arch", &a), ("reason", &reason(o)), ("number", &n)])
                                }
                            }
                        })
                        .collect();
                    user.push_str("\n\n");
                    user.push_str(&words.render(&c.experiments, &[("experiments", &lines.join("\n"))]));
                    user.push_str("\n\n");
                    user.push_str(&words.render(&c.request, &[]));
                }
                (vec![Message::system(words.render(&c.system, &[])), Message::user(user.trim())], history.len())
            }
            Protocol::Conversation => {
                let c = &t.conversation;
                let mut chat = self.chat.clone();
                if chat.is_empty() {
                    chat.push(Message::system(words.render(&c.system, &[])));
                    chat.push(Message::user(words.render(&c.intro, &[])));
                } else {
                    let start = self.reported.min(history.len());
                    let results: Vec<String> = history[start..]
                        .iter()
                        .enumerate()
                        .map(|(i, o)| {
                            let (a, n) = (arch(o), (start + i + 1).to_string());
                            match value(o, c.value_decimals) {
                                Some(v) => words.render(&c.result, &[("arch", &a), ("value", &v), ("number", &n)]),
                                None => {
                                    words.render(&c.failed, &[("arch", &a), ("reason", &reason(o)), ("number", &n)])
                                }
                            }
                        })
                        .collect();
                    chat.push(Message::user(words.render(&c.feedback, &[("results", &results.join(" "))])));
                }
                (chat, history.len())
            }
        }
    }

    fn request(&self, messages: &[Message], schema: Option<&crate::chat::JsonSchema>) -> ChatRequest {
        ChatRequest {
            model: self.settings.model.clone().unwrap_or_default(),
            messages: messages.to_vec(),
            temperature: Some(self.settings.temperature),
            top_p: self.settings.top_p,
            max_tokens: self.settings.max_tokens,
            seed: self.settings.seed,
            schema: schema.cloned(),
        }
    }

    /// One model call, recorded; an error is recorded and turned into the optimizer's error.
    async fn call(
        &mut self,
        ctx: &mut AskContext<'_>,
        request: ChatRequest,
        purpose: &str,
    ) -> Result<crate::chat::ChatReply, OptimizerError> {
        self.calls += 1;
        let call = self.calls;
        match self.model.chat(&request).await {
            Ok(exchange) => {
                for attempt in &exchange.retries {
                    let record = RetryRecord { call, attempt: attempt.clone() };
                    ctx.emit(LLM_RETRY, serde_json::to_value(record).expect("records serialize"), Default::default());
                }
                let record = CallRecord {
                    call,
                    purpose: purpose.to_owned(),
                    model: self.model.info(),
                    request,
                    reply: exchange.reply.clone(),
                    source: exchange.source,
                    latency_s: exchange.latency_s,
                };
                ctx.emit(LLM_CALL, serde_json::to_value(record).expect("records serialize"), exchange.usage);
                Ok(exchange.reply)
            }
            Err(e) => {
                for attempt in e.retries() {
                    let record = RetryRecord { call, attempt: attempt.clone() };
                    ctx.emit(LLM_RETRY, serde_json::to_value(record).expect("records serialize"), Default::default());
                }
                ctx.emit(
                    LLM_ERROR,
                    json!({ "call": call, "purpose": purpose, "error": e.to_string() }),
                    Default::default(),
                );
                Err(OptimizerError::Failed(format!("the model call failed: {e}")))
            }
        }
    }
}

/// The space's words for the templates, rendered once per ask.
struct Words {
    vars: Vec<(&'static str, String)>,
}

impl Words {
    fn new(t: &Templates, brief: &SpaceBrief, dimensions: usize, k: usize) -> Self {
        let tables: Vec<String> = brief.tables.iter().map(|b| format!("{} = {}", b.title, b.text)).collect();
        let mut vars = vec![
            ("task", brief.task.clone()),
            ("operations", brief.operations.join("\n")),
            ("operation_count", brief.operations.len().to_string()),
            ("notes", brief.notes.join("\n")),
            ("layout", brief.layout.clone()),
            ("tables", tables.join("\n")),
            ("answer_format", brief.answer_format.clone()),
            ("example", brief.example.clone()),
            ("dimension_count", dimensions.to_string()),
            ("k", k.to_string()),
        ];
        let answer = {
            let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            render(if k == 1 { &t.answer.one } else { &t.answer.many }, &borrowed)
        };
        vars.push(("answer", answer));
        Self { vars }
    }

    fn render(&self, template: &str, extra: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = extra.to_vec();
        all.extend(self.vars.iter().map(|(k, v)| (*k, v.as_str())));
        render(template, &all)
    }
}

fn brief(space: &dyn SearchSpace) -> Result<SpaceBrief, OptimizerError> {
    space.brief().ok_or_else(|| {
        OptimizerError::Settings(format!(
            "space `{}` has no description for a language model (SearchSpace::brief), so the genius optimizer \
             cannot search it",
            space.name()
        ))
    })
}

/// What to do with a reply.
enum Verdict {
    /// Propose these.
    Accept(Vec<Architecture>),
    /// Ask again with `message`.
    Repair {
        /// `no_answer`, `invalid`, `duplicate`, `violation`.
        kind: &'static str,
        /// What is wrong.
        problem: String,
        /// The message to send.
        message: String,
        /// Well-formed, feasible proposals that were only duplicates (proposed if the repairs run out).
        duplicates: Vec<Architecture>,
    },
    /// The model says it cannot improve.
    CannotImprove,
}

impl Genius {
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &self,
        reply: &crate::chat::ChatReply,
        protocol: Protocol,
        space: &dyn SearchSpace,
        notation: Notation,
        history: &[Observation],
        words: &Words,
        k: usize,
    ) -> Verdict {
        let t = &self.templates;
        let candidates = reply::candidates(&reply.content, space, notation);
        let picked = reply::last_well_formed(&candidates, k);
        if picked.is_empty() {
            if reply.refusal.is_some() || reply::gives_up(&reply.content) {
                return Verdict::CannotImprove;
            }
            return match candidates.iter().rev().find_map(|c| c.arch.as_ref().err().map(|e| (c, e))) {
                Some((c, problem)) => Verdict::Repair {
                    kind: "invalid",
                    problem: format!("{}: {problem}", c.written),
                    message: words.render(&t.repair.invalid, &[("found", &c.written), ("problem", problem)]),
                    duplicates: Vec::new(),
                },
                None => {
                    let problem = if reply.content.trim().is_empty() {
                        format!(
                            "the reply is empty (finish reason: {})",
                            reply.finish_reason.as_deref().unwrap_or("none")
                        )
                    } else {
                        "no design found in the reply".to_owned()
                    };
                    Verdict::Repair {
                        kind: "no_answer",
                        problem,
                        message: words.render(&t.repair.no_answer, &[]),
                        duplicates: Vec::new(),
                    }
                }
            };
        }
        let mut good = Vec::new();
        let mut duplicates = Vec::new();
        let mut first: Option<(&'static str, String, String)> = None;
        for arch in picked {
            let written = notation.write(space, &arch);
            if let Err(v) = space.check(&arch) {
                let template =
                    if protocol == Protocol::Constrained { &t.constrained.violation } else { &t.repair.violation };
                let message = v.message.trim_end_matches('.').to_owned();
                first.get_or_insert_with(|| {
                    (
                        "violation",
                        format!("{written} violates the constraint: {message}"),
                        words.render(template, &[("arch", &written), ("violation", &message)]),
                    )
                });
            } else if let Some(seen) =
                history.iter().find(|o| o.arch == arch).filter(|_| self.settings.reject_duplicates)
            {
                let decimals = match protocol {
                    Protocol::Stateless => t.stateless.value_decimals,
                    Protocol::Conversation => t.conversation.value_decimals,
                    Protocol::Constrained => t.constrained.value_decimals,
                };
                let value = seen.value.map_or_else(|| "unknown".into(), |v| format!("{v:.decimals$}"));
                first.get_or_insert_with(|| {
                    (
                        "duplicate",
                        format!("{written} was already evaluated (trial {})", seen.trial),
                        words.render(&t.repair.duplicate, &[("arch", &written), ("value", &value)]),
                    )
                });
                duplicates.push(arch);
            } else {
                good.push(arch);
            }
        }
        if !good.is_empty() {
            return Verdict::Accept(good);
        }
        let (kind, problem, message) = first.expect("a picked architecture was rejected");
        Verdict::Repair { kind, problem, message, duplicates }
    }
}

#[async_trait]
impl Optimizer for Genius {
    fn name(&self) -> &str {
        NAME
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    async fn ask(&mut self, ctx: &mut AskContext<'_>, n: usize) -> Result<Vec<Architecture>, OptimizerError> {
        let space = ctx.space;
        let brief = brief(space)?;
        let protocol = Protocol::resolve(self.settings.protocol, space);
        let k = self.settings.proposals_per_call.min(n).max(1);
        let words = Words::new(&self.templates, &brief, space.dimensions().len(), k);
        let schema = self
            .settings
            .structured_output
            .unwrap_or(false)
            .then(|| schema::answer(space, brief.notation, k, protocol != Protocol::Stateless));
        let (mut messages, reported) = self.opening(protocol, space, &brief, &words, ctx.history);
        let mut purpose = "propose";
        let mut repairs = 0usize;
        let outcome = loop {
            let mut request = self.request(&messages, schema.as_ref());
            if request.seed.is_none() && self.settings.llm == crate::local::PROVIDER {
                // The embedded model samples with the request's seed: one drawn from the study's generator for every
                // call, so that the study's seed decides the run, and the same seed repeats it (and its replay).
                request.seed = Some(rand::Rng::next_u64(ctx.rng));
            }
            let reply = self.call(ctx, request, purpose).await?;
            messages.push(Message::assistant(reply.content.clone()));
            let verdict = self.judge(&reply, protocol, space, brief.notation, ctx.history, &words, k);
            let (kind, problem, message, duplicates) = match verdict {
                Verdict::Accept(archs) => break archs,
                Verdict::CannotImprove => {
                    let stop = self.settings.on_cannot_improve == OnCannotImprove::Stop;
                    ctx.emit(
                        CANNOT_IMPROVE,
                        json!({
                            "call": self.calls,
                            "reply": crate::http::shorten(&reply.content, 500),
                            "refusal": reply.refusal,
                            "action": if stop { "stop" } else { "continue" },
                        }),
                        Default::default(),
                    );
                    if stop {
                        break Vec::new();
                    }
                    (
                        "cannot_improve",
                        "the model said it cannot improve".to_owned(),
                        words.render(&self.templates.repair.cannot_improve, &[]),
                        Vec::new(),
                    )
                }
                Verdict::Repair { kind, problem, message, duplicates } => (kind, problem, message, duplicates),
            };
            repairs += 1;
            let exhausted = repairs > self.settings.max_repairs;
            ctx.emit(
                REPLY_PROBLEM,
                json!({
                    "call": self.calls,
                    "kind": kind,
                    "problem": problem,
                    "repair": if exhausted { serde_json::Value::Null } else { json!(message) },
                    "repairs": repairs,
                }),
                Default::default(),
            );
            if exhausted {
                break self.give_up(ctx, kind, &problem, duplicates);
            }
            messages.push(Message::user(message));
            purpose = kind;
        };
        if protocol == Protocol::Conversation {
            self.chat = messages;
        }
        self.reported = reported;
        Ok(outcome)
    }

    fn tell(&mut self, _trials: &[Observation]) {
        // Everything the prompts need is in the history the runner passes to `ask`.
    }
}

impl Genius {
    /// The repairs ran out: propose the duplicates if that was all that was wrong, else stop or draw at random.
    fn give_up(
        &self,
        ctx: &mut AskContext<'_>,
        kind: &str,
        problem: &str,
        duplicates: Vec<Architecture>,
    ) -> Vec<Architecture> {
        if !duplicates.is_empty() {
            let texts: Vec<String> = duplicates.iter().map(|a| ctx.space.format(a)).collect();
            ctx.emit(
                GAVE_UP,
                json!({ "kind": kind, "problem": problem, "action": "propose the duplicates", "proposed": texts }),
                Default::default(),
            );
            return duplicates;
        }
        match self.settings.on_repairs_exhausted {
            OnRepairsExhausted::Stop => {
                ctx.emit(GAVE_UP, json!({ "kind": kind, "problem": problem, "action": "stop" }), Default::default());
                Vec::new()
            }
            OnRepairsExhausted::Random => {
                let fresh = (0..1000).find_map(|_| {
                    let a = ctx.space.sample_feasible(ctx.rng)?;
                    (!ctx.history.iter().any(|o| o.arch == a)).then_some(a)
                });
                match fresh {
                    Some(a) => {
                        ctx.emit(
                            FALLBACK,
                            json!({ "kind": kind, "problem": problem, "action": "random", "proposed": ctx.space.format(&a) }),
                            Default::default(),
                        );
                        vec![a]
                    }
                    None => {
                        ctx.emit(
                            GAVE_UP,
                            json!({ "kind": kind, "problem": problem, "action": "stop", "why": "no unevaluated valid architecture was found at random" }),
                            Default::default(),
                        );
                        Vec::new()
                    }
                }
            }
        }
    }
}
