//! What calls cost: tokens, and money where the configuration gives a price.
//!
//! genius ships no price list (prices change; a stale price is a wrong number). Give the model's price in the
//! optimizer settings, e.g. `--set price.input=2.5 --set price.output=10` (US dollars per million tokens); without
//! it, calls are counted in tokens and cost nothing, and a money budget is refused.

use genius_core::Usage;
use serde::{Deserialize, Serialize};

use crate::LlmError;
use crate::chat::Tokens;

/// The price of a model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt (input) tokens.
    pub input: f64,
    /// Per million completion (output) tokens.
    pub output: f64,
}

impl Price {
    /// Checks that both prices are finite and not negative.
    pub fn check(&self) -> Result<(), LlmError> {
        if !(self.input.is_finite() && self.input >= 0.0 && self.output.is_finite() && self.output >= 0.0) {
            return Err(LlmError::Settings(
                "price.input and price.output are US dollars per million tokens, finite and not negative".into(),
            ));
        }
        Ok(())
    }

    /// The cost of `tokens`, in US dollars.
    pub fn cost(&self, tokens: Tokens) -> f64 {
        (tokens.prompt as f64 * self.input + tokens.completion as f64 * self.output) / 1e6
    }
}

/// The usage of one paid call of `tokens`, priced with `price` where known.
pub fn usage(tokens: Tokens, price: Option<&Price>) -> Usage {
    Usage {
        calls: 1,
        prompt_tokens: tokens.prompt,
        completion_tokens: tokens.completion,
        cost_usd: price.map_or(0.0, |p| p.cost(tokens)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_per_million_tokens() {
        let p = Price { input: 2.5, output: 10.0 };
        let u = usage(Tokens { prompt: 1000, completion: 200 }, Some(&p));
        assert!((u.cost_usd - 0.0045).abs() < 1e-12);
        assert_eq!((u.calls, u.tokens()), (1, 1200));
        assert_eq!(usage(Tokens { prompt: 5, completion: 5 }, None).cost_usd, 0.0);
        assert!(Price { input: -1.0, output: 0.0 }.check().is_err());
    }
}
