//! The GENIUS optimizer as a catalog entry (genius-core's one shape for every plug-in): a program lists
//! [`entries`] beside the baselines' and builds `genius` by name like any other optimizer.

use genius_core::catalog::{Bound, BuildError, Entry, Optimizers, Range, Setting, SettingKind};

use crate::{GeniusSettings, LlmError, NAME, RunScope, SUMMARY};

/// Every setting of the GENIUS optimizer, as `genius optimizers genius` prints them (the checks live in
/// [`GeniusSettings::resolve`], which refuses what these ranges exclude).
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "llm",
        SettingKind::Text,
        "\"openai\"",
        "the provider: openai, azure, openai-compatible, anthropic, local",
    ),
    Setting::new("model", SettingKind::Text, "", "the model (Azure: the deployment; local: the GGUF file)"),
    Setting::new("base_url", SettingKind::Text, "", "the endpoint (required for azure and openai-compatible)"),
    Setting::new("api_key_env", SettingKind::Text, "", "the environment variable holding the key (never the key)"),
    Setting::new("api_version", SettingKind::Text, "\"2024-10-21\"", "Azure's api-version"),
    Setting::new("replay", SettingKind::Path, "", "serve every reply from the run recorded in this directory"),
    Setting::new("temperature", SettingKind::Number, "0.0", "sampling temperature (the paper used 0)")
        .range(Range::between(0.0, 2.0)),
    Setting::new("top_p", SettingKind::Number, "", "nucleus sampling mass")
        .range(Range::Between(Bound::Exclusive(0.0), Bound::Inclusive(1.0))),
    Setting::new("max_tokens", SettingKind::Integer, "", "the most tokens a reply may have"),
    Setting::new("seed", SettingKind::Integer, "", "the provider's sampling seed, where it has one"),
    Setting::new("timeout_s", SettingKind::Number, "120.0", "seconds one HTTP attempt may take")
        .range(Range::AtLeast(Bound::Exclusive(0.0))),
    Setting::new("headers", SettingKind::Table, "{}", "headers added to every request (recorded: never a secret)"),
    Setting::new("retry", SettingKind::Table, "", "how failed calls are retried (attempts, backoff, total time)"),
    Setting::new("price", SettingKind::Table, "", "US dollars per million tokens: { input = ..., output = ... }"),
    Setting::new("cache", SettingKind::OneOf(&["auto", "on", "off"]), "\"auto\"", "cache replies (auto: at T = 0)"),
    Setting::new("cache_dir", SettingKind::Path, "", "the cache directory [default: the user's cache, genius/llm]"),
    Setting::new(
        "protocol",
        SettingKind::OneOf(&["auto", "stateless", "conversation", "constrained"]),
        "\"auto\"",
        "the paper's chat protocol for one objective (auto: chosen from the space); several have their own",
    ),
    Setting::new("proposals_per_call", SettingKind::Integer, "1", "architectures asked for per call (the paper: 1)")
        .range(Range::at_least(1.0)),
    Setting::new("structured_output", SettingKind::Bool, "", "send the answer's JSON schema [default: by provider]"),
    Setting::new("max_repairs", SettingKind::Integer, "3", "repair messages per iteration for unusable replies"),
    Setting::new("max_violations", SettingKind::Integer, "10", "constraint violations answered per iteration"),
    Setting::new(
        "duplicates",
        SettingKind::OneOf(&["repair", "evaluate"]),
        "\"repair\"",
        "a proposal already evaluated: ask again (repair) or accept it (evaluate)",
    ),
    Setting::new(
        "mask_evaluated",
        SettingKind::Bool,
        "true",
        "the embedded model's decoder masks every architecture already evaluated (off: an ablation)",
    ),
    Setting::new("reject_duplicates", SettingKind::Bool, "", "the former form of `duplicates`, read from old run logs"),
    Setting::new(
        "on_cannot_improve",
        SettingKind::OneOf(&["stop", "continue"]),
        "\"stop\"",
        "when the model says it cannot improve",
    ),
    Setting::new(
        "on_repairs_exhausted",
        SettingKind::OneOf(&["fail", "stop", "random"]),
        "\"fail\"",
        "when the repairs run out without a usable proposal",
    ),
    Setting::new("prompts_file", SettingKind::Path, "", "a TOML file of prompt templates laid over the defaults"),
    Setting::new("prompts", SettingKind::Table, "", "prompt templates laid over the defaults"),
    Setting::new(
        "principles",
        SettingKind::OneOf(&["auto", "distill", "off"]),
        "\"auto\"",
        "design principles instead of the constrained protocol's analysis questions",
    ),
    Setting::new("principles_file", SettingKind::Path, "", "a text file of design principles to state"),
    Setting::new("principles_text", SettingKind::Text, "", "design principles to state, as given"),
    Setting::new("anonymize", SettingKind::Bool, "false", "hide the benchmark's names from the prompts"),
    Setting::new(
        "target",
        SettingKind::Text,
        "",
        "several objectives: a budget on one, METRIC<=VALUE or METRIC>=VALUE (e.g. \"flops<=100e6\")",
    ),
];

