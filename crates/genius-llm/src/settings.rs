//! The GENIUS optimizer's settings: which model, how it is called, which protocol and prompts, and what happens
//! when a reply cannot be used. They are recorded in the run header (never the key: only the name of the
//! environment variable holding it), and the same settings build the same optimizer on resume.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use genius_core::run_log::EventRecord;
use serde::{Deserialize, Serialize};

use crate::LlmError;
use crate::anthropic::AnthropicClient;
use crate::cache::{self, CachedModel};
use crate::chat::ChatModel;
use crate::http::{ApiKey, Connection};
use crate::openai::{Flavor, OpenAiClient};
use crate::pricing::Price;
use crate::prompt::Templates;
use crate::provider::Provider;
use crate::replay::ReplayModel;
use crate::retry::RetryPolicy;

/// The chat protocol, as in the paper, for a search with one objective (a search with several is always asked in
/// the multi-objective protocol, `[multi_objective]` in `prompts/genius.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolChoice {
    /// Chosen from the space: `constrained` for a constrained space, `conversation` for a space whose brief asks for
    /// it (NAS-Bench-201), `stateless` otherwise.
    #[default]
    Auto,
    /// A fresh two-message chat per iteration with every result so far.
    Stateless,
    /// One growing chat: a result and "recommend a new model" per iteration.
    Conversation,
    /// A fresh chat per iteration with tables and results; constraint violations answered in it.
    Constrained,
}

/// What to do when the model says it cannot improve (or refuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnCannotImprove {
    /// Record it and end the study (as GPT-4 ended two of the paper's three NAS-Bench-Macro trials).
    #[default]
    Stop,
    /// Record it and ask for another design anyway (costs a repair).
    Continue,
}

/// What to do when the repairs run out without a usable proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRepairsExhausted {
    /// The query becomes a failed trial with the reason (it costs the query) and the search goes on; a proposal
    /// that still broke the constraint is recorded as that invalid trial. The default: one reply chain that went
    /// wrong should not end a whole search.
    #[default]
    Fail,
    /// Record it and end the study: every trial stays the model's own proposal.
    Stop,
    /// Record it and propose a random valid, unevaluated architecture instead (drawn from the study's seed).
    Random,
}

/// What to do when the model proposes an architecture the run has already evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateHandling {
    /// Answer "already evaluated, propose another" in the same chat: it costs a model call, never a query, so every
    /// query of the budget buys a new architecture. genius's default.
    #[default]
    Repair,
    /// Accept it as the original GENIUS code did: the run answers it from the history and it costs a query (under
    /// the study's duplicate policy). The paper's configurations use it.
    Evaluate,
}

/// Design principles in place of the constrained protocol's analysis questions, from the second iteration on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principles {
    /// `distill` for the constrained protocol (as the paper's ImageNet search did), `off` for the others.
    #[default]
    Auto,
    /// After the first iteration the model distils design principles from its own first answer, in one recorded
    /// call; later prompts state them instead of asking the questions again.
    Distill,
    /// Ask the analysis questions in every iteration.
    Off,
}

