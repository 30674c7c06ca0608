//! The GENIUS optimizer: a chat model proposes architectures from a text description of the space and the results
//! so far, in one of the paper's three protocols (one objective) or the multi-objective protocol (several: every
//! result with every objective, the current Pareto front marked). Whatever the model replies, the run goes on:
//! unusable replies get a repair message (bounded, costing calls and tokens, never evaluations), duplicates get
//! "already evaluated", a model that says it cannot improve is recorded and the run stops or continues as configured.
//!
//! The optimizer does no IO, reads no clock and never sleeps: the [`ChatModel`] it holds does the calls (and the
//! waiting between retries), and every call, retry, failure and repair is reported through
//! [`AskContext::emit`] for the runner to write to `events.jsonl`.

use std::sync::Arc;

use async_trait::async_trait;
use genius_core::{
    Architecture, AskContext, Direction, Goal, Notation, Objective, Observation, Optimizer, OptimizerError,
    SearchSpace, SpaceBrief,
};

use crate::anonymize::Disguise;
use crate::chat::{ChatModel, ChatRequest, Message};
use crate::multi_objective::Target;
use crate::prompt::{MultiObjectiveTemplates, Templates, render};
use crate::reply;
use crate::settings::{
    DuplicateHandling, GeniusSettings, OnCannotImprove, OnRepairsExhausted, Principles, ProtocolChoice, Resolved,
};
use crate::transcript::{
    CallRecord, CannotImproveRecord, ErrorRecord, FallbackRecord, GiveUpRecord, LlmEvent, PrinciplesRecord,
    ProblemRecord, RejectedRecord, RetryRecord,
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
    /// A search with several objectives: a fresh chat per iteration with every result's objectives and the current
    /// Pareto front marked.
    MultiObjective,
}

impl Protocol {
    /// The protocol `choice` means for `space`.
    pub fn resolve(choice: ProtocolChoice, space: &dyn SearchSpace) -> Self {
        match choice {
            ProtocolChoice::Stateless => Self::Stateless,
            ProtocolChoice::Conversation => Self::Conversation,
            ProtocolChoice::Constrained => Self::Constrained,
            ProtocolChoice::Auto if space.is_constrained() => Self::Constrained,
            ProtocolChoice::Auto
                if space.brief().is_some_and(|b| b.dialogue == genius_core::Dialogue::Conversation) =>
            {
                Self::Conversation
            }
            ProtocolChoice::Auto => Self::Stateless,
        }
    }

    /// The protocol of a study of `objective` on `space`: the multi-objective one for several objectives (whatever
    /// `choice` says: the paper's protocols pursue one metric), else what `choice` means for `space`.
    pub fn for_study(choice: ProtocolChoice, space: &dyn SearchSpace, objective: &Objective) -> Self {
        if objective.is_multi() { Self::MultiObjective } else { Self::resolve(choice, space) }
    }

    /// Whether its answer's schema asks for an analysis before the design (the protocols that ask the model to
    /// reason first).
    fn analyses(self) -> bool {
        matches!(self, Self::Conversation | Self::Constrained)
    }

    /// Its name in settings and events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stateless => "stateless",
            Self::Conversation => "conversation",
            Self::Constrained => "constrained",
            Self::MultiObjective => "multi_objective",
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
    /// The first iteration's chat (the constrained protocol distils its principles from it).
    first_chat: Option<Vec<Message>>,
    /// The design principles stated from the second iteration on (given, or distilled).
    principles: Option<String>,
    /// Whether the provider rejected structured output for this model: from then on, free text.
    free_text: bool,
    /// The target of a multi-objective search (the `target` setting, parsed).
    target: Option<Target>,
}

impl Genius {
    /// The optimizer with `settings` ([`GeniusSettings::resolve`]), asking `model`.
    pub fn new(settings: Resolved, model: Arc<dyn ChatModel>) -> Self {
        let (settings, templates) = settings.into_parts();
        let principles = settings.principles_text.clone();
        let target = settings.target.as_deref().map(|t| t.parse::<Target>().expect("resolve checked the target"));
        Self {
            settings,
            templates,
            model,
            chat: Vec::new(),
            reported: 0,
            calls: 0,
            first_chat: None,
            principles,
            free_text: false,
            target,
        }
    }

