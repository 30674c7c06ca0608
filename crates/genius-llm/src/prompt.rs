//! Prompt templates as data: the paper's by default (`prompts/genius.toml`), any of them replaceable from a TOML
//! file for an ablation. Rendering substitutes `{name}` placeholders; a template naming an unknown placeholder is
//! refused when the templates are loaded, not in the middle of a run.

use serde::{Deserialize, Serialize};

use crate::LlmError;

/// The default templates, as shipped.
pub const DEFAULT_TOML: &str = include_str!("../prompts/genius.toml");

/// How the answer must be written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerTemplates {
    /// For one proposal per call.
    pub one: String,
    /// For `k > 1` proposals per call.
    pub many: String,
}

/// The stateless-history protocol: a fresh chat every iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatelessTemplates {
    /// The system message.
    pub system: String,
    /// The task and the space.
    pub intro: String,
    /// The results block, once there are results (`{experiments}`).
    pub experiments: String,
    /// One result line (`{arch}`, `{value}`, `{number}`).
    pub experiment: String,
    /// One failed trial (`{arch}`, `{reason}`, `{number}`).
    pub failed: String,
    /// The last words of the message.
    pub suffix: String,
    /// Decimals of `{value}`.
    pub value_decimals: usize,
}

/// The conversation protocol: one growing chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationTemplates {
    /// The system message.
    pub system: String,
    /// The first user message.
    pub intro: String,
    /// The message after each evaluation (`{results}`).
    pub feedback: String,
    /// One result sentence (`{arch}`, `{value}`, `{number}`).
    pub result: String,
    /// One failed trial (`{arch}`, `{reason}`, `{number}`).
    pub failed: String,
    /// Decimals of `{value}`.
    pub value_decimals: usize,
}

/// The constrained protocol: a fresh chat every iteration, violations answered in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstrainedTemplates {
    /// The system message.
    pub system: String,
    /// The task, the space and its tables.
    pub intro: String,
    /// The analysis questions (the first iteration; every iteration without principles).
    pub questions: String,
    /// The design principles in place of the questions (`{principles}`).
    pub principles: String,
    /// The request to distil the principles from the first iteration's chat.
    pub distill: String,
    /// The results block (`{experiments}`).
    pub experiments: String,
    /// One result (`{number}`, `{arch}`, `{value}`, `{flops}`).
    pub experiment: String,
    /// What `{flops}` says where the FLOPs are known (`{mflops}`).
    pub flops: String,
    /// One failed trial (`{number}`, `{arch}`, `{reason}`).
    pub failed: String,
    /// The request before any result.
    pub request_first: String,
    /// The request once there are results.
    pub request: String,
    /// The answer to a proposal that breaks the constraint (`{arch}`, `{violation}`).
    pub violation: String,
    /// Decimals of `{value}`.
    pub value_decimals: usize,
}

/// The multi-objective protocol: a fresh chat every iteration with every result's objectives and the current Pareto
/// front marked, used for every search with several objectives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiObjectiveTemplates {
    /// The system message.
    pub system: String,
    /// The task, the space and the objectives (`{objectives}`, `{objective_count}`).
    pub intro: String,
    /// One objective of `{objectives}` (`{metric}`, `{direction}`).
    pub objective: String,
    /// `{direction}` of an objective to maximize.
    pub maximize: String,
    /// `{direction}` of an objective to minimize.
    pub minimize: String,
    /// The name of the `flops` objective (shown in millions).
    pub flops_label: String,
    /// The name of the `params` objective (shown in millions).
    pub params_label: String,
    /// The results block, once there are results (`{experiments}`).
    pub experiments: String,
    /// One result line (`{number}`, `{arch}`, `{values}`, `{front}`).
    pub experiment: String,
    /// One objective's value in `{values}` (`{metric}`, `{value}`).
    pub value: String,
    /// `{front}` for a design on the current Pareto front.
    pub front: String,
    /// `{front}` for a design that misses the target.
    pub outside: String,
    /// One failed trial (`{number}`, `{arch}`, `{reason}`).
    pub failed: String,
    /// The request before any result.
    pub request_first: String,
    /// The request once there are results.
    pub request: String,
    /// The target, when the search has one (`{target}`).
    pub target: String,
    /// `{target}` for an upper bound (`{metric}`, `{value}`).
    pub at_most: String,
    /// `{target}` for a lower bound (`{metric}`, `{value}`).
    pub at_least: String,
    /// The answer to a proposal evaluated before (`{arch}`, `{values}`).
    pub duplicate: String,
    /// The last words of the message.
    pub suffix: String,
    /// Significant digits of every `{value}` (from 1 to 10).
    pub value_digits: usize,
}

