//! Reading architectures out of whatever a model replies: JSON anywhere in the text (objects, lists, lists of
//! lists), fenced code blocks, Python-style lists, lists split by stage, canonical strings in prose. Every
//! candidate is validated against the space and kept in order of appearance, with the exact problem of each one
//! that is malformed; the caller takes the last well-formed ones.

use genius_core::{Architecture, Dimension, Notation, SearchSpace};
use serde_json::Value;

/// One architecture-like thing found in a reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// How it was written (shortened).
    pub written: String,
    /// The architecture, or what is wrong with it.
    pub arch: Result<Architecture, String>,
}

/// A value as written in a list.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Number(f64, String),
    Word(String),
    Ellipsis,
}

impl Item {
    fn written(&self) -> String {
        match self {
            Self::Number(_, w) => w.clone(),
            Self::Word(w) => format!("\"{w}\""),
            Self::Ellipsis => "...".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Fragment {
    List(Vec<Item>),
    Named(Vec<(String, Item)>),
    Text(String),
}

/// Every candidate architecture in `text`, in order of appearance.
pub fn candidates(text: &str, space: &dyn SearchSpace, notation: Notation) -> Vec<Candidate> {
    let n = space.dimensions().len();
    let mut found: Vec<(Fragment, String)> = Vec::new();
    // The stage a list is labelled with on its line (`Stage 3 (Layer 14 to Layer 19): [...]`), by index in `found`.
    let mut labels: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut plain_from = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'[' && c != b'{' {
            i += 1;
            continue;
        }
        // JSON first: an object or a list, however nested.
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next() {
            let end = i + stream.byte_offset();
            tokens(&text[plain_from..i], space, &mut found);
            let mut frags = Vec::new();
            from_value(&value, space, &mut frags);
            let written = shorten(&text[i..end]);
            if let ([Fragment::List(_)], Some(label)) = (frags.as_slice(), stage_label(&text[..i])) {
                labels.insert(found.len(), label);
            }
            found.extend(frags.into_iter().map(|f| (f, written.clone())));
            i = end;
            plain_from = end;
            continue;
        }
        // Then a list that is not JSON: single quotes, bare words, an ellipsis, nested lists.
        if c == b'['
            && let Some(end) = closing(text, i)
        {
            tokens(&text[plain_from..i], space, &mut found);
            let inner = &text[i + 1..end];
            if inner.contains('[') {
                let mut j = 0;
                while let Some(open) = inner[j..].find('[').map(|p| p + j) {
                    let Some(close) = closing(inner, open) else { break };
                    found.push((Fragment::List(items(&inner[open + 1..close])), shorten(&inner[open..=close])));
                    j = close + 1;
                }
            } else {
                if let Some(label) = stage_label(&text[..i]) {
                    labels.insert(found.len(), label);
                }
                found.push((Fragment::List(items(inner)), shorten(&text[i..=end])));
            }
            i = end + 1;
            plain_from = i;
            continue;
        }
        i += 1;
    }
    tokens(&text[plain_from..], space, &mut found);
    let found = join_stages(found, &labels, n);
    found
        .into_iter()
        .map(|(fragment, written)| Candidate { arch: architecture(&fragment, space, notation), written })
        .collect()
}

/// The last `k` distinct well-formed architectures of `candidates`, in order of appearance.
pub fn last_well_formed(candidates: &[Candidate], k: usize) -> Vec<Architecture> {
    let mut out: Vec<Architecture> = Vec::new();
    for c in candidates.iter().rev() {
        if let Ok(a) = &c.arch
            && !out.contains(a)
        {
            out.push(a.clone());
            if out.len() == k {
                break;
            }
        }
    }
    out.reverse();
    out
}

/// Whether a reply (with no usable architecture) says the model cannot or will not propose more.
pub fn gives_up(text: &str) -> bool {
    const PHRASES: &[&str] = &[
        "cannot improve",
        "can't improve",
        "can not improve",
        "unable to improve",
        "not possible to improve",
        "cannot be improved",
        "can't be improved",
        "no further improvement",
        "cannot suggest",
        "can't suggest",
        "unable to suggest",
        "cannot propose",
        "can't propose",
        "unable to propose",
        "cannot recommend",
        "can't recommend",
        "unable to recommend",
        "cannot help with",
        "can't help with",
        "i'm sorry, but",
        "i am sorry, but",
        "already optimal",
    ];
    let lower = text.to_lowercase().replace('’', "'");
    PHRASES.iter().any(|p| lower.contains(p))
}

fn shorten(text: &str) -> String {
    crate::http::shorten(text.trim(), 200)
}

/// The byte index of the `]` closing the `[` at `open` (looking no further than a few thousand characters).
fn closing(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices().take(4000) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The items of a list body that is not JSON.
fn items(body: &str) -> Vec<Item> {
    // Comments inside a list (`# Stage 1`, `// stage 2`), as models write Python or C-style lists, are not items.
    let body: String = body
        .lines()
        .map(|line| {
            let cut = [line.find('#'), line.find("//")].into_iter().flatten().min().unwrap_or(line.len());
            &line[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n");
    body.split([',', ';', ' ', '\n', '\t'])
        .map(|s| s.trim().trim_matches(['"', '\'', '`']))
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.chars().all(|c| c == '.' || c == '…') {
                Item::Ellipsis
            } else if let Ok(x) = s.parse::<f64>() {
                Item::Number(x, s.to_owned())
            } else {
                Item::Word(s.to_owned())
            }
        })
        .collect()
}

/// Canonical architecture strings in prose, outside brackets: a token that the space parses and that cannot be an
/// ordinary number (it has a non-digit character, or six digits or more).
fn tokens(text: &str, space: &dyn SearchSpace, found: &mut Vec<(Fragment, String)>) {
    for raw in text.split_whitespace() {
        let token = raw.trim_matches(|c: char| "`'\"*.,;:()!?".contains(c));
        if token.chars().count() < 2 || !token.chars().any(|c| c.is_ascii_digit() || c == '|') {
            continue;
        }
        let plausible = !token.chars().all(|c| c.is_ascii_digit()) || token.len() >= 6;
        if plausible && !token.contains(['[', ']', '{', '}']) && space.parse(token).is_ok() {
            found.push((Fragment::Text(token.to_owned()), token.to_owned()));
        }
    }
}

fn scalar(v: &Value) -> Option<Item> {
    match v {
        Value::Number(x) => Some(Item::Number(x.as_f64().unwrap_or(f64::NAN), x.to_string())),
        Value::String(s) => {
            let t = s.trim();
            Some(if !t.is_empty() && t.chars().all(|c| c == '.' || c == '…') {
                Item::Ellipsis
            } else if let Ok(x) = t.parse::<f64>() {
                Item::Number(x, t.to_owned())
            } else {
                Item::Word(t.to_owned())
            })
        }
        Value::Bool(b) => Some(Item::Word(b.to_string())),
        _ => None,
    }
}

/// The candidate fragments of a JSON value.
fn from_value(value: &Value, space: &dyn SearchSpace, out: &mut Vec<Fragment>) {
    let parses = |s: &str| !s.trim().is_empty() && !s.contains(char::is_whitespace) && space.parse(s).is_ok();
    match value {
        Value::Array(list) if !list.is_empty() && list.iter().all(|v| scalar(v).is_some()) => {
            let strings: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            if strings.len() == list.len() && strings.iter().all(|s| parses(s) && space.dimensions().len() > 1) {
                out.extend(strings.iter().map(|s| Fragment::Text((*s).to_owned())));
            } else {
                out.push(Fragment::List(list.iter().filter_map(scalar).collect()));
            }
        }
        Value::Array(list) => list.iter().for_each(|v| from_value(v, space, out)),
        Value::Object(map) => {
            let dims = space.dimensions();
            let named: Vec<Option<(String, Item)>> = dims
                .iter()
                .map(|d| {
                    map.iter()
                        .find(|(k, _)| same_name(k, &d.name))
                        .and_then(|(_, v)| scalar(v).map(|item| (d.name.clone(), item)))
                })
                .collect();
            if dims.len() > 1 && named.iter().filter(|x| x.is_some()).count() * 2 > dims.len() {
                out.push(Fragment::Named(named.into_iter().flatten().collect()));
                return;
            }
            for v in map.values() {
                match v {
                    Value::String(s) if parses(s) => out.push(Fragment::Text(s.clone())),
                    Value::Array(_) | Value::Object(_) => from_value(v, space, out),
                    _ => {}
                }
            }
        }
        Value::String(s) if parses(s) => out.push(Fragment::Text(s.clone())),
        _ => {}
    }
}

/// Whether an object key names a dimension (`layer 2`, `layer_2`, `Layer2`).
fn same_name(key: &str, name: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    norm(key) == norm(name)
}

/// The stage number a list is labelled with: `Stage 3` (or `stage3`) earlier on the list's line.
fn stage_label(before: &str) -> Option<u32> {
    let line = before.rsplit('\n').next()?.to_ascii_lowercase();
    let rest = &line[line.rfind("stage")? + "stage".len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Joins lists that are each too short into one when their lengths add up to the space's (a design written stage by
/// stage). Lists labelled with their stage are joined only as stages 1, 2, 3, ... in a row, so that stage lists
/// quoted in the prose after a design ("I changed stage 3 from [...] to [...]") never join it. Runs of unlabelled
/// lists are grouped from their end, so that the last design of a reply is whole even when a lone list comes before
/// it.
fn join_stages(
    found: Vec<(Fragment, String)>,
    labels: &std::collections::HashMap<usize, u32>,
    n: usize,
) -> Vec<(Fragment, String)> {
    let length = |k: usize| match &found[k].0 {
        Fragment::List(items) if items.len() < n && !items.is_empty() => Some(items.len()),
        _ => None,
    };
    let label = |k: usize| labels.get(&k).copied();
    let join = |range: std::ops::Range<usize>| {
        let mut joined = Vec::with_capacity(n);
        let mut written = Vec::new();
        for (f, w) in &found[range] {
            if let Fragment::List(items) = f {
                joined.extend(items.iter().cloned());
            }
            written.push(w.as_str());
        }
        (Fragment::List(joined), shorten(&written.join(" + ")))
    };
    let mut out = Vec::with_capacity(found.len());
    let mut i = 0;
    while i < found.len() {
        if length(i).is_some() && label(i) == Some(1) {
            let (mut j, mut total, mut next) = (i, 0, 1);
            while j < found.len() && total < n && label(j) == Some(next) {
                let Some(len) = length(j) else { break };
                total += len;
                j += 1;
                next += 1;
            }
            if total == n && j - i > 1 {
                out.push(join(i..j));
                i = j;
                continue;
            }
        }
        if length(i).is_none() || label(i).is_some() {
            out.push(found[i].clone());
            i += 1;
            continue;
        }
        // A run [i, end) of short unlabelled lists, grouped backwards.
        let mut end = i;
        while end < found.len() && length(end).is_some() && label(end).is_none() {
            end += 1;
        }
        let mut grouped = Vec::new();
        let mut k = end;
        while k > i {
            let (mut m, mut total) = (k, 0);
            while m > i && total < n {
                m -= 1;
                total += length(m).expect("a short list");
            }
            if total == n && k - m > 1 {
                grouped.push(join(m..k));
                k = m;
            } else {
                grouped.push(found[k - 1].clone());
                k -= 1;
            }
        }
        out.extend(grouped.into_iter().rev());
        i = end;
    }
    out
}

fn architecture(fragment: &Fragment, space: &dyn SearchSpace, notation: Notation) -> Result<Architecture, String> {
    let dims = space.dimensions();
    let n = dims.len();
    let span = match (dims.first(), dims.last()) {
        (Some(a), Some(b)) if n > 1 => format!(" (one per position, {} to {})", a.name, b.name),
        _ => String::new(),
    };
    let list: Vec<Item> = match fragment {
        Fragment::Text(s) => return space.parse(s).map_err(|e| e.reason),
        Fragment::List(items) => items.clone(),
        Fragment::Named(pairs) => {
            let missing: Vec<&str> =
                dims.iter().filter(|d| !pairs.iter().any(|(k, _)| k == &d.name)).map(|d| d.name.as_str()).collect();
            if !missing.is_empty() {
                return Err(format!("it gives no value for {}", missing.join(", ")));
            }
            dims.iter()
                .map(|d| pairs.iter().find(|(k, _)| k == &d.name).map(|(_, v)| v.clone()).expect("checked"))
                .collect()
        }
    };
    if list.contains(&Item::Ellipsis) {
        return Err(format!("it is abbreviated with `...`; write all {n} entries{span}"));
    }
    if list.len() != n {
        return Err(format!("it has {} entries where {n} are needed{span}", list.len()));
    }
    // Numbers in a list are read one way for the whole list: as option indices, or as option labels (a word can
    // only be a label).
    let modes: &[Mode] = match notation {
        Notation::Choices => &[Mode::Index, Mode::Label],
        Notation::Labels => &[Mode::Label],
        Notation::Canonical => &[Mode::Label, Mode::Index],
    };
    let mut first_error = None;
    for &mode in modes {
        match read(&list, dims, mode) {
            Ok(choices) => return Ok(Architecture::new(choices)),
            Err((i, item)) => {
                first_error.get_or_insert_with(|| {
                    format!(
                        "entry {} ({}) is {}, which is not allowed there; allowed: {}",
                        i + 1,
                        dims[i].name,
                        item.written(),
                        allowed(&dims[i], modes[0])
                    )
                });
            }
        }
    }
    Err(first_error.expect("at least one mode"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Index,
    Label,
}

/// The choices of `list` read in `mode`, or the first entry that does not fit.
fn read<'a>(list: &'a [Item], dims: &[Dimension], mode: Mode) -> Result<Vec<u16>, (usize, &'a Item)> {
    list.iter()
        .zip(dims)
        .enumerate()
        .map(|(i, (item, dim))| {
            let choice = match (mode, item) {
                (Mode::Index, Item::Number(x, _)) if x.fract() == 0.0 && *x >= 0.0 && (*x as usize) < dim.len() => {
                    Some(*x as u16)
                }
                (Mode::Index, Item::Word(w)) => {
                    dim.options.iter().position(|o| o.eq_ignore_ascii_case(w)).map(|p| p as u16)
                }
                (Mode::Index, _) => None,
                (Mode::Label, _) => dim
                    .options
                    .iter()
                    .position(|o| match item {
                        Item::Number(x, w) => o == w || o.trim().parse::<f64>().is_ok_and(|v| v == *x),
                        Item::Word(w) => o.eq_ignore_ascii_case(w),
                        Item::Ellipsis => false,
                    })
                    .map(|p| p as u16),
            };
            choice.ok_or((i, item))
        })
        .collect()
}

fn allowed(dim: &Dimension, mode: Mode) -> String {
    match mode {
        Mode::Index if dim.len() <= 12 => (0..dim.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
        Mode::Index => format!("0 to {}", dim.len() - 1),
        Mode::Label => dim.options.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use genius_core::testing::ToySpace;

    use super::*;

    fn archs(text: &str, notation: Notation) -> Vec<Result<Vec<u16>, String>> {
        candidates(text, &ToySpace::new(), notation).into_iter().map(|c| c.arch.map(|a| a.choices().to_vec())).collect()
    }

    fn last(text: &str) -> Option<Vec<u16>> {
        let c = candidates(text, &ToySpace::new(), Notation::Choices);
        last_well_formed(&c, 1).first().map(|a| a.choices().to_vec())
    }

    #[test]
    fn a_bare_list_and_json_anywhere() {
        assert_eq!(last("[2, 3, 0]"), Some(vec![2, 3, 0]));
        assert_eq!(last("Sure! I suggest {\"architecture\": [1, 2, 1]} because it is deeper."), Some(vec![1, 2, 1]));
        assert_eq!(
            last("```json\n{\"analysis\": \"deeper is better\", \"architectures\": [[0, 1, 0]]}\n```"),
            Some(vec![0, 1, 0])
        );
    }

    #[test]
    fn the_last_well_formed_candidate_wins() {
        let text =
            "The previous design [0, 0, 0] reached 50%. I now suggest:\n```\n[2, 3, 0]\n```\nIt beats [0, 0, 0].";
        assert_eq!(last(text), Some(vec![0, 0, 0]), "the last one, as written");
        let text = "Earlier: [0, 0, 0]. My answer: [2, 3, 1]";
        assert_eq!(last(text), Some(vec![2, 3, 1]));
        let text = "My answer: [2, 3, 1]. (A list like [9, 9, 9] would be out of range.)";
        assert_eq!(last(text), Some(vec![2, 3, 1]), "a malformed later candidate does not hide a well-formed one");
    }

    #[test]
    fn python_lists_labels_and_objects_keyed_by_dimension() {
        assert_eq!(last("op_list = ['3', '64', 'pool']"), Some(vec![2, 3, 1]), "labels are accepted for ids");
        assert_eq!(archs("[3, 64, \"conv\"]", Notation::Labels), vec![Ok(vec![2, 3, 0])]);
        assert_eq!(last("{\"depth\": 1, \"width\": 2, \"op\": 0}"), Some(vec![1, 2, 0]));
        assert_eq!(last("{\"Depth\": 1, \"WIDTH\": 2, \"op\": \"pool\"}"), Some(vec![1, 2, 1]));
    }

    #[test]
    fn lists_written_stage_by_stage_are_joined() {
        let text = "Stage 1: [2]\nStage 2: [3, 0]\n";
        assert_eq!(last(text), Some(vec![2, 3, 0]));
    }

    #[test]
    fn malformed_candidates_name_their_exact_problem() {
        let r = archs("[1, 2]", Notation::Choices);
        assert_eq!(r, vec![Err("it has 2 entries where 3 are needed (one per position, depth to op)".into())]);
        let r = archs("[1, 2, 5]", Notation::Choices);
        assert_eq!(r, vec![Err("entry 3 (op) is 5, which is not allowed there; allowed: 0, 1".into())]);
        let r = archs("[1, 2, ..., 0]", Notation::Choices);
        assert!(r[0].as_ref().unwrap_err().contains("abbreviated with `...`"), "{r:?}");
        let r = archs("[3, 48, \"conv\"]", Notation::Labels);
        assert_eq!(r, vec![Err("entry 2 (width) is 48, which is not allowed there; allowed: 8, 16, 32, 64".into())]);
        let r = archs("{\"depth\": 1, \"width\": 2}", Notation::Choices);
        assert_eq!(r, vec![Err("it gives no value for op".into())]);
    }

    #[test]
    fn prose_without_any_design_gives_nothing_and_refusals_are_recognised() {
        assert!(
            archs("I think deeper networks are better, around 93% accuracy in 2023.", Notation::Choices).is_empty()
        );
        assert!(gives_up("I'm sorry, but I cannot improve on these results any further."));
        assert!(gives_up("The design is already optimal."));
        assert!(!gives_up("Here is an improved design."));
    }

    #[test]
    fn several_designs_in_one_reply() {
        let c =
            candidates("{\"architectures\": [[0,1,0],[1,1,0],[0,1,0],[2,2,1]]}", &ToySpace::new(), Notation::Choices);
        let got: Vec<Vec<u16>> = last_well_formed(&c, 3).iter().map(|a| a.choices().to_vec()).collect();
        assert_eq!(got, vec![vec![1, 1, 0], vec![0, 1, 0], vec![2, 2, 1]]);
    }

    #[test]
    fn canonical_strings_are_found_in_prose() {
        // The toy space's canonical form is a digit string; short ones are not mistaken for numbers.
        assert_eq!(last("Try 231 next."), None);
        assert_eq!(archs("Try `231` next.", Notation::Canonical), Vec::<Result<Vec<u16>, String>>::new());
        assert_eq!(last("[\"230\"]"), Some(vec![2, 3, 0]));
    }

    #[test]
    fn comments_inside_a_list_are_not_items() {
        let space = genius_core::testing::ToySpace::new();
        let found =
            candidates("[\n    # depth\n    2,\n    # width\n    1,  // op next\n    0\n]", &space, Notation::Choices);
        assert_eq!(last_well_formed(&found, 1), [Architecture::new(vec![2, 1, 0])]);
    }
}
