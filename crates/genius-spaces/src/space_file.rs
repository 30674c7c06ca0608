//! A search space defined in a TOML file, so that a researcher can search their own problem without writing Rust.
//!
//! ```toml
//! name = "digits-mlp"
//! task = "An MLP is trained on 8x8 images of digits (10 classes); the objective is to maximize its accuracy."
//! layout = "input (64 pixels) -> hidden layers -> softmax over 10 classes"   # optional
//! notation = "labels"      # how prompts write an answer: "labels" (default) or "choices" (option ids)
//! notes = ["Wider layers train slower."]                                       # optional remarks for the prompt
//!
//! [[dimension]]
//! name = "layers"
//! kind = "integer"         # an integer range: min, max, step (default 1)
//! min = 1
//! max = 3
//! description = "hidden layers"
//!
//! [[dimension]]
//! name = "width"
//! kind = "ordered"         # ordered choices: numbers or words, smallest first
//! values = [16, 32, 64, 128]
//! description = "units per hidden layer"
//!
//! [[dimension]]
//! name = "activation"
//! kind = "categorical"     # unordered labels
//! options = ["relu", "tanh", "logistic"]
//! description = "activation function"
//!
//! [[constraint]]           # optional: combinations that are not allowed
//! forbid = { layers = [3], width = [128] }
//! reason = "three layers of 128 units are too slow to train"
//! ```
//!
//! An architecture is written as the list of its values (`[2, 64, relu]`, the canonical form with
//! `notation = "labels"`; `[1, 2, 0]` with `notation = "choices"`) or as a JSON object keyed by dimension name
//! (`{"layers": 2, "width": 64, "activation": "relu"}`, the form a training script receives). The answer's JSON
//! schema, the LLM brief and every prompt follow from the file. An `example` of an answer may be given; it must show
//! the *form* of an answer and may not read as an architecture (the default is
//! [`elided_example`](genius_core::elided_example), `[2, 64, ..., relu]`).
//!
//! An optional `[table]` section declares a table of measured architectures (see [`crate::user_table`]). Every
//! problem with the file is a [`SpaceFileError`] naming the file, the line and the field.

use std::path::{Path, PathBuf};

use genius_core::{Architecture, Dimension, Notation, ParseError, SearchSpace, SpaceBrief, Violation};
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

/// The most options one dimension may have (an integer range included).
pub const MAX_OPTIONS: usize = 10_000;

/// A problem with a space file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {field}: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct SpaceFileError {
    /// The file.
    pub path: PathBuf,
    /// The line (1-based), where known.
    pub line: Option<usize>,
    /// The field, e.g. `dimension[2].kind`.
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// What kind of values a dimension takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimensionKind {
    /// Unordered labels.
    Categorical,
    /// An integer range.
    Integer,
    /// Ordered choices (numbers or words), smallest first.
    Ordered,
}

impl DimensionKind {
    fn word(self) -> &'static str {
        match self {
            Self::Categorical => "categorical",
            Self::Integer => "integer",
            Self::Ordered => "ordered",
        }
    }
}

/// One dimension of a file space: its options, their values as a training script receives them, and its
/// description.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDimension {
    /// Its kind.
    pub kind: DimensionKind,
    /// What it decides, for the prompt.
    pub description: String,
    /// Each option's value as JSON (a string for a categorical option, a number for an integer), in choice order.
    pub values: Vec<Value>,
}

/// A forbidden combination: an architecture that takes one of the listed options in every listed dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Forbid {
    /// (dimension index, allowed-to-match options) pairs.
    pub when: Vec<(usize, Vec<u16>)>,
    /// Why, in words.
    pub reason: String,
}

/// The `[table]` section: a file of measured architectures and which columns mean what.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDecl {
    /// The table file, relative to the space file: `.csv`, `.jsonl` or `.parquet`.
    pub file: PathBuf,
    /// The column the search sees (and optimizes).
    pub search: String,
    /// The column results are reported in [default: the searched column].
    #[serde(default)]
    pub report: Option<String>,
    /// Columns recorded for reports and never shown to the search (a test accuracy).
    #[serde(default)]
    pub held_out: Vec<String>,
    /// Other columns the search may see.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// `maximize` (default) or `minimize`, for every metric.
    #[serde(default)]
    pub direction: Option<genius_core::Direction>,
    /// The column holding what an evaluation cost, in seconds.
    #[serde(default)]
    pub cost: Option<String>,
    /// The column holding the trainable parameters.
    #[serde(default)]
    pub params: Option<String>,
    /// The column holding the FLOPs.
    #[serde(default)]
    pub flops: Option<String>,
    /// One column holding the architecture in any text form of the space, instead of one column per dimension.
    #[serde(default)]
    pub arch_column: Option<String>,
    /// Whether every architecture of the space must have a row [default: false: an architecture without a row is a
    /// failed trial].
    #[serde(default)]
    pub complete: bool,
}