    /// The optimizer of a resumed run, which recorded `events`: a provider that rejected structured output then is
    /// asked in free text from the start, so that the run's own transcript answers its requests again.
    pub fn resumed(mut self, events: &[genius_core::run_log::EventRecord]) -> Self {
        self.free_text = events.iter().any(|e| matches!(e.event.decode(), Some(LlmEvent::StructuredOutputRejected(_))));
        self
    }

    /// Whether the constrained protocol states distilled principles after its first iteration.
    fn distils(&self, protocol: Protocol) -> bool {
        protocol == Protocol::Constrained
            && self.settings.principles_text.is_none()
            && matches!(self.settings.principles, Principles::Auto | Principles::Distill)
    }

    /// Whether principles replace the questions once there are results.
    fn states_principles(&self, protocol: Protocol) -> bool {
        protocol == Protocol::Constrained && self.settings.principles != Principles::Off
    }

    /// Its (resolved) settings.
    pub fn genius_settings(&self) -> &GeniusSettings {
        &self.settings
    }

    /// The messages of the first request of the next ask in a study of `objective`, without calling the model (for
    /// snapshots and dry runs). For the conversation protocol it includes the chat so far.
    pub fn preview(
        &self,
        space: &dyn SearchSpace,
        objective: &Objective,
        history: &[Observation],
        k: usize,
    ) -> Result<Vec<Message>, OptimizerError> {
        let (brief, disguise) = self.brief(space)?;
        let protocol = self.protocol(space, objective)?;
        let words = Words::new(&self.templates, &brief, space.dimensions().len(), k);
        Ok(self.scrubbed(self.opening(protocol, space, objective, &brief, disguise.as_ref(), &words, history).0))
    }

    /// The protocol of a study of `objective`, with the target checked against it.
    fn protocol(&self, space: &dyn SearchSpace, objective: &Objective) -> Result<Protocol, OptimizerError> {
        if let Some(target) = &self.target {
            target.check(objective).map_err(OptimizerError::Settings)?;
        }
        Ok(Protocol::for_study(self.settings.protocol, space, objective))
    }

    /// The space's brief as the prompts give it, and how its architectures are shown (the contamination probe).
    fn brief(&self, space: &dyn SearchSpace) -> Result<(SpaceBrief, Option<Disguise>), OptimizerError> {
        let brief = brief(space)?;
        if !self.settings.anonymize {
            return Ok((brief, None));
        }
        let disguise = Disguise::for_space(space, brief.notation);
        let brief = crate::anonymize::scrub_brief(brief);
        Ok(match disguise {
            Some(d) => (d.brief(brief), Some(d)),
            None => (brief, None),
        })
    }

    /// `messages` with every benchmark and dataset name hidden, under the contamination probe.
    fn scrubbed(&self, mut messages: Vec<Message>) -> Vec<Message> {
        if self.settings.anonymize {
            for m in &mut messages {
                m.content = crate::anonymize::scrub(&m.content);
            }
        }
        messages
    }

