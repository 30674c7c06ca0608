//! The command line's LLM flags (`--llm`, `--model`, the base URL) turned into the optimizer's settings, so that the
//! CLI only passes strings through.
//!
//! - `--llm openai:gpt-4o`: a provider and a model (`openai`, `azure`, `openai-compatible`, `anthropic`);
//! - `--llm local:PATH.gguf`: the embedded model running that file (`--llm local`: the default model file);
//! - no `--llm` and no provider or model in the settings: the embedded model with the default model file;
//! - `--llm openai-compatible --model llama3.1 --base-url http://127.0.0.1:11434/v1`: the parts apart;
//! - `--llm replay:runs/x`: the run recorded in `runs/x`, replayed with its own settings and no network (settings
//!   given with `--set` still apply on top).

use std::path::{Path, PathBuf};

use genius_core::Recorded;
use serde_json::Value;

use crate::LlmError;
use crate::optimizer::NAME;
use crate::provider::Provider;

/// Settings from the flags, and, for a replay, the recorded run's space and seed (a replay must search the same).
#[derive(Debug, Clone, PartialEq)]
pub struct FromFlags {
    /// The optimizer settings (JSON, as recorded in a run header).
    pub settings: Value,
    /// For a replay: the recorded run's space.
    pub space: Option<String>,
    /// For a replay: the recorded run's seed.
    pub seed: Option<u64>,
}

/// `settings` (from `--set` and the optimizer config file) with the flags laid over them.
pub fn settings(
    llm: Option<&str>,
    model: Option<&str>,
    base_url: Option<&str>,
    settings: Value,
) -> Result<FromFlags, LlmError> {
    let mut object = match settings {
        Value::Null => serde_json::Map::new(),
        Value::Object(o) => nest(o),
        other => return Err(LlmError::Settings(format!("optimizer settings must be a table, not {other}"))),
    };
    let mut out = FromFlags { settings: Value::Null, space: None, seed: None };
    if let Some(spec) = llm {
        if let Some(dir) = spec.strip_prefix("replay:") {
            let (recorded, space, seed) = recorded_settings(Path::new(dir))?;
            let mut base = recorded;
            for (k, v) in object {
                base.insert(k, v);
            }
            base.insert("replay".into(), Value::String(dir.to_owned()));
            object = base;
            out.space = Some(space);
            out.seed = Some(seed);
        } else {
            let (provider, spec_model) = match spec.split_once(':') {
                Some((p, m)) => (p, Some(m)),
                None => (spec, None),
            };
            let provider: Provider = provider.parse().map_err(|_| {
                LlmError::Settings(format!(
                    "--llm `{spec}`: `{provider}` is not a provider; write PROVIDER[:MODEL] with a provider of {}, \
                     or replay:DIR",
                    Provider::names()
                ))
            })?;
            object.insert("llm".into(), Value::from(provider.name()));
            if let Some(m) = spec_model.filter(|m| !m.is_empty()) {
                object.insert("model".into(), Value::String(m.to_owned()));
            }
        }
    }
    if let Some(m) = model {
        object.insert("model".into(), Value::String(m.to_owned()));
    }
    if let Some(u) = base_url {
        object.insert("base_url".into(), Value::String(u.to_owned()));
    }
    if !object.contains_key("llm") && !object.contains_key("model") && !object.contains_key("replay") {
        object.insert("llm".into(), Value::from(Provider::Local.name()));
    }
    if object.get("llm").and_then(Value::as_str) == Some(Provider::Local.name()) && !object.contains_key("replay") {
        object.entry("temperature").or_insert(Value::from(crate::settings::LOCAL_TEMPERATURE));
    }
    out.settings = Value::Object(object);
    Ok(out)
}

/// Dotted keys (`price.input` from `--set price.input=2.5`) as nested tables.
fn nest(flat: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (key, value) in flat {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or_default().to_owned();
        let mut table = &mut out;
        for part in parts {
            let entry = table.entry(part.to_owned()).or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(serde_json::Map::new());
            }
            table = entry.as_object_mut().expect("an object");
        }
        match (table.get_mut(&last), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, value) => {
                table.insert(last, value);
            }
        }
    }
    out
}

/// The optimizer settings, space and seed of the genius run recorded in `dir`.
fn recorded_settings(dir: &Path) -> Result<(serde_json::Map<String, Value>, String, u64), LlmError> {
    let recorded = Recorded::read(dir).map_err(|e| LlmError::Io(format!("--llm replay:{}: {e}", dir.display())))?;
    let header = recorded.header;
    if header.optimizer.name != NAME {
        return Err(LlmError::Settings(format!(
            "--llm replay:{}: that run used the `{}` optimizer, not {NAME}; there are no model replies to replay",
            dir.display(),
            header.optimizer.name
        )));
    }
    let settings = match header.optimizer.settings {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    Ok((settings, header.space, header.seed))
}

/// The replay directory a settings object names, if any.
pub fn replay_dir(settings: &Value) -> Option<PathBuf> {
    settings.get("replay").and_then(Value::as_str).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_provider_and_model_in_one_flag_or_apart() {
        let s = settings(Some("openai:gpt-4o"), None, None, Value::Null).unwrap().settings;
        assert_eq!(s, json!({"llm": "openai", "model": "gpt-4o"}));
        let s = settings(
            Some("openai-compatible"),
            Some("llama3.1"),
            Some("http://127.0.0.1:11434/v1"),
            json!({"temperature": 0.5}),
        )
        .unwrap()
        .settings;
        assert_eq!(
            s,
            json!({"llm": "openai-compatible", "model": "llama3.1", "base_url": "http://127.0.0.1:11434/v1", "temperature": 0.5})
        );
        let e = settings(Some("gpt4"), None, None, Value::Null).unwrap_err().to_string();
        assert!(e.contains("`gpt4` is not a provider"), "{e}");
    }

    #[test]
    fn dotted_keys_from_set_become_tables() {
        let flat = json!({"price.input": 2.5, "price.output": 10.0, "retry.max_attempts": 2, "temperature": 0.0});
        let s = settings(Some("openai:m"), None, None, flat).unwrap().settings;
        assert_eq!(s["price"], json!({"input": 2.5, "output": 10.0}));
        assert_eq!(s["retry"], json!({"max_attempts": 2}));
        crate::GeniusSettings::from_json(s).unwrap();
    }

    #[test]
    fn a_replay_of_a_missing_run_is_a_clear_error() {
        let e = settings(Some("replay:/nonexistent/run"), None, None, Value::Null).unwrap_err().to_string();
        assert!(e.contains("--llm replay:/nonexistent/run") && e.contains("holds no run log"), "{e}");
    }
}