/// A search space read from a TOML file.
#[derive(Debug, Clone)]
pub struct FileSpace {
    name: String,
    path: PathBuf,
    source: String,
    dims: Vec<Dimension>,
    file_dims: Vec<FileDimension>,
    task: String,
    layout: Option<String>,
    notes: Vec<String>,
    notation: Notation,
    example: Option<String>,
    forbids: Vec<Forbid>,
    table: Option<TableDecl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpace {
    name: Spanned<String>,
    task: Spanned<String>,
    #[serde(default)]
    layout: Option<String>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    notation: Option<Spanned<String>>,
    #[serde(default)]
    example: Option<Spanned<String>>,
    #[serde(default, rename = "dimension")]
    dimensions: Vec<Spanned<RawDimension>>,
    #[serde(default, rename = "constraint")]
    constraints: Vec<Spanned<RawConstraint>>,
    #[serde(default)]
    table: Option<Spanned<TableDecl>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDimension {
    name: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    options: Option<Spanned<Vec<toml::Value>>>,
    #[serde(default)]
    values: Option<Spanned<Vec<toml::Value>>>,
    #[serde(default)]
    min: Option<Spanned<i64>>,
    #[serde(default)]
    max: Option<Spanned<i64>>,
    #[serde(default)]
    step: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraint {
    forbid: Spanned<toml::Table>,
    #[serde(default)]
    reason: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A label is written bare in lists, so it holds no separator, bracket or quote.
fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_empty() {
        Some("an option may not be empty")
    } else if label.chars().any(|c| c.is_whitespace() || ",;[](){}\"'".contains(c)) {
        Some("an option may not contain spaces, commas, semicolons, brackets, braces or quotes")
    } else if label == "..." {
        Some("`...` is not an option")
    } else {
        None
    }
}

impl FileSpace {
    /// Reads the space file at `path`.
    pub fn read(path: &Path) -> Result<Self, SpaceFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpaceFileError {
            path: path.to_owned(),
            line: None,
            field: "file".into(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::from_text(path, &text)
    }

    /// Reads a space file's `text`; `path` names it in errors and anchors its table file.
    pub fn from_text(path: &Path, text: &str) -> Result<Self, SpaceFileError> {
        let err = |span: Option<std::ops::Range<usize>>, field: &str, message: String| SpaceFileError {
            path: path.to_owned(),
            line: span.map(|s| line_of(text, s.start)),
            field: field.to_owned(),
            message,
        };
        let raw: RawSpace = toml::from_str(text).map_err(|e| {
            let field = if e.message().contains("missing field") { "file" } else { "toml" };
            err(e.span(), field, e.message().trim().to_owned())
        })?;
        let name = raw.name.get_ref().trim().to_owned();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(err(Some(raw.name.span()), "name", "write a name without spaces or slashes".into()));
        }
        if raw.task.get_ref().trim().is_empty() {
            return Err(err(
                Some(raw.task.span()),
                "task",
                "describe in words what the networks are trained for and what is optimized".into(),
            ));
        }
        let notation = match raw.notation.as_ref().map(|n| (n.get_ref().as_str(), n.span())) {
            None | Some(("labels", _)) => Notation::Labels,
            Some(("choices", _)) => Notation::Choices,
            Some((other, span)) => {
                return Err(err(
                    Some(span),
                    "notation",
                    format!("`{other}` is not a notation; write labels or choices"),
                ));
            }
        };
        if raw.dimensions.is_empty() {
            return Err(err(None, "dimension", "the space has no [[dimension]]; declare at least one".into()));
        }
        let mut dims = Vec::new();
        let mut file_dims = Vec::new();
        for (i, d) in raw.dimensions.iter().enumerate() {
            let span = d.span();
            let d = d.get_ref();
            let field = |f: &str| format!("dimension[{i}].{f}");
            let dname = d.name.get_ref().trim();
            if dname.is_empty() {
                return Err(err(Some(d.name.span()), &field("name"), "a dimension needs a name".into()));
            }
            if dims.iter().any(|x: &Dimension| x.name == dname) {
                return Err(err(Some(d.name.span()), &field("name"), format!("`{dname}` is declared twice")));
            }
            let (kind, values, labels): (DimensionKind, Vec<Value>, Vec<String>) = match d.kind.get_ref().as_str() {
                kind @ ("categorical" | "ordered") => {
                    let (key, list) =
                        if kind == "categorical" { ("options", &d.options) } else { ("values", &d.values) };
                    let other = if kind == "categorical" { &d.values } else { &d.options };
                    if let Some(o) = other {
                        return Err(err(
                            Some(o.span()),
                            &field(if kind == "categorical" { "values" } else { "options" }),
                            format!("a {kind} dimension lists its choices in `{key}`"),
                        ));
                    }
                    let list = list.as_ref().ok_or_else(|| {
                        err(Some(span.clone()), &field(key), format!("a {kind} dimension needs `{key} = [...]`"))
                    })?;
                    if list.get_ref().is_empty() {
                        return Err(err(Some(list.span()), &field(key), "the list of choices is empty".into()));
                    }
                    let mut values = Vec::new();
                    let mut labels = Vec::new();
                    for v in list.get_ref() {
                        let (value, label) = match v {
                            toml::Value::String(s) => (Value::String(s.clone()), s.clone()),
                            toml::Value::Integer(n) if kind == "ordered" => (Value::from(*n), n.to_string()),
                            toml::Value::Float(x) if kind == "ordered" && x.is_finite() => {
                                (Value::from(*x), float_label(*x))
                            }
                            other => {
                                let allowed = if kind == "ordered" { "numbers or strings" } else { "strings (labels)" };
                                return Err(err(
                                    Some(list.span()),
                                    &field(key),
                                    format!("`{other}` is not allowed; the choices are {allowed}"),
                                ));
                            }
                        };
                        if let Some(problem) = label_problem(&label) {
                            return Err(err(Some(list.span()), &field(key), format!("`{label}`: {problem}")));
                        }
                        if labels.contains(&label) {
                            return Err(err(Some(list.span()), &field(key), format!("`{label}` is listed twice")));
                        }
                        values.push(value);
                        labels.push(label);
                    }
                    let kind = if kind == "ordered" { DimensionKind::Ordered } else { DimensionKind::Categorical };
                    (kind, values, labels)
                }
                "integer" => {
                    let (Some(min), Some(max)) = (&d.min, &d.max) else {
                        return Err(err(
                            Some(span),
                            &field("min"),
                            "an integer dimension needs `min` and `max`".into(),
                        ));
                    };
                    let step = d.step.as_ref().map_or(1, |s| *s.get_ref());
                    if step <= 0 {
                        let s = d.step.as_ref().map(Spanned::span);
                        return Err(err(s, &field("step"), "`step` must be positive".into()));
                    }
                    let (lo, hi) = (*min.get_ref(), *max.get_ref());
                    if hi < lo {
                        return Err(err(
                            Some(max.span()),
                            &field("max"),
                            format!("`max` ({hi}) is below `min` ({lo})"),
                        ));
                    }
                    let count = (i128::from(hi) - i128::from(lo)) / i128::from(step) + 1;
                    if count > MAX_OPTIONS as i128 {
                        return Err(err(
                            Some(max.span()),
                            &field("max"),
                            format!("{count} values; a dimension may have at most {MAX_OPTIONS}"),
                        ));
                    }
                    let ints: Vec<i64> = (0..count as i64).map(|k| lo + k * step).collect();
                    (
                        DimensionKind::Integer,
                        ints.iter().map(|&n| Value::from(n)).collect(),
                        ints.iter().map(i64::to_string).collect(),
                    )
                }
                other => {
                    return Err(err(
                        Some(d.kind.span()),
                        &field("kind"),
                        format!("unknown dimension kind `{other}`; write categorical, integer or ordered"),
                    ));
                }
            };
            if kind != DimensionKind::Integer && (d.min.is_some() || d.max.is_some() || d.step.is_some()) {
                return Err(err(
                    Some(span),
                    &field("min"),
                    format!("`min`, `max` and `step` are for integer dimensions, not {}", kind.word()),
                ));
            }
            if kind == DimensionKind::Integer && (d.options.is_some() || d.values.is_some()) {
                return Err(err(
                    Some(span),
                    &field("options"),
                    "an integer dimension takes `min`, `max` and `step`, not a list".into(),
                ));
            }
            if labels.len() > MAX_OPTIONS {
                return Err(err(Some(span), &field("options"), format!("at most {MAX_OPTIONS} choices")));
            }
            dims.push(Dimension::new(dname, labels));
            file_dims.push(FileDimension { kind, description: d.description.trim().to_owned(), values });
        }
        let mut forbids = Vec::new();
        for (i, c) in raw.constraints.iter().enumerate() {
            let c = c.get_ref();
            let field = format!("constraint[{i}].forbid");
            if c.forbid.get_ref().is_empty() {
                return Err(err(Some(c.forbid.span()), &field, "name at least one dimension and its values".into()));
            }
            let mut when = Vec::new();
            for (key, value) in c.forbid.get_ref() {
                let Some(dim) = dims.iter().position(|d| d.name == *key) else {
                    let names: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
                    return Err(err(
                        Some(c.forbid.span()),
                        &field,
                        format!("`{key}` is not a dimension; dimensions: {}", names.join(", ")),
                    ));
                };
                let items = match value {
                    toml::Value::Array(items) => items.clone(),
                    single => vec![single.clone()],
                };
                let mut options = Vec::new();
                for item in &items {
                    let label = match item {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(n) => n.to_string(),
                        toml::Value::Float(x) => float_label(*x),
                        other => other.to_string(),
                    };
                    let Some(o) = option_index(&dims[dim], &label) else {
                        return Err(err(
                            Some(c.forbid.span()),
                            &field,
                            format!("`{label}` is not an option of `{key}`; options: {}", dims[dim].options.join(", ")),
                        ));
                    };
                    options.push(o as u16);
                }
                when.push((dim, options));
            }
            forbids.push(Forbid { when, reason: c.reason.trim().to_owned() });
        }
        let space = Self {
            name,
            path: path.to_owned(),
            source: text.to_owned(),
            dims,
            file_dims,
            task: raw.task.get_ref().trim().to_owned(),
            layout: raw.layout.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()),
            notes: raw.notes.into_iter().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).collect(),
            notation,
            example: None,
            forbids,
            table: raw.table.as_ref().map(|t| t.get_ref().clone()),
        };
        if let Some(t) = &raw.table {
            let decl = t.get_ref();
            if decl.search.trim().is_empty() {
                return Err(err(Some(t.span()), "table.search", "name the column the search sees".into()));
            }
            if decl.held_out.contains(&decl.search) {
                return Err(err(
                    Some(t.span()),
                    "table.held_out",
                    format!("`{}` is the searched column; it cannot be held out", decl.search),
                ));
            }
        }
        let Some(example) = raw.example else { return Ok(space) };
        let text_example = example.get_ref().trim().to_owned();
        if space.parse(&text_example).is_ok() {
            return Err(err(
                Some(example.span()),
                "example",
                format!(
                    "`{text_example}` reads as an architecture; the example shows the form of an answer without \
                     naming one (write it elided, like {}), or leave it out",
                    genius_core::elided_example(&space, notation)
                ),
            ));
        }
        Ok(Self { example: Some(text_example), ..space })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text, as read (a run records it, so that a resume rebuilds the same space).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The dimensions with their kinds, descriptions and values.
    pub fn file_dimensions(&self) -> &[FileDimension] {
        &self.file_dims
    }

    /// The forbidden combinations.
    pub fn constraints(&self) -> &[Forbid] {
        &self.forbids
    }

    /// The `[table]` section, if the file has one.
    pub fn table(&self) -> Option<&TableDecl> {
        self.table.as_ref()
    }

    /// The table file's path: relative paths are relative to the space file's directory.
    pub fn table_path(&self) -> Option<PathBuf> {
        let decl = self.table.as_ref()?;
        Some(if decl.file.is_absolute() {
            decl.file.clone()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(&decl.file)
        })
    }

    /// `arch` as a JSON object keyed by dimension name, each value as the file wrote it (a number for an integer or
    /// a numeric ordered choice, a string for a label): the form a training script reads.
    pub fn to_json(&self, arch: &Architecture) -> Value {
        let map: serde_json::Map<String, Value> = self
            .dims
            .iter()
            .zip(&self.file_dims)
            .zip(arch.choices())
            .map(|((d, f), &c)| (d.name.clone(), f.values[usize::from(c)].clone()))
            .collect();
        Value::Object(map)
    }

    fn parse_object(&self, text: &str) -> Result<Architecture, ParseError> {
        let err = |reason: String| ParseError::new(&self.name, text, reason);
        let map: serde_json::Map<String, Value> =
            serde_json::from_str(text).map_err(|e| err(format!("not a JSON object of dimension values: {e}")))?;
        let mut choices = Vec::with_capacity(self.dims.len());
        for d in &self.dims {
            let v = map.get(&d.name).ok_or_else(|| err(format!("dimension `{}` is missing", d.name)))?;
            let label = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => {
                    n.as_i64().map_or_else(|| n.as_f64().unwrap_or(f64::NAN).to_string(), |i| i.to_string())
                }
                other => other.to_string(),
            };
            let found = option_index(d, &label);
            let c = found.ok_or_else(|| {
                err(format!("{v} is not an option of `{}`; options: {}", d.name, d.options.join(", ")))
            })?;
            choices.push(c as u16);
        }
        if let Some(extra) = map.keys().find(|k| !self.dims.iter().any(|d| &d.name == *k)) {
            return Err(err(format!("`{extra}` is not a dimension of the space")));
        }
        Ok(Architecture::new(choices))
    }

    fn read_items(&self, items: &[&str], labels: bool) -> Option<Vec<u16>> {
        items
            .iter()
            .zip(&self.dims)
            .map(|(item, d)| {
                if labels {
                    option_index(d, item).map(|c| c as u16)
                } else {
                    item.parse::<usize>().ok().filter(|&c| c < d.len()).map(|c| c as u16)
                }
            })
            .collect()
    }

    fn form_hint(&self) -> String {
        let dims: Vec<String> =
            self.dims.iter().map(|d| format!("{} ({})", d.name, option_summary(d, self.notation))).collect();
        format!(
            "write {} values in this order: {}; e.g. in the form {}",
            self.dims.len(),
            dims.join(", "),
            genius_core::elided_example(self, self.notation)
        )
    }
}

/// The label of a float option as TOML writes it: `0.0`, `0.25`, `0.00001` (never `0` or an exponent).
fn float_label(x: f64) -> String {
    let s = x.to_string();
    if s.contains(['.', 'e', 'E']) || !x.is_finite() { s } else { format!("{s}.0") }
}

/// The option of `d` whose label is `label`, or whose label is the same number (`0` for `0.0`, `1e-5` for
/// `0.00001`).
pub fn option_index(d: &Dimension, label: &str) -> Option<usize> {
    d.options.iter().position(|o| o == label).or_else(|| {
        let x = label.parse::<f64>().ok().filter(|x| x.is_finite())?;
        d.options.iter().position(|o| o.parse::<f64>().ok() == Some(x))
    })
}

/// The options of `d` in a few words: all of them, or the ends of a long list.
fn option_summary(d: &Dimension, notation: Notation) -> String {
    let shown = |i: usize| match notation {
        Notation::Choices => format!("{i} = {}", d.options[i]),
        _ => d.options[i].clone(),
    };
    if d.len() <= 12 {
        (0..d.len()).map(shown).collect::<Vec<_>>().join(", ")
    } else {
        format!("{}, {}, ..., {}", shown(0), shown(1), shown(d.len() - 1))
    }
}

impl SearchSpace for FileSpace {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The list of values in the space's notation: `[2, 64, relu]` (labels) or `[1, 2, 0]` (choices).
    fn format(&self, arch: &Architecture) -> String {
        self.notation.write(self, arch)
    }