    /// The messages that open an ask, and the chat to keep (conversation).
    #[allow(clippy::too_many_arguments)]
    fn opening(
        &self,
        protocol: Protocol,
        space: &dyn SearchSpace,
        objective: &Objective,
        brief: &SpaceBrief,
        disguise: Option<&Disguise>,
        words: &Words,
        history: &[Observation],
    ) -> (Vec<Message>, usize) {
        let t = &self.templates;
        let reported = history.len();
        let shown = Shown { space, brief, disguise };
        match protocol {
            Protocol::Stateless => {
                let s = &t.stateless;
                let rows = shown.rows(history, 0);
                let mut user = words.render(&s.intro, &[]);
                if !rows.is_empty() {
                    let lines: Vec<String> =
                        rows.iter().map(|r| r.line(words, (&s.experiment, &s.failed), s.value_decimals, &[])).collect();
                    user.push_str("\n\n");
                    user.push_str(&words.render(&s.experiments, &[("experiments", &lines.join("\n"))]));
                }
                user.push_str("\n\n");
                user.push_str(&words.render(&s.suffix, &[]));
                (vec![Message::system(words.render(&s.system, &[])), Message::user(user.trim())], reported)
            }
            Protocol::Constrained => {
                let c = &t.constrained;
                let rows = shown.rows(history, 0);
                let mut user = words.render(&c.intro, &[]);
                user.push_str("\n\n");
                match self.principles.as_deref() {
                    Some(p) if !rows.is_empty() && self.states_principles(protocol) => {
                        user.push_str(&words.render(&c.principles, &[("principles", p)]));
                    }
                    _ => user.push_str(&words.render(&c.questions, &[])),
                }
                if rows.is_empty() {
                    user.push_str("\n\n");
                    user.push_str(&words.render(&c.request_first, &[]));
                } else {
                    let lines: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            // The space's own figure (its resolution and classes, whole MFLOPs, as the paper's logs
                            // state it), else the evaluator's, rounded alike.
                            let mflops = space
                                .stated_mflops(&r.obs.arch)
                                .or_else(|| r.obs.flops.map(|f| (f as f64 / 1e6).round() as u64));
                            let flops = mflops
                                .map_or_else(String::new, |m| words.render(&c.flops, &[("mflops", &m.to_string())]));
                            r.line(words, (&c.experiment, &c.failed), c.value_decimals, &[("flops", &flops)])
                        })
                        .collect();
                    user.push_str("\n\n");
                    user.push_str(&words.render(&c.experiments, &[("experiments", &lines.join("\n"))]));
                    user.push_str("\n\n");
                    user.push_str(&words.render(&c.request, &[]));
                }
                (vec![Message::system(words.render(&c.system, &[])), Message::user(user.trim())], reported)
            }
            Protocol::Conversation => {
                let c = &t.conversation;
                let mut chat = self.chat.clone();
                if chat.is_empty() {
                    chat.push(Message::system(words.render(&c.system, &[])));
                    chat.push(Message::user(words.render(&c.intro, &[])));
                } else {
                    let start = self.reported.min(history.len());
                    let results: Vec<String> = shown
                        .rows(&history[start..], start)
                        .iter()
                        .map(|r| r.line(words, (&c.result, &c.failed), c.value_decimals, &[]))
                        .collect();
                    chat.push(Message::user(words.render(&c.feedback, &[("results", &results.join(" "))])));
                }
                (chat, reported)
            }
            Protocol::MultiObjective => {
                let m = &t.multi_objective;
                let goals = self.goals(objective, words);
                let target = self.target.as_ref();
                let front = crate::multi_objective::front(history, objective, target);
                let rows = shown.rows(history, 0);
                let mut user = goals.render(&m.intro, &[]);
                if rows.is_empty() {
                    user.push_str("\n\n");
                    user.push_str(&goals.render(&m.request_first, &[]));
                } else {
                    let lines: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            let mark = if front.contains(&r.obs.trial) {
                                m.front.as_str()
                            } else if crate::multi_objective::misses(r.obs, target) {
                                m.outside.as_str()
                            } else {
                                ""
                            };
                            match goals.values(r.obs) {
                                Some(values) => words.render(
                                    &m.experiment,
                                    &[("number", &r.number), ("arch", &r.arch), ("values", &values), ("front", mark)],
                                ),
                                None => words.render(
                                    &m.failed,
                                    &[("number", &r.number), ("arch", &r.arch), ("reason", &r.reason())],
                                ),
                            }
                        })
                        .collect();
                    user.push_str("\n\n");
                    user.push_str(&goals.render(&m.experiments, &[("experiments", &lines.join("\n"))]));
                    user.push_str("\n\n");
                    user.push_str(&goals.render(&m.request, &[]));
                }
                if let Some(target) = target {
                    let bound = match target.bound {
                        crate::multi_objective::Bound::AtMost => &m.at_most,
                        crate::multi_objective::Bound::AtLeast => &m.at_least,
                    };
                    let (metric, value) = (goals.label(&target.metric), goals.number(&target.metric, target.value));
                    let text = words.render(bound, &[("metric", &metric), ("value", &value)]);
                    user.push('\n');
                    user.push_str(&goals.render(&m.target, &[("target", &text)]));
                }
                user.push_str("\n\n");
                user.push_str(&goals.render(&m.suffix, &[]));
                (vec![Message::system(goals.render(&m.system, &[])), Message::user(user.trim())], reported)
            }
        }
    }

    /// The objectives as the multi-objective messages name them.
    fn goals<'w>(&'w self, objective: &Objective, words: &'w Words) -> Goals<'w> {
        Goals::new(&self.templates.multi_objective, objective, words)
    }

    fn request(&self, messages: &[Message], schema: Option<&crate::chat::JsonSchema>) -> ChatRequest {
        ChatRequest {
            model: self.settings.model.clone().unwrap_or_default(),
            messages: self.scrubbed(messages.to_vec()),
            temperature: Some(self.settings.temperature),
            top_p: self.settings.top_p,
            max_tokens: self.settings.max_tokens,
            seed: self.settings.seed,
            schema: schema.cloned(),
            exclude: Vec::new(),
        }
    }

    /// One model call, recorded; an error is recorded and turned into the optimizer's error. A provider that
    /// rejects the answer's schema (HTTP 400 or 422 to a request with one) is asked the same in free text, and so
    /// for the rest of the run.
    async fn call(
        &mut self,
        ctx: &mut AskContext<'_>,
        mut request: ChatRequest,
        purpose: &str,
    ) -> Result<crate::chat::ChatReply, OptimizerError> {
        loop {
            match self.call_once(ctx, &request, purpose).await {
                Err(e @ LlmError::Rejected { status: Some(400 | 422), .. }) if request.schema.is_some() => {
                    let rejected = RejectedRecord {
                        call: self.calls,
                        error: e.to_string(),
                        action: "the same request in free text, read by the parser, for the rest of the run".into(),
                    };
                    ctx.emit(&LlmEvent::StructuredOutputRejected(rejected), Default::default());
                    self.free_text = true;
                    request.schema = None;
                }
                Err(e) => return Err(OptimizerError::Failed(format!("the model call failed: {e}"))),
                Ok(reply) => return Ok(reply),
            }
        }
    }

    async fn call_once(
        &mut self,
        ctx: &mut AskContext<'_>,
        request: &ChatRequest,
        purpose: &str,
    ) -> Result<crate::chat::ChatReply, LlmError> {
        self.calls += 1;
        let call = self.calls;
        match self.model.chat(request).await {
            Ok(exchange) => {
                for attempt in &exchange.retries {
                    let record = RetryRecord { call, attempt: attempt.clone() };
                    ctx.emit(&LlmEvent::LlmRetry(record), Default::default());
                }
                let record = CallRecord {
                    call,
                    purpose: purpose.to_owned(),
                    model: self.model.info(),
                    request: request.clone(),
                    reply: exchange.reply.clone(),
                    source: exchange.source,
                    latency_s: exchange.latency_s,
                };
                ctx.emit(&LlmEvent::LlmCall(Box::new(record)), exchange.usage);
                Ok(exchange.reply)
            }
            Err(e) => {
                for attempt in e.retries() {
                    let record = RetryRecord { call, attempt: attempt.clone() };
                    ctx.emit(&LlmEvent::LlmRetry(record), Default::default());
                }
                let record = ErrorRecord { call, purpose: purpose.to_owned(), error: e.to_string() };
                ctx.emit(&LlmEvent::LlmError(record), Default::default());
                Err(e)
            }
        }
    }
}