fn settings_error(e: LlmError) -> BuildError {
    match e {
        LlmError::Settings(m) => BuildError::Settings(m),
        e => BuildError::Failed(e.to_string()),
    }
}

/// The GENIUS optimizer's catalog entry. Its build reads the key from the environment (so that a missing key fails
/// before any work) and, on a resume, answers the asks it replays from the run's own transcript, so that a resume
/// pays for no model call twice; its check reads no key and connects to nothing.
pub fn entries() -> Vec<Entry<Optimizers>> {
    vec![
        Entry::new(NAME, SUMMARY, |settings, context| {
            let run = RunScope { space: context.space_name.to_owned(), seed: context.seed };
            let origin = context.recorded.map(|r| r.dir.display().to_string());
            let recorded = context.recorded.zip(origin.as_deref()).map(|(r, o)| (o, r.events.as_slice()));
            Ok(crate::build(settings, recorded, &run)?)
        })
        .with_settings(SETTINGS)
        .with_check(|settings| {
            GeniusSettings::from_json(settings).and_then(GeniusSettings::resolve).map(drop).map_err(settings_error)
        })
        .with_warnings(|settings| {
            let Ok(model) = GeniusSettings::from_json(settings.clone()).and_then(GeniusSettings::resolve) else {
                return Vec::new();
            };
            if model.replay.is_some() {
                return Vec::new();
            }
            if model.llm == crate::provider::Provider::Local {
                let path = std::path::PathBuf::from(model.model.clone().unwrap_or_default());
                return if !cfg!(feature = "local") {
                    vec![crate::local::unavailable_help()]
                } else if !path.is_file() {
                    vec![crate::local::missing_model_help(&path)]
                } else {
                    Vec::new()
                };
            }
            match model.key_var() {
                Some(var) if std::env::var(&var).map_or(true, |k| k.trim().is_empty()) => vec![format!(
                    "{} needs an API key in the environment variable {var}, which is not set here; export it before \
                     running (the key is never logged or written to the run directory)",
                    model.llm
                )],
                _ => Vec::new(),
            }
        })
        .with_describe(|settings| {
            let model = GeniusSettings::from_json(settings.clone()).and_then(GeniusSettings::resolve).ok()?;
            let name = model.model.as_deref().map(|m| m.rsplit('/').next().unwrap_or(m)).unwrap_or_default();
            Some(format!("{} {name}, T={}", model.llm, model.temperature))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_documented() {
        let defaults = serde_json::to_value(GeniusSettings::default()).unwrap();
        let mut keys: Vec<&str> = defaults.as_object().unwrap().keys().map(String::as_str).collect();
        keys.push("reject_duplicates"); // Skipped when unset; read from older run logs.
        keys.push("target"); // Skipped when unset, so that a run's recorded settings (and cache scope) stay as before.
        keys.sort_unstable();
        let mut documented: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        documented.sort_unstable();
        assert_eq!(documented, keys);
    }

    #[test]
    fn the_entry_checks_without_a_key_and_describes_the_model() {
        let entry = &entries()[0];
        let settings = serde_json::json!({"llm": "openai", "model": "org/gpt-x", "temperature": 0.5});
        entry.check(settings.clone()).unwrap();
        assert_eq!(entry.describe(&settings).unwrap(), "openai gpt-x, T=0.5");
        let err = entry.check(serde_json::json!({"temperature": 3.0, "model": "m"})).unwrap_err();
        assert!(err.to_string().contains("temperature must be between 0 and 2"), "{err}");
    }
}