    fn parse(&self, text: &str) -> Result<Architecture, ParseError> {
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            return self.parse_object(trimmed);
        }
        let body = trimmed.trim_start_matches(['[', '(']).trim_end_matches([']', ')']).trim();
        let items: Vec<&str> = body
            .split([',', ' ', ';', '\t', '\n'])
            .map(|s| s.trim().trim_matches(['"', '\'']))
            .filter(|s| !s.is_empty())
            .collect();
        if items.len() == self.dims.len() {
            let order = if self.notation == Notation::Choices { [false, true] } else { [true, false] };
            for labels in order {
                if let Some(choices) = self.read_items(&items, labels) {
                    return Ok(Architecture::new(choices));
                }
            }
            // Name the first item that is neither a label nor an index of its dimension.
            for (i, (item, d)) in items.iter().zip(&self.dims).enumerate() {
                if option_index(d, item).is_none() && item.parse::<usize>().ok().filter(|&c| c < d.len()).is_none() {
                    return Err(ParseError::new(
                        &self.name,
                        trimmed,
                        format!(
                            "`{item}` (value {}) is not an option of `{}`; options: {}; {}",
                            i + 1,
                            d.name,
                            option_summary(d, Notation::Labels),
                            self.form_hint()
                        ),
                    ));
                }
            }
            return Err(ParseError::new(
                &self.name,
                trimmed,
                format!("mixes option ids and labels; {}", self.form_hint()),
            ));
        }
        if self.notation == Notation::Choices
            && let Ok(arch) = genius_core::default_parse(&self.name, &self.dims, trimmed)
        {
            return Ok(arch);
        }
        Err(ParseError::new(
            &self.name,
            trimmed,
            format!("expected {} values, found {}; {}", self.dims.len(), items.len(), self.form_hint()),
        ))
    }