/// How results are shown: the one rendering of the history that every protocol shares.
struct Shown<'a> {
    space: &'a dyn SearchSpace,
    brief: &'a SpaceBrief,
    disguise: Option<&'a Disguise>,
}

impl Shown<'_> {
    /// The trials of `history` to show (a query spent without a proposal has no architecture to show), numbered
    /// from `before + 1` in the order shown, each with its architecture as the prompts write it.
    fn rows<'h>(&self, history: &'h [Observation], before: usize) -> Vec<Row<'h>> {
        history
            .iter()
            .filter(|o| !o.arch.is_empty())
            .enumerate()
            .map(|(i, obs)| {
                let arch = match self.disguise {
                    Some(d) => self.brief.notation.write(self.space, &d.show(&obs.arch)),
                    None => self.brief.notation.write(self.space, &obs.arch),
                };
                Row { number: (before + i + 1).to_string(), arch, obs }
            })
            .collect()
    }
}

/// One trial as the prompts show it.
struct Row<'h> {
    /// Its number in the prompt, from 1.
    number: String,
    /// Its architecture, written in the prompt's notation.
    arch: String,
    obs: &'h Observation,
}

impl Row<'_> {
    /// The trial's line: `templates.0` with its objective value (`{value}`, with `decimals`), or `templates.1` with
    /// the reason it has none; both with `{arch}`, `{number}` and `extra`.
    fn line(&self, words: &Words, templates: (&str, &str), decimals: usize, extra: &[(&str, &str)]) -> String {
        let mut vars: Vec<(&str, &str)> = vec![("arch", &self.arch), ("number", &self.number)];
        vars.extend_from_slice(extra);
        match self.obs.value.map(|v| format!("{v:.decimals$}")) {
            Some(value) => {
                vars.push(("value", &value));
                words.render(templates.0, &vars)
            }
            None => {
                let reason = self.reason();
                vars.push(("reason", &reason));
                words.render(templates.1, &vars)
            }
        }
    }

    /// Why the trial has no result.
    fn reason(&self) -> String {
        self.obs.failure.clone().unwrap_or_else(|| "no result".into())
    }
}