/// Messages that ask the model to fix its reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairTemplates {
    /// No architecture found in the reply.
    pub no_answer: String,
    /// An architecture found but unusable (`{found}`, `{problem}`).
    pub invalid: String,
    /// An architecture evaluated before (`{arch}`, `{value}`).
    pub duplicate: String,
    /// An architecture breaking the space's constraint (`{arch}`, `{violation}`), outside the constrained protocol.
    pub violation: String,
    /// The nudge after "I cannot improve" when the run continues.
    pub cannot_improve: String,
}

/// Every template of the GENIUS optimizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// Answer formats.
    pub answer: AnswerTemplates,
    /// Stateless history.
    pub stateless: StatelessTemplates,
    /// Conversation.
    pub conversation: ConversationTemplates,
    /// Constrained.
    pub constrained: ConstrainedTemplates,
    /// Repairs.
    pub repair: RepairTemplates,
    /// Several objectives.
    pub multi_objective: MultiObjectiveTemplates,
}

/// Placeholders every template may use.
pub const COMMON: &[&str] = &[
    "task",
    "operations",
    "operation_count",
    "notes",
    "layout",
    "tables",
    "answer_format",
    "example",
    "dimension_count",
    "k",
    "answer",
];

/// Placeholders of the multi-objective messages, beside [`COMMON`]: the objectives, one per line, and their number.
const MULTI: &[&str] = &["objectives", "objective_count"];

impl Default for Templates {
    fn default() -> Self {
        toml::from_str(DEFAULT_TOML).expect("the shipped templates parse")
    }
}

impl Templates {
    /// The defaults with `overrides` (a TOML table of the same shape, any subset of keys) laid over them, checked.
    pub fn with_overrides(overrides: &toml::Table) -> Result<Self, LlmError> {
        let mut base: toml::Table = toml::from_str(DEFAULT_TOML).expect("the shipped templates parse");
        merge(&mut base, overrides);
        let templates: Self =
            toml::Value::Table(base).try_into().map_err(|e| LlmError::Settings(format!("prompt templates: {e}")))?;
        templates.check()?;
        Ok(templates)
    }

    /// Checks that every template uses only placeholders it is given.
    pub fn check(&self) -> Result<(), LlmError> {
        let m = &self.multi_objective;
        let fields: [(&str, &str, &[&str]); 50] = [
            ("answer.one", &self.answer.one, &[]),
            ("answer.many", &self.answer.many, &[]),
            ("stateless.system", &self.stateless.system, &[]),
            ("stateless.intro", &self.stateless.intro, &[]),
            ("stateless.experiments", &self.stateless.experiments, &["experiments"]),
            ("stateless.experiment", &self.stateless.experiment, &["arch", "value", "number"]),
            ("stateless.failed", &self.stateless.failed, &["arch", "reason", "number"]),
            ("stateless.suffix", &self.stateless.suffix, &[]),
            ("conversation.system", &self.conversation.system, &[]),
            ("conversation.intro", &self.conversation.intro, &[]),
            ("conversation.feedback", &self.conversation.feedback, &["results"]),
            ("conversation.result", &self.conversation.result, &["arch", "value", "number"]),
            ("conversation.failed", &self.conversation.failed, &["arch", "reason", "number"]),
            ("constrained.system", &self.constrained.system, &[]),
            ("constrained.intro", &self.constrained.intro, &[]),
            ("constrained.questions", &self.constrained.questions, &[]),
            ("constrained.principles", &self.constrained.principles, &["principles"]),
            ("constrained.distill", &self.constrained.distill, &[]),
            ("constrained.experiments", &self.constrained.experiments, &["experiments"]),
            ("constrained.experiment", &self.constrained.experiment, &["arch", "value", "number", "flops"]),
            ("constrained.flops", &self.constrained.flops, &["mflops"]),
            ("constrained.failed", &self.constrained.failed, &["arch", "reason", "number"]),
            ("constrained.request_first", &self.constrained.request_first, &[]),
            ("constrained.request", &self.constrained.request, &[]),
            ("constrained.violation", &self.constrained.violation, &["arch", "violation"]),
            ("repair.no_answer", &self.repair.no_answer, &[]),
            ("repair.invalid", &self.repair.invalid, &["found", "problem"]),
            ("repair.duplicate", &self.repair.duplicate, &["arch", "value"]),
            ("repair.violation", &self.repair.violation, &["arch", "violation"]),
            ("repair.cannot_improve", &self.repair.cannot_improve, &[]),
            ("multi_objective.system", &m.system, MULTI),
            ("multi_objective.intro", &m.intro, MULTI),
            ("multi_objective.objective", &m.objective, &["metric", "direction"]),
            ("multi_objective.maximize", &m.maximize, &[]),
            ("multi_objective.minimize", &m.minimize, &[]),
            ("multi_objective.flops_label", &m.flops_label, &[]),
            ("multi_objective.params_label", &m.params_label, &[]),
            ("multi_objective.experiments", &m.experiments, &["objectives", "objective_count", "experiments"]),
            ("multi_objective.experiment", &m.experiment, &["number", "arch", "values", "front"]),
            ("multi_objective.value", &m.value, &["metric", "value"]),
            ("multi_objective.front", &m.front, &[]),
            ("multi_objective.outside", &m.outside, &[]),
            ("multi_objective.failed", &m.failed, &["number", "arch", "reason"]),
            ("multi_objective.request_first", &m.request_first, MULTI),
            ("multi_objective.request", &m.request, MULTI),
            ("multi_objective.target", &m.target, &["objectives", "objective_count", "target"]),
            ("multi_objective.at_most", &m.at_most, &["metric", "value"]),
            ("multi_objective.at_least", &m.at_least, &["metric", "value"]),
            ("multi_objective.duplicate", &m.duplicate, &["arch", "values"]),
            ("multi_objective.suffix", &m.suffix, MULTI),
        ];
        for (name, text, extra) in fields {
            // `answer` itself may not refer to `{answer}`.
            let known: Vec<&str> = COMMON
                .iter()
                .chain(extra)
                .copied()
                .filter(|v| !(name.starts_with("answer.") && *v == "answer"))
                .collect();
            for placeholder in placeholders(text).map_err(|e| LlmError::Settings(format!("prompts {name}: {e}")))? {
                if !known.contains(&placeholder.as_str()) {
                    return Err(LlmError::Settings(format!(
                        "prompts {name}: unknown placeholder {{{placeholder}}}; it may use: {}",
                        known.iter().map(|k| format!("{{{k}}}")).collect::<Vec<_>>().join(" ")
                    )));
                }
            }
        }
        for (name, d) in [
            ("stateless", self.stateless.value_decimals),
            ("conversation", self.conversation.value_decimals),
            ("constrained", self.constrained.value_decimals),
        ] {
            if d > 10 {
                return Err(LlmError::Settings(format!("prompts {name}.value_decimals must be at most 10")));
            }
        }
        if !(1..=10).contains(&m.value_digits) {
            return Err(LlmError::Settings("prompts multi_objective.value_digits must be from 1 to 10".into()));
        }
        Ok(())
    }
}