    fn check(&self, arch: &Architecture) -> Result<(), Violation> {
        for f in &self.forbids {
            if f.when.iter().all(|(dim, options)| options.contains(&(arch.choice(*dim) as u16))) {
                return Err(Violation { message: self.describe(f) });
            }
        }
        Ok(())
    }

    fn is_constrained(&self) -> bool {
        !self.forbids.is_empty()
    }

    fn brief(&self) -> Option<SpaceBrief> {
        let operations = self
            .dims
            .iter()
            .zip(&self.file_dims)
            .map(|(d, f)| {
                let what = if f.description.is_empty() { String::new() } else { format!(" ({})", f.description) };
                let choices = match (f.kind, self.notation) {
                    (DimensionKind::Integer, Notation::Choices) if d.len() > 12 => format!(
                        "an integer from {} to {}, written as its id i = 0..{} (value {} + i x {})",
                        d.options[0],
                        d.options[d.len() - 1],
                        d.len() - 1,
                        d.options[0],
                        step_of(f)
                    ),
                    (DimensionKind::Integer, _) if d.len() > 12 => format!(
                        "an integer from {} to {} in steps of {}",
                        d.options[0],
                        d.options[d.len() - 1],
                        step_of(f)
                    ),
                    (DimensionKind::Integer, n) => format!("an integer, one of {}", option_summary(d, n)),
                    (DimensionKind::Ordered, n) => {
                        format!("one of {} (ordered from first to last)", option_summary(d, n))
                    }
                    (DimensionKind::Categorical, n) => format!("one of {}", option_summary(d, n)),
                };
                format!("{}{what}: {choices}", d.name)
            })
            .collect();
        let mut notes = self.notes.clone();
        notes.extend(self.forbids.iter().map(|f| self.describe(f)));
        let names: Vec<&str> = self.dims.iter().map(|d| d.name.as_str()).collect();
        let layout = self.layout.clone().unwrap_or_else(|| {
            format!("The design is a list of {} values, in this order: [{}].", names.len(), names.join(", "))
        });
        let written = match self.notation {
            Notation::Choices => "option ids",
            _ => "values",
        };
        Some(SpaceBrief {
            task: self.task.clone(),
            operations,
            notes,
            layout,
            notation: self.notation,
            answer_format: format!(
                "a list of {} {written}, one per decision in the order [{}]",
                names.len(),
                names.join(", ")
            ),
            example: self.example.clone().unwrap_or_else(|| genius_core::elided_example(self, self.notation)),
            tables: Vec::new(),
            dialogue: genius_core::Dialogue::Fresh,
        })
    }
}

fn step_of(f: &FileDimension) -> i64 {
    match (f.values.first().and_then(Value::as_i64), f.values.get(1).and_then(Value::as_i64)) {
        (Some(a), Some(b)) => b - a,
        _ => 1,
    }
}

impl FileSpace {
    /// A forbidden combination in words: `not allowed: layers 3 with width 128 (too slow)`.
    fn describe(&self, f: &Forbid) -> String {
        let parts: Vec<String> = f
            .when
            .iter()
            .map(|(dim, options)| {
                let d = &self.dims[*dim];
                let labels: Vec<&str> = options.iter().map(|&o| d.options[usize::from(o)].as_str()).collect();
                format!("{} {}", d.name, labels.join(" or "))
            })
            .collect();
        let reason = if f.reason.is_empty() { String::new() } else { format!(" ({})", f.reason) };
        format!("Not allowed: {}{reason}.", parts.join(" together with "))
    }
}