/// The objectives of a multi-objective search as its messages name them, and the trials' values.
struct Goals<'a> {
    templates: &'a MultiObjectiveTemplates,
    goals: Vec<Goal>,
    words: &'a Words,
    /// `{objectives}` (one line each) and `{objective_count}`.
    vars: [(&'static str, String); 2],
}

impl<'a> Goals<'a> {
    fn new(templates: &'a MultiObjectiveTemplates, objective: &Objective, words: &'a Words) -> Self {
        let goals = objective.all();
        let lines: Vec<String> = goals
            .iter()
            .map(|g| {
                let direction = match g.direction {
                    Direction::Maximize => words.render(&templates.maximize, &[]),
                    Direction::Minimize => words.render(&templates.minimize, &[]),
                };
                let metric = Self::label_in(templates, words, &g.metric);
                words.render(&templates.objective, &[("metric", &metric), ("direction", &direction)])
            })
            .collect();
        let vars = [("objectives", lines.join("\n")), ("objective_count", goals.len().to_string())];
        Self { templates, goals, words, vars }
    }

    fn label_in(templates: &MultiObjectiveTemplates, words: &Words, metric: &str) -> String {
        match metric {
            "flops" => words.render(&templates.flops_label, &[]),
            "params" => words.render(&templates.params_label, &[]),
            other => other.to_owned(),
        }
    }

    /// The name the messages give `metric`.
    fn label(&self, metric: &str) -> String {
        Self::label_in(self.templates, self.words, metric)
    }

    /// `value` of `metric` as the messages write it: FLOPs and parameters in millions, every value with the
    /// templates' significant digits.
    fn number(&self, metric: &str, value: f64) -> String {
        let value = if matches!(metric, "flops" | "params") { value / 1e6 } else { value };
        significant(value, self.templates.value_digits)
    }

    /// Every objective's value of `o` (`value` each, joined by ", "; `unknown` where it lacks one), or `None` when
    /// it has none (a failed trial).
    fn values(&self, o: &Observation) -> Option<String> {
        let values: Vec<Option<f64>> = self.goals.iter().map(|g| crate::multi_objective::value(o, &g.metric)).collect();
        if values.iter().all(Option::is_none) {
            return None;
        }
        let shown: Vec<String> = self
            .goals
            .iter()
            .zip(values)
            .map(|(g, v)| {
                let value = v.map_or_else(|| "unknown".to_owned(), |v| self.number(&g.metric, v));
                self.words.render(&self.templates.value, &[("metric", &self.label(&g.metric)), ("value", &value)])
            })
            .collect();
        Some(shown.join(", "))
    }

    /// `template` rendered with the space's words, the objectives and `extra`.
    fn render(&self, template: &str, extra: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = extra.to_vec();
        all.extend(self.vars.iter().map(|(k, v)| (*k, v.as_str())));
        self.words.render(template, &all)
    }
}

/// `value` with `digits` significant digits (at most 10 decimals): 93.76, 220.1, 0.07310.
fn significant(value: f64, digits: usize) -> String {
    let magnitude = if value == 0.0 || !value.is_finite() { 0 } else { value.abs().log10().floor() as i64 };
    let decimals = (digits as i64 - 1 - magnitude).clamp(0, 10) as usize;
    format!("{value:.decimals$}")
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
        /// Well-formed proposals that broke the constraint (recorded as invalid trials if the repairs run out).
        violating: Vec<Architecture>,
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
        objective: &Objective,
        notation: Notation,
        disguise: Option<&Disguise>,
        history: &[Observation],
        words: &Words,
        k: usize,
    ) -> Verdict {
        let t = &self.templates;
        let mut candidates = reply::candidates(&reply.content, space, notation);
        if let Some(d) = disguise {
            // The reply is written in the shown ids.
            for c in &mut candidates {
                if let Ok(arch) = &c.arch {
                    c.arch = Ok(d.real(arch));
                }
            }
        }
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
                    violating: Vec::new(),
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
                        violating: Vec::new(),
                    }
                }
            };
        }
        let mut good = Vec::new();
        let mut duplicates = Vec::new();
        let mut violating = Vec::new();
        let mut first: Option<(&'static str, String, String)> = None;
        for arch in picked {
            let written = notation.write(space, &disguise.map_or_else(|| arch.clone(), |d| d.show(&arch)));
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
                violating.push(arch);
            } else if let Some(seen) = (self.settings.duplicates == DuplicateHandling::Repair)
                .then(|| space.canonical(&arch))
                .and_then(|same| {
                    // The same network, written the same or another way (a skip moved within a stage).
                    history.iter().find(|o| o.arch == arch || (!o.arch.is_empty() && space.canonical(&o.arch) == same))
                })
            {
                let message = if protocol == Protocol::MultiObjective {
                    let goals = self.goals(objective, words);
                    let values = goals.values(seen).unwrap_or_else(|| "unknown".into());
                    goals.render(&t.multi_objective.duplicate, &[("arch", &written), ("values", &values)])
                } else {
                    let decimals = match protocol {
                        Protocol::Stateless => t.stateless.value_decimals,
                        Protocol::Conversation => t.conversation.value_decimals,
                        Protocol::Constrained | Protocol::MultiObjective => t.constrained.value_decimals,
                    };
                    let value = seen.value.map_or_else(|| "unknown".into(), |v| format!("{v:.decimals$}"));
                    words.render(&t.repair.duplicate, &[("arch", &written), ("value", &value)])
                };
                first.get_or_insert_with(|| {
                    ("duplicate", format!("{written} was already evaluated (trial {})", seen.trial), message)
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
        Verdict::Repair { kind, problem, message, duplicates, violating }
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
        let (brief, disguise) = self.brief(space)?;
        let protocol = self.protocol(space, ctx.objective)?;
        let k = self.settings.proposals_per_call.min(n).max(1);
        let words = Words::new(&self.templates, &brief, space.dimensions().len(), k);
        if self.distils(protocol) && self.principles.is_none() && !ctx.history.is_empty() {
            self.distil(ctx).await?;
        }
        let (mut messages, reported) =
            self.opening(protocol, space, ctx.objective, &brief, disguise.as_ref(), &words, ctx.history);
        let mut purpose = "propose";
        let (mut repairs, mut violations) = (0usize, 0usize);
        // Well-formed proposals of this ask sent back (duplicates, violations): masked too in the next call.
        let mut asked: Vec<Architecture> = Vec::new();
        let outcome = loop {
            let schema = (self.settings.structured_output.unwrap_or(false) && !self.free_text)
                .then(|| schema::answer(space, brief.notation, k, protocol.analyses()));
            let mut request = self.request(&messages, schema.as_ref());
            if request.seed.is_none() && self.settings.llm == crate::provider::Provider::Local {
                // The embedded model samples with the request's seed: one drawn from the study's generator for every
                // call, so that the study's seed decides the run, and the same seed repeats it (and its replay).
                request.seed = Some(rand::Rng::next_u64(ctx.rng));
            }
            if request.schema.is_some()
                && self.settings.mask_evaluated
                && self.settings.llm == crate::provider::Provider::Local
            {
                // The embedded model's decoder masks every architecture evaluated, and those this ask already
                // proposed (a duplicate written another way, sent back): it cannot repeat itself.
                let shown = |a: &Architecture| disguise.as_ref().map_or_else(|| a.clone(), |d| d.show(a));
                let mut seen: Vec<&Architecture> = Vec::new();
                for a in ctx.history.iter().map(|o| &o.arch).chain(&asked) {
                    if !a.is_empty() && !seen.contains(&a) {
                        seen.push(a);
                    }
                }
                request.exclude =
                    seen.into_iter().map(|a| schema::architecture_value(space, brief.notation, &shown(a))).collect();
            }
            let reply = self.call(ctx, request, purpose).await?;
            messages.push(Message::assistant(reply.content.clone()));
            let verdict = self.judge(
                &reply,
                protocol,
                space,
                ctx.objective,
                brief.notation,
                disguise.as_ref(),
                ctx.history,
                &words,
                k,
            );
            let (kind, problem, message, duplicates, violating) = match verdict {
                Verdict::Accept(archs) => break archs,
                Verdict::CannotImprove => {
                    let stop = self.settings.on_cannot_improve == OnCannotImprove::Stop;
                    let record = CannotImproveRecord {
                        call: self.calls,
                        reply: crate::http::shorten(&reply.content, 500),
                        refusal: reply.refusal.clone(),
                        action: if stop { "stop" } else { "continue" }.into(),
                    };
                    ctx.emit(&LlmEvent::CannotImprove(record), Default::default());
                    if stop {
                        break Vec::new();
                    }
                    (
                        "cannot_improve",
                        "the model said it cannot improve".to_owned(),
                        words.render(&self.templates.repair.cannot_improve, &[]),
                        Vec::new(),
                        Vec::new(),
                    )
                }
                Verdict::Repair { kind, problem, message, duplicates, violating } => {
                    asked.extend(duplicates.iter().chain(&violating).cloned());
                    (kind, problem, message, duplicates, violating)
                }
            };
            // Constraint violations have their own, larger bound: correcting a FLOPs total takes the model several
            // tries (up to 7 in the paper's logs), where an unreadable reply rarely improves after three.
            let (used, bound) = if kind == "violation" {
                violations += 1;
                (violations, self.settings.max_violations)
            } else {
                repairs += 1;
                (repairs, self.settings.max_repairs)
            };
            let exhausted = used > bound;
            let record = ProblemRecord {
                call: self.calls,
                kind: kind.to_owned(),
                problem: problem.clone(),
                repair: (!exhausted).then(|| message.clone()),
                repairs: used,
            };
            ctx.emit(&LlmEvent::ReplyProblem(record), Default::default());
            if exhausted {
                break self.give_up(ctx, kind, &problem, used, duplicates, violating);
            }
            messages.push(Message::user(message));
            purpose = kind;
        };
        if self.distils(protocol) && self.first_chat.is_none() {
            self.first_chat = Some(messages.clone());
        }
        if protocol == Protocol::Conversation {
            self.chat = messages;
        }
        self.reported = reported;
        Ok(outcome)
    }

    fn tell(&mut self, _trials: &[Observation]) {
        // Everything the prompts need is in the history the runner passes to `ask`.
    }

    fn multi_objective(&self) -> bool {
        true
    }
}

impl Genius {
    /// Distils design principles from the first iteration's chat, in one recorded call without a schema.
    async fn distil(&mut self, ctx: &mut AskContext<'_>) -> Result<(), OptimizerError> {
        let Some(mut messages) = self.first_chat.clone() else {
            // A run resumed past its first iteration replays it, so this holds only for a history not of our making.
            return Ok(());
        };
        messages.push(Message::user(self.templates.constrained.distill.clone()));
        let mut request = self.request(&messages, None);
        if request.seed.is_none() && self.settings.llm == crate::provider::Provider::Local {
            request.seed = Some(rand::Rng::next_u64(ctx.rng));
        }
        let reply = self.call(ctx, request, "distill").await?;
        let text = reply.content.trim().trim_matches('`').trim().to_owned();
        let record = PrinciplesRecord { source: "distilled".into(), call: Some(self.calls), text: text.clone() };
        ctx.emit(&LlmEvent::Principles(record), Default::default());
        self.principles = Some(text);
        Ok(())
    }

    /// The repairs ran out: propose the duplicates if that was all that was wrong; else, as configured, spend the
    /// query on a failed trial, stop, or draw at random.
    fn give_up(
        &self,
        ctx: &mut AskContext<'_>,
        kind: &str,
        problem: &str,
        used: usize,
        duplicates: Vec<Architecture>,
        violating: Vec<Architecture>,
    ) -> Vec<Architecture> {
        let gave_up = |action: &str, proposed: Vec<String>| GiveUpRecord {
            kind: kind.to_owned(),
            problem: problem.to_owned(),
            action: action.to_owned(),
            proposed,
            why: None,
        };
        if !duplicates.is_empty() {
            let texts: Vec<String> = duplicates.iter().map(|a| ctx.space.format(a)).collect();
            ctx.emit(&LlmEvent::GaveUp(gave_up("propose the duplicates", texts)), Default::default());
            return duplicates;
        }
        match self.settings.on_repairs_exhausted {
            OnRepairsExhausted::Fail if kind == "violation" && !violating.is_empty() => {
                let texts: Vec<String> = violating.iter().map(|a| ctx.space.format(a)).collect();
                let record = gave_up("record the proposal as an invalid trial", texts);
                ctx.emit(&LlmEvent::GaveUp(record), Default::default());
                violating
            }
            OnRepairsExhausted::Fail => {
                let what = if kind == "violation" { "constraint violation(s)" } else { "repair(s)" };
                ctx.emit(&LlmEvent::GaveUp(gave_up("fail the query", Vec::new())), Default::default());
                ctx.fail_query(format!("{problem} (after {} {what})", used - 1));
                Vec::new()
            }
            OnRepairsExhausted::Stop => {
                ctx.emit(&LlmEvent::GaveUp(gave_up("stop", Vec::new())), Default::default());
                Vec::new()
            }
            OnRepairsExhausted::Random => {
                let fresh = (0..1000).find_map(|_| {
                    let a = ctx.space.sample_feasible(ctx.rng)?;
                    (!ctx.history.iter().any(|o| o.arch == a)).then_some(a)
                });
                match fresh {
                    Some(a) => {
                        let record = FallbackRecord {
                            kind: kind.to_owned(),
                            problem: problem.to_owned(),
                            action: "random".into(),
                            proposed: ctx.space.format(&a),
                        };
                        ctx.emit(&LlmEvent::Fallback(record), Default::default());
                        vec![a]
                    }
                    None => {
                        let why = "no unevaluated valid architecture was found at random";
                        let record = GiveUpRecord { why: Some(why.into()), ..gave_up("stop", Vec::new()) };
                        ctx.emit(&LlmEvent::GaveUp(record), Default::default());
                        Vec::new()
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_significant_digits() {
        assert_eq!(significant(93.7612, 4), "93.76");
        assert_eq!(significant(220.14, 4), "220.1");
        assert_eq!(significant(0.0731, 4), "0.07310");
        assert_eq!(significant(1234.5, 4), "1234");
        assert_eq!(significant(0.0, 4), "0.000");
        assert_eq!(significant(-0.5, 2), "-0.50");
        assert_eq!(significant(1e-30, 4), "0.0000000000", "at most 10 decimals");
    }

    #[test]
    fn several_objectives_have_their_own_protocol_whatever_the_choice() {
        let space = genius_core::testing::ToySpace::new().with_brief();
        let table = genius_core::testing::ToyTable::new();
        let spec = genius_core::Evaluator::metrics(&table);
        let one = Objective::from_spec(spec);
        let two = Objective::goals(spec, ["val_acc:max".parse().unwrap(), "params:min".parse().unwrap()]).unwrap();
        for choice in [ProtocolChoice::Auto, ProtocolChoice::Conversation, ProtocolChoice::Constrained] {
            assert_eq!(Protocol::for_study(choice, &space, &two), Protocol::MultiObjective);
            assert_eq!(Protocol::for_study(choice, &space, &one), Protocol::resolve(choice, &space));
        }
        assert_eq!(Protocol::MultiObjective.name(), "multi_objective");
        assert!(!Protocol::MultiObjective.analyses(), "it asks for the answer only, as the stateless protocol");
    }
}