/// Lays `over` onto `base`, table by table.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The placeholders of `template`, in order.
fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed || name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("`{{{name}` is not a placeholder (write a literal brace as {{{{)"));
                }
                out.push(name);
            }
            '}' => return Err("a lone `}` (write a literal brace as }})".into()),
            _ => {}
        }
    }
    Ok(out)
}

/// `template` with every `{name}` replaced by its value in `vars`; blank-line runs left by empty values collapse to
/// one blank line, and the text is trimmed. Templates are checked when loaded, so a missing variable renders empty.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if let Some((_, v)) = vars.iter().find(|(k, _)| *k == name) {
                    out.push_str(v);
                }
            }
            c => out.push(c),
        }
    }
    tidy(&out)
}

/// Trims trailing spaces of lines, collapses runs of blank lines to one, and trims the whole.
fn tidy(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last() == Some(&"") {
        lines.pop();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_templates_load_and_check() {
        Templates::default().check().unwrap();
    }

    #[test]
    fn rendering_substitutes_escapes_and_tidies() {
        let t = "a {x} {{literal}}\n\n{empty}\n\n\nb {y}  \n";
        assert_eq!(render(t, &[("x", "1"), ("y", "2"), ("empty", "")]), "a 1 {literal}\n\nb 2");
    }

    #[test]
    fn overrides_replace_single_keys_and_unknown_ones_are_refused() {
        let over: toml::Table = toml::from_str("[stateless]\nsystem = \"You are a careful engineer.\"").unwrap();
        let t = Templates::with_overrides(&over).unwrap();
        assert_eq!(t.stateless.system, "You are a careful engineer.");
        assert_eq!(t.conversation, Templates::default().conversation);

        let over: toml::Table = toml::from_str("[stateless]\nsytem = \"typo\"").unwrap();
        let e = Templates::with_overrides(&over).unwrap_err().to_string();
        assert!(e.contains("unknown field `sytem`"), "{e}");

        let over: toml::Table = toml::from_str("[repair]\nduplicate = \"seen {acc}\"").unwrap();
        let e = Templates::with_overrides(&over).unwrap_err().to_string();
        assert!(e.contains("repair.duplicate: unknown placeholder {acc}"), "{e}");

        let over: toml::Table = toml::from_str("[repair]\nduplicate = \"seen {arch\"").unwrap();
        assert!(Templates::with_overrides(&over).is_err());
    }
}