/// Whether replies are cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// On at temperature 0, off when sampling.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// Settings of the GENIUS optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeniusSettings {
    /// The provider: `openai`, `azure`, `openai-compatible`, `anthropic`, or `local` (the embedded model, a GGUF
    /// file run in-process; the cargo feature `local`).
    pub llm: Provider,
    /// The model (for Azure, the deployment; for `local`, the GGUF file, or its bare file name in the model directory
    /// [default: the default model in the model directory, see `genius model fetch`]).
    pub model: Option<String>,
    /// The endpoint [default: `https://api.openai.com/v1` for openai, `https://api.anthropic.com` for anthropic;
    /// required for azure (the resource's endpoint) and openai-compatible (e.g. `http://127.0.0.1:11434/v1`)].
    pub base_url: Option<String>,
    /// The environment variable holding the API key [default: `OPENAI_API_KEY`, `AZURE_OPENAI_API_KEY`,
    /// `ANTHROPIC_API_KEY`; none for openai-compatible].
    pub api_key_env: Option<String>,
    /// Azure's `api-version`.
    pub api_version: String,
    /// Serve every reply from the run recorded in this directory, with no network (`--llm replay:DIR`).
    pub replay: Option<PathBuf>,
    /// Sampling temperature (the paper used 0).
    pub temperature: f64,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// The most tokens a reply may have.
    pub max_tokens: Option<u32>,
    /// The provider's sampling seed, where it has one.
    pub seed: Option<u64>,
    /// Seconds one HTTP attempt may take.
    pub timeout_s: f64,
    /// Headers added to every request (recorded in the run header: never put a secret here).
    pub headers: BTreeMap<String, String>,
    /// How failed calls are retried.
    pub retry: RetryPolicy,
    /// The model's price (US dollars per million tokens), for money accounting and budgets.
    pub price: Option<Price>,
    /// Whether replies are cached.
    pub cache: CacheMode,
    /// The cache directory [default: the user's cache directory, genius/llm].
    pub cache_dir: Option<PathBuf>,
    /// The chat protocol.
    pub protocol: ProtocolChoice,
    /// Architectures asked for per call (the paper: 1).
    pub proposals_per_call: usize,
    /// Whether to send the answer's JSON schema (structured output) [default: on for openai, azure and anthropic,
    /// off for openai-compatible servers, whose support varies]. A provider that rejects the schema for a model
    /// (HTTP 400, as OpenAI does for gpt-4) gets the same request in free text, read by the parser; the fallback is
    /// recorded as a `structured_output_rejected` event and holds for the rest of the run.
    pub structured_output: Option<bool>,
    /// Repair messages per iteration for unusable replies (no design, an invalid one, a duplicate) before giving up
    /// (each costs a call, never an evaluation).
    pub max_repairs: usize,
    /// Constraint violations answered per iteration before giving up (the constrained protocol's FLOPs
    /// corrections; GENIUS's ImageNet logs needed up to 7).
    pub max_violations: usize,
    /// What to do when the model proposes an architecture already evaluated.
    pub duplicates: DuplicateHandling,
    /// Whether the embedded model's constrained decoder masks, token by token, every architecture already evaluated
    /// in the run, so that it never proposes a duplicate (a model over an API is not masked: a duplicate gets the
    /// repair message). Off for an ablation.
    pub mask_evaluated: bool,
    /// The former form of `duplicates` (`true` is `repair`, `false` is `evaluate`), read from older run logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_duplicates: Option<bool>,
    /// What to do when the model says it cannot improve.
    pub on_cannot_improve: OnCannotImprove,
    /// What to do when the repairs run out.
    pub on_repairs_exhausted: OnRepairsExhausted,
    /// A TOML file of prompt templates laid over the defaults; read when the optimizer is built and recorded as
    /// `prompts`.
    pub prompts_file: Option<PathBuf>,
    /// Prompt templates laid over the defaults (a table shaped like `prompts/genius.toml`).
    pub prompts: Option<serde_json::Value>,
    /// Design principles in place of the constrained protocol's analysis questions.
    pub principles: Principles,
    /// A text file of design principles to state from the second iteration on (instead of distilling them); read
    /// when the optimizer is built and recorded as `principles_text`.
    pub principles_file: Option<PathBuf>,
    /// Design principles to state from the second iteration on, as given.
    pub principles_text: Option<String>,
    /// The contamination probe: the prompts hide the benchmark's and the dataset's names and list the operations
    /// under other ids (replies are mapped back), so that a model cannot recall a benchmark's good architectures.
    pub anonymize: bool,
    /// A budget on one objective of a search with several (`METRIC<=VALUE` or `METRIC>=VALUE`, e.g. `flops<=100e6`,
    /// in the metric's own units): the multi-objective prompt asks for a design that meets it and marks the Pareto
    /// front among the results that do. Refused, when the search starts, for a search with one objective or a
    /// metric that is not one of its objectives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Default for GeniusSettings {
    fn default() -> Self {
        Self {
            llm: Provider::OpenAi,
            model: None,
            base_url: None,
            api_key_env: None,
            api_version: "2024-10-21".into(),
            replay: None,
            temperature: 0.0,
            top_p: None,
            max_tokens: None,
            seed: None,
            timeout_s: 120.0,
            headers: BTreeMap::new(),
            retry: RetryPolicy::default(),
            price: None,
            cache: CacheMode::Auto,
            cache_dir: None,
            protocol: ProtocolChoice::Auto,
            proposals_per_call: 1,
            structured_output: None,
            max_repairs: 3,
            max_violations: 10,
            duplicates: DuplicateHandling::Repair,
            mask_evaluated: true,
            reject_duplicates: None,
            on_cannot_improve: OnCannotImprove::Stop,
            on_repairs_exhausted: OnRepairsExhausted::Fail,
            prompts_file: None,
            prompts: None,
            principles: Principles::Auto,
            principles_file: None,
            principles_text: None,
            anonymize: false,
            target: None,
        }
    }
}

