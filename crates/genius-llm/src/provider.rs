//! The chat providers genius speaks to: one enum, so that what differs between them (the wire format, the key, the
//! endpoint, structured output) is decided in one place.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A chat provider. Written in settings and run headers by its name (`openai`, `azure`, `openai-compatible`,
/// `anthropic`, `local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Provider {
    /// OpenAI's Chat Completions API.
    #[default]
    OpenAi,
    /// Azure OpenAI: Chat Completions at a deployment of the user's resource.
    Azure,
    /// Any server with an OpenAI-compatible Chat Completions endpoint (vLLM, Ollama, llama.cpp's server, ...).
    OpenAiCompatible,
    /// Anthropic's Messages API.
    Anthropic,
    /// The embedded model: a GGUF file run in this process (the cargo feature `local`).
    Local,
}

impl Provider {
    /// Every provider, in the order they are listed to users.
    pub const ALL: [Provider; 5] =
        [Provider::OpenAi, Provider::Azure, Provider::OpenAiCompatible, Provider::Anthropic, Provider::Local];

    /// The provider's name in settings and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Azure => "azure",
            Self::OpenAiCompatible => "openai-compatible",
            Self::Anthropic => "anthropic",
            Self::Local => "local",
        }
    }

    /// The names of every provider, joined for a message.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The environment variable its API key is read from by default (none for a local server or model).
    pub const fn key_var(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("OPENAI_API_KEY"),
            Self::Azure => Some("AZURE_OPENAI_API_KEY"),
            Self::Anthropic => Some("ANTHROPIC_API_KEY"),
            Self::OpenAiCompatible | Self::Local => None,
        }
    }

    /// The endpoint used when none is given; `None` where the user must give one (or, for the embedded model,
    /// where there is none).
    pub const fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com"),
            Self::Azure | Self::OpenAiCompatible | Self::Local => None,
        }
    }

    /// For a provider that needs the user's endpoint, an example of one (for the message that asks for it).
    pub const fn base_url_example(self) -> Option<&'static str> {
        match self {
            Self::Azure => Some("https://NAME.openai.azure.com"),
            Self::OpenAiCompatible => Some("http://127.0.0.1:11434/v1"),
            Self::OpenAi | Self::Anthropic | Self::Local => None,
        }
    }

    /// Whether structured output (a JSON schema for the reply) is asked for unless the settings say otherwise: not
    /// from an OpenAI-compatible server, many of which do not implement it.
    pub const fn structured_output_by_default(self) -> bool {
        !matches!(self, Self::OpenAiCompatible)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("llm `{0}` is not a provider; known: {known}, or replay:DIR", known = Provider::names())]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl TryFrom<String> for Provider {
    type Error = UnknownProvider;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Provider> for String {
    fn from(p: Provider) -> Self {
        p.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_reads_back_from_its_name_and_an_unknown_name_lists_them() {
        for p in Provider::ALL {
            assert_eq!(p.name().parse::<Provider>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(p.name()));
        }
        assert_eq!(Provider::Local.name(), crate::local::PROVIDER);
        let e = "gpt".parse::<Provider>().unwrap_err().to_string();
        assert!(e.contains("llm `gpt` is not a provider") && e.contains("openai-compatible"), "{e}");
        let e = serde_json::from_value::<Provider>(serde_json::json!("gpt")).unwrap_err().to_string();
        assert!(e.contains("is not a provider"), "{e}");
    }
}