/// The run an optimizer serves, as far as the response cache is concerned: its replies answer re-runs of this run
/// only (same space, seed and settings), never another seed's run, so that independent repeats at temperature 0
/// are independent calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunScope {
    /// The space searched.
    pub space: String,
    /// The run's seed.
    pub seed: u64,
}

/// The sampling temperature the command line gives the embedded model when none is set: it samples (so that the
/// study's seed matters) from its own distribution, sharpened a little.
pub const LOCAL_TEMPERATURE: f64 = 0.7;

impl GeniusSettings {
    /// Settings from JSON (`null` for the defaults), naming the optimizer and the field in errors.
    pub fn from_json(value: serde_json::Value) -> Result<Self, LlmError> {
        if value.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(value).map_err(|e| LlmError::Settings(format!("genius: {e}")))
    }

    /// Checks every field and settles the defaults that depend on others: the structured-output default is made
    /// explicit, a prompts file is read into `prompts`, and an embedded model named by its bare file name (no
    /// directory, not a file here) is the one in the model directory, so that the result, recorded, rebuilds the
    /// same optimizer anywhere. The result is the only thing a [`crate::Genius`] is built from.
    pub fn resolve(mut self) -> Result<Resolved, LlmError> {
        let bad = |m: String| Err(LlmError::Settings(m));
        if self.llm == Provider::Local {
            self.model = Some(match self.model.as_deref().map(str::trim) {
                None | Some("") => crate::local::default_model_path().to_string_lossy().into_owned(),
                Some(name) if !name.contains(['/', '\\']) && !std::path::Path::new(name).exists() => {
                    crate::local::model_dir().join(name).to_string_lossy().into_owned()
                }
                Some(path) => path.to_owned(),
            });
        }
        if self.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
            return bad(format!(
                "no model given for {}: write --llm {}:MODEL (e.g. --llm openai:gpt-4o) or --model MODEL",
                self.llm, self.llm
            ));
        }
        if let Some(example) = self.llm.base_url_example()
            && self.base_url.is_none()
            && self.replay.is_none()
        {
            return bad(format!(
                "{} needs the model's endpoint: --llm-base-url {example} (in a settings file: base_url = \"{example}\")",
                self.llm
            ));
        }
        if !(self.temperature.is_finite() && (0.0..=2.0).contains(&self.temperature)) {
            return bad("temperature must be between 0 and 2".into());
        }
        if self.top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
            return bad("top_p must be in (0, 1]".into());
        }
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0) {
            return bad("timeout_s must be a positive number of seconds".into());
        }
        if self.proposals_per_call == 0 {
            return bad("proposals_per_call must be at least 1".into());
        }
        self.retry.check()?;
        if let Some(p) = &self.price {
            p.check()?;
        }
        for name in self.headers.keys() {
            let lower = name.to_ascii_lowercase();
            if ["authorization", "api-key", "x-api-key"].contains(&lower.as_str()) {
                return bad(format!(
                    "headers.{name}: a key must not be put in the settings (they are recorded); set api_key_env to \
                     the name of the environment variable holding it"
                ));
            }
        }
        if let Some(target) = &self.target {
            target.parse::<crate::multi_objective::Target>()?;
        }
        self.structured_output.get_or_insert(self.llm.structured_output_by_default());
        if let Some(reject) = self.reject_duplicates.take() {
            self.duplicates = if reject { DuplicateHandling::Repair } else { DuplicateHandling::Evaluate };
        }
        if let Some(path) = self.principles_file.take() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LlmError::Settings(format!("principles_file {}: cannot read it: {e}", path.display())))?;
            self.principles_text = Some(text.trim().to_owned());
        }
        if self.principles_text.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return bad("principles_text is empty: give the principles, or leave it out".into());
        }
        let mut overrides = match self.prompts.take() {
            None => toml::Table::new(),
            Some(v) => serde_json::from_value::<toml::Table>(v)
                .map_err(|e| LlmError::Settings(format!("prompts must be a table of templates: {e}")))?,
        };
        if let Some(path) = self.prompts_file.take() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LlmError::Settings(format!("prompts_file {}: cannot read it: {e}", path.display())))?;
            let file: toml::Table = toml::from_str(&text)
                .map_err(|e| LlmError::Settings(format!("prompts_file {} is not valid TOML: {e}", path.display())))?;
            let mut merged = file;
            for (k, v) in overrides {
                merged.insert(k, v);
            }
            overrides = merged;
        }
        let templates = Templates::with_overrides(&overrides)?;
        if !overrides.is_empty() {
            self.prompts = Some(serde_json::to_value(&overrides).expect("tables serialize"));
        }
        Ok(Resolved { settings: self, templates })
    }

    /// The environment variable of the API key, if the provider needs one.
    pub fn key_var(&self) -> Option<String> {
        self.api_key_env.clone().or_else(|| self.llm.key_var().map(str::to_owned))
    }

    /// Whether replies are cached under these settings (the embedded model's replies are free and cost only
    /// time: cached only when asked for).
    pub fn caches(&self) -> bool {
        match self.cache {
            CacheMode::Auto => self.temperature == 0.0 && self.llm != Provider::Local,
            CacheMode::On => true,
            CacheMode::Off => false,
        }
    }

    /// The response cache's scope for `run`: the space, the seed and every setting that shapes a request or its use
    /// (not where the cache lives, nor how calls are retried).
    pub fn cache_scope(&self, run: &RunScope) -> String {
        let mut shaping = self.clone();
        shaping.cache = CacheMode::Auto;
        shaping.cache_dir = None;
        shaping.timeout_s = 0.0;
        shaping.retry = RetryPolicy::default();
        let settings = serde_json::to_string(&shaping).expect("settings serialize");
        format!("space={};seed={};settings={settings}", run.space, run.seed)
    }

    /// The live client these (resolved) settings describe, with its key read from the environment (the embedded
    /// model: loaded from its file, once per process).
    pub fn client(&self) -> Result<Arc<dyn ChatModel>, LlmError> {
        let model = self.model.clone().unwrap_or_default();
        if self.llm == Provider::Local {
            return local_client(std::path::Path::new(&model));
        }
        let key = match self.key_var() {
            Some(var) => Some(ApiKey::from_env(&var, self.llm.name())?),
            None => None,
        };
        // A provider with no default endpoint was refused without one by `resolve`.
        let base_url = self.base_url.clone().or_else(|| self.llm.default_base_url().map(str::to_owned));
        let mut conn = Connection::new(base_url.unwrap_or_default());
        conn.api_key = key;
        conn.timeout = Duration::from_secs_f64(self.timeout_s);
        conn.headers = self.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        conn.retry = self.retry.clone();
        conn.price = self.price;
        let structured = self.structured_output.unwrap_or(false);
        Ok(match self.llm {
            Provider::Anthropic => Arc::new(AnthropicClient::new(model, conn, structured)?),
            Provider::Azure => Arc::new(OpenAiClient::new(
                Flavor::Azure { deployment: model.clone(), api_version: self.api_version.clone() },
                model,
                conn,
                structured,
            )?),
            Provider::OpenAiCompatible => Arc::new(OpenAiClient::new(Flavor::Compatible, model, conn, structured)?),
            Provider::OpenAi => Arc::new(OpenAiClient::new(Flavor::OpenAi, model, conn, structured)?),
            Provider::Local => unreachable!("the embedded model returned above"),
        })
    }

    /// The model a study of the run `run` uses: a replay of `replay` when set; else the live client (behind the
    /// response cache, scoped to `run`, when it is on), answering first from `recorded` (the run's own transcript,
    /// on resume).
    pub fn model(
        &self,
        recorded: Option<(&str, &[EventRecord])>,
        run: &RunScope,
    ) -> Result<Arc<dyn ChatModel>, LlmError> {
        if let Some(dir) = &self.replay {
            let replay = ReplayModel::from_dir(dir)?;
            return Ok(match recorded {
                // A resumed replay run: its own transcript first, then the original's.
                Some((origin, events)) if !events.is_empty() => {
                    Arc::new(ReplayModel::from_events(origin, events, Some(Arc::new(replay)))?)
                }
                _ => Arc::new(replay),
            });
        }
        let mut live = self.client()?;
        if self.caches() {
            let dir = self.cache_dir.clone().or_else(cache::default_dir).ok_or_else(|| {
                LlmError::Settings("no cache directory is known here: set cache_dir, or cache = \"off\"".into())
            })?;
            live = Arc::new(CachedModel::open(live, &dir, &self.cache_scope(run))?);
        }
        match recorded {
            Some((origin, events)) if events.iter().any(|e| e.event.kind == crate::transcript::LLM_CALL) => {
                Ok(Arc::new(ReplayModel::from_events(origin, events, Some(live))?))
            }
            _ => Ok(live),
        }
    }
}

/// The embedded model in `path`.
#[cfg(feature = "local")]
fn local_client(path: &std::path::Path) -> Result<Arc<dyn ChatModel>, LlmError> {
    Ok(Arc::new(crate::local::model::LocalModel::open(path)?))
}

/// Without the feature: what to do.
#[cfg(not(feature = "local"))]
fn local_client(_: &std::path::Path) -> Result<Arc<dyn ChatModel>, LlmError> {
    Err(LlmError::Unavailable(crate::local::unavailable_help()))
}

/// Settings that passed [`GeniusSettings::resolve`]: every field checked, the defaults that depend on others
/// settled, the prompt templates built. The only way to build a [`crate::Genius`]; read the settings through `Deref`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    settings: GeniusSettings,
    templates: Templates,
}

impl Resolved {
    /// The prompt templates: the defaults with the settings' overrides laid over them.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// The settings (as a run header records them) and the templates.
    pub fn into_parts(self) -> (GeniusSettings, Templates) {
        (self.settings, self.templates)
    }
}

impl std::ops::Deref for Resolved {
    type Target = GeniusSettings;

    fn deref(&self) -> &GeniusSettings {
        &self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(v: serde_json::Value) -> Result<GeniusSettings, LlmError> {
        GeniusSettings::from_json(v)?.resolve().map(|r| r.into_parts().0)
    }

    #[test]
    fn every_invalid_field_is_named() {
        let e = |v| settings(v).unwrap_err().to_string();
        assert!(e(serde_json::json!({"llm": "gpt"})).contains("llm `gpt` is not a provider"));
        assert!(e(serde_json::json!({"llm": "openai"})).contains("no model given for openai"));
        assert!(
            e(serde_json::json!({"llm": "openai-compatible", "model": "m"}))
                .contains("--llm-base-url http://127.0.0.1:11434/v1")
        );
        assert!(e(serde_json::json!({"model": "m", "temprature": 1})).contains("unknown field `temprature`"));
        assert!(e(serde_json::json!({"model": "m", "temperature": 3})).contains("temperature"));
        assert!(e(serde_json::json!({"model": "m", "proposals_per_call": 0})).contains("proposals_per_call"));
        assert!(e(serde_json::json!({"model": "m", "headers": {"Authorization": "Bearer x"}})).contains("api_key_env"));
        assert!(
            e(serde_json::json!({"model": "m", "prompts": {"stateless": {"system": "{oops}"}}})).contains("{oops}")
        );
        assert!(e(serde_json::json!({"model": "m", "target": "flops<100"})).contains("target `flops<100` is not"));
    }

    #[test]
    fn an_embedded_model_named_by_its_file_name_is_the_one_in_the_model_directory() {
        let s = settings(serde_json::json!({"llm": "local", "model": "gemma-3-270m.gguf"})).unwrap();
        let expected = crate::local::model_dir().join("gemma-3-270m.gguf");
        assert_eq!(s.model.as_deref(), Some(expected.to_str().unwrap()));
        let s = settings(serde_json::json!({"llm": "local", "model": "./gemma-3-270m.gguf"})).unwrap();
        assert_eq!(s.model.as_deref(), Some("./gemma-3-270m.gguf"), "a path is taken as it is");
        let s = settings(serde_json::json!({"llm": "openai", "model": "gpt-4o"})).unwrap();
        assert_eq!(s.model.as_deref(), Some("gpt-4o"), "a remote model's name is left alone");
    }

    #[test]
    fn resolving_makes_defaults_explicit_and_is_idempotent() {
        let s = settings(serde_json::json!({"model": "gpt-4o"})).unwrap();
        assert_eq!(s.structured_output, Some(true));
        let s =
            settings(serde_json::json!({"llm": "openai-compatible", "model": "m", "base_url": "http://x"})).unwrap();
        assert_eq!(s.structured_output, Some(false));
        let again = settings(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn a_prompts_file_is_read_into_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "[stateless]\nsystem = \"You design networks.\"\n").unwrap();
        let (s, t) = GeniusSettings::from_json(serde_json::json!({"model": "m", "prompts_file": file}))
            .unwrap()
            .resolve()
            .unwrap()
            .into_parts();
        assert_eq!(t.stateless.system, "You design networks.");
        assert_eq!(s.prompts_file, None);
        assert_eq!(s.prompts, Some(serde_json::json!({"stateless": {"system": "You design networks."}})));
        assert_eq!(s.clone().resolve().unwrap().templates(), &t);
    }

    #[test]
    fn the_cache_is_off_when_sampling_unless_asked_for() {
        let s =
            |t: f64, c: CacheMode| GeniusSettings { temperature: t, cache: c, ..GeniusSettings::default() }.caches();
        assert!(s(0.0, CacheMode::Auto));
        assert!(!s(0.7, CacheMode::Auto));
        assert!(s(0.7, CacheMode::On));
        assert!(!s(0.0, CacheMode::Off));
        let local = |c: CacheMode| GeniusSettings { llm: Provider::Local, cache: c, ..GeniusSettings::default() };
        assert!(!local(CacheMode::Auto).caches());
        assert!(local(CacheMode::On).caches());
    }

    #[test]
    fn the_local_model_defaults_to_the_default_model_file() {
        let s = settings(serde_json::json!({"llm": "local"})).unwrap();
        assert_eq!(s.model.as_deref().map(std::path::PathBuf::from), Some(crate::local::default_model_path()));
        assert_eq!(s.structured_output, Some(true));
        assert_eq!(s.key_var(), None);
    }
}
