//! The embedded model's tokenizers, built from a GGUF file's `tokenizer.ggml.*` metadata (GGUF files carry no
//! `tokenizer.json`, so the `tokenizers` crate cannot read them):
//!
//! - byte-level BPE (`tokenizer.ggml.model = "gpt2"`: the GPT-2 family's, as SmolLM2 uses it): text is split into
//!   pieces first (the pre-tokenizer named by `tokenizer.ggml.pre`), each piece's bytes are mapped to the printable
//!   characters the vocabulary is written in, and adjacent symbols are merged, lowest merge rank first, until no
//!   merge applies;
//! - SentencePiece BPE (`tokenizer.ggml.model = "llama"`: Gemma 3's, Phi-3's, Llama 2's): spaces are written `▁`
//!   (with one put before the text when `tokenizer.ggml.add_space_prefix` says so), the user-defined tokens (type 4,
//!   e.g. Gemma's `\n\n` and HTML tags) are cut out whole, the rest starts as single characters, and the adjacent
//!   pair whose joined text is a token with the highest score (`tokenizer.ggml.scores`; the leftmost on a tie) is
//!   merged until none is; what is left that is no token is written with the byte tokens `<0xXX>`.
//!
//! Either way every token knows the bytes it stands for ([`Tokenizer::token_bytes`]: `▁` is a space, `<0x0A>` the
//! byte 0x0A), which is what the constrained decoder masks by.

use std::collections::HashMap;

use crate::LlmError;

/// How text is split into pieces before merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's rules: contractions, letters with an optional leading space, numbers with one, other symbols with
    /// one, and runs of white space (the last space of a run goes to the word after it).
    Gpt2,
    /// SmolLM's: every digit a piece of its own, then GPT-2's rules on the rest.
    SmolLm,
    /// Qwen2's (Qwen2, Qwen2.5, Qwen3): contractions in either case, letters with one leading non-letter, every
    /// digit alone, other symbols with an optional space and the line breaks after them, line breaks with the white
    /// space before them, other white space as GPT-2.
    Qwen2,
    /// Llama 3's (`llama-bpe`): Qwen2's with numbers in runs of up to three digits.
    Llama3,
}

/// The patterns of the regular-expression pre-tokenizers (llama.cpp's, as the models' own `tokenizer.json` have
/// them).
const QWEN2_PATTERN: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const LLAMA3_PATTERN: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A pattern compiled once.
fn pattern(which: &'static str) -> &'static fancy_regex::Regex {
    static QWEN2: std::sync::OnceLock<fancy_regex::Regex> = std::sync::OnceLock::new();
    static LLAMA3: std::sync::OnceLock<fancy_regex::Regex> = std::sync::OnceLock::new();
    let cell = if which == QWEN2_PATTERN { &QWEN2 } else { &LLAMA3 };
    cell.get_or_init(|| fancy_regex::Regex::new(which).expect("a valid pattern"))
}

/// The pieces of `text` a pattern matches, with anything between matches (never, for these patterns, which match
/// every character) as pieces of its own.
fn regex_pieces<'t>(re: &fancy_regex::Regex, text: &'t str, out: &mut Vec<&'t str>) {
    let mut at = 0;
    for m in re.find_iter(text) {
        let Ok(m) = m else { break };
        if m.start() > at {
            out.push(&text[at..m.start()]);
        }
        out.push(m.as_str());
        at = m.end();
    }
    if at < text.len() {
        out.push(&text[at..]);
    }
}

impl PreTokenizer {
    /// The names [`Self::named`] knows.
    pub const NAMES: [&str; 6] = ["smollm", "gpt2", "default", "qwen2", "llama-bpe", "llama3"];

    /// The pre-tokenizer a GGUF file names in `tokenizer.ggml.pre`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "smollm" => Some(Self::SmolLm),
            "gpt2" | "gpt-2" | "default" => Some(Self::Gpt2),
            "qwen2" => Some(Self::Qwen2),
            "llama-bpe" | "llama3" => Some(Self::Llama3),
            _ => None,
        }
    }

    /// The pieces of `text`, in order; together they are `text`.
    pub fn split(self, text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        match self {
            Self::Gpt2 => gpt2_pieces(text, &mut out),
            Self::Qwen2 => regex_pieces(pattern(QWEN2_PATTERN), text, &mut out),
            Self::Llama3 => regex_pieces(pattern(LLAMA3_PATTERN), text, &mut out),
            Self::SmolLm => {
                let mut from = 0;
                for (i, c) in text.char_indices() {
                    if c.is_numeric() {
                        gpt2_pieces(&text[from..i], &mut out);
                        out.push(&text[i..i + c.len_utf8()]);
                        from = i + c.len_utf8();
                    }
                }
                gpt2_pieces(&text[from..], &mut out);
            }
        }
        out
    }
}

/// Letters, numbers, white space, or anything else (as GPT-2's `\p{L}`, `\p{N}`, `\s` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        Class::Space
    } else if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Number
    } else {
        Class::Other
    }
}

/// GPT-2's pre-tokenizer, written out by hand: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|
/// \s+(?!\S)|\s+`.
fn gpt2_pieces<'t>(text: &'t str, out: &mut Vec<&'t str>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |k: usize| chars.get(k).map_or(text.len(), |&(i, _)| i);
    let mut k = 0;
    while k < chars.len() {
        let (start, c) = chars[k];
        // Contractions.
        if c == '\'' {
            let rest = &text[start + 1..];
            let suffix = ["s", "t", "m", "d", "re", "ve", "ll"].into_iter().find(|s| rest.starts_with(s));
            if let Some(s) = suffix {
                out.push(&text[start..start + 1 + s.len()]);
                k += 1 + s.len();
                continue;
            }
        }
        // An optional single space, then a run of one class.
        let run_from = match (c, chars.get(k + 1)) {
            (' ', Some(&(_, next))) if class(next) != Class::Space => k + 1,
            _ => k,
        };
        let kind = class(chars[run_from].1);
        if kind != Class::Space {
            let mut j = run_from + 1;
            while j < chars.len() && class(chars[j].1) == kind {
                j += 1;
            }
            out.push(&text[start..end_of(j)]);
            k = j;
            continue;
        }
        // White space: the run, less its last character when something follows it.
        let mut j = k + 1;
        while j < chars.len() && class(chars[j].1) == Class::Space {
            j += 1;
        }
        if j < chars.len() && j - k > 1 {
            j -= 1;
        }
        out.push(&text[start..end_of(j)]);
        k = j;
    }
}

/// GPT-2's map from bytes to the printable characters byte-level vocabularies are written in.
fn byte_chars() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
        map[usize::from(b)] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + extra).expect("a valid code point");
            extra += 1;
            c
        };
    }
    map
}

/// A tokenizer: the bytes of every token, and how text is cut into tokens.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    /// The bytes each token stands for (a control token: its text).
    bytes: Vec<Vec<u8>>,
    /// Whether a token is a control token (`<|im_end|>`), never produced from text.
    control: Vec<bool>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Bpe(Box<Bpe>),
    Spm(Box<Spm>),
}

/// Byte-level BPE.
#[derive(Debug, Clone)]
struct Bpe {
    /// Token ids by their text in the vocabulary's characters.
    ids: HashMap<String, u32>,
    /// The token of each byte on its own (none for a few bytes some vocabularies leave out: rare control characters
    /// and bytes that never occur in UTF-8).
    byte_token: [Option<u32>; 256],
    /// `(left, right)` to `(rank, merged)`.
    merges: HashMap<(u32, u32), (u32, u32)>,
    pre: PreTokenizer,
    byte_chars: [char; 256],
}

impl Tokenizer {
    /// The byte-level BPE tokenizer of `tokens` (the vocabulary in its characters), `types` (1 normal, 3 control, ...), `merges`
    /// (`"left right"`, best first) and the pre-tokenizer `pre`.
    pub fn new(tokens: &[String], types: &[i32], merges: &[String], pre: PreTokenizer) -> Result<Self, LlmError> {
        let bad = |m: String| LlmError::Settings(format!("the model's tokenizer: {m}"));
        if tokens.is_empty() {
            return Err(bad("the vocabulary is empty".into()));
        }
        if !types.is_empty() && types.len() != tokens.len() {
            return Err(bad(format!("{} token types for {} tokens", types.len(), tokens.len())));
        }
        let byte_chars = byte_chars();
        let mut char_byte: HashMap<char, u8> = HashMap::new();
        for (b, c) in byte_chars.iter().enumerate() {
            char_byte.insert(*c, u8::try_from(b).expect("a byte"));
        }
        let control: Vec<bool> = (0..tokens.len()).map(|i| types.get(i).is_some_and(|&t| t != 1 && t != 6)).collect();
        let bytes: Vec<Vec<u8>> = tokens
            .iter()
            .zip(&control)
            .map(|(t, &is_control)| {
                if is_control {
                    t.as_bytes().to_vec()
                } else {
                    // A character outside the byte map (rare) stands for its own UTF-8 bytes.
                    let mut out = Vec::with_capacity(t.len());
                    for c in t.chars() {
                        match char_byte.get(&c) {
                            Some(&b) => out.push(b),
                            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                        }
                    }
                    out
                }
            })
            .collect();
        let ids: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| !control[*i])
            .map(|(i, t)| (t.clone(), u32::try_from(i).expect("fewer than 2^32 tokens")))
            .collect();
        let mut byte_token = [None; 256];
        for (b, c) in byte_chars.iter().enumerate() {
            byte_token[b] = ids.get(&c.to_string()).copied();
            // Printable ASCII, tabs and newlines must be there: every prompt and every answer is written in them.
            let needed = (0x20..0x7f).contains(&b) || b == 0x09 || b == 0x0a;
            if needed && byte_token[b].is_none() {
                return Err(bad(format!("byte {b:#04x} has no token of its own; is it a byte-level BPE?")));
            }
        }
        let mut merge_map = HashMap::with_capacity(merges.len());
        for (rank, m) in merges.iter().enumerate() {
            let (l, r) = m.split_once(' ').ok_or_else(|| bad(format!("merge {rank} `{m}` is not `LEFT RIGHT`")))?;
            let (Some(&li), Some(&ri), Some(&mi)) = (ids.get(l), ids.get(r), ids.get(&format!("{l}{r}"))) else {
                return Err(bad(format!("merge {rank} `{m}` names a token that is not in the vocabulary")));
            };
            merge_map.entry((li, ri)).or_insert((u32::try_from(rank).expect("fewer than 2^32 merges"), mi));
        }
        let kind = Kind::Bpe(Box::new(Bpe { ids, byte_token, merges: merge_map, pre, byte_chars }));
        Ok(Self { bytes, control, kind })
    }

    /// The SentencePiece BPE tokenizer of `tokens` (spaces written `▁`), their `scores` (higher merges first) and
    /// `types` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte `<0xXX>`); `space_prefix`: whether
    /// text after a control token starts with a `▁` of its own (`tokenizer.ggml.add_space_prefix`).
    pub fn sentencepiece(
        tokens: &[String],
        scores: &[f32],
        types: &[i32],
        space_prefix: bool,
    ) -> Result<Self, LlmError> {
        let bad = |m: String| LlmError::Settings(format!("the model's tokenizer: {m}"));
        if tokens.is_empty() {
            return Err(bad("the vocabulary is empty".into()));
        }
        if scores.len() != tokens.len() || types.len() != tokens.len() {
            return Err(bad(format!(
                "{} scores and {} token types for {} tokens",
                scores.len(),
                types.len(),
                tokens.len()
            )));
        }
        let id = |i: usize| u32::try_from(i).expect("fewer than 2^32 tokens");
        let mut bytes = Vec::with_capacity(tokens.len());
        let mut control = Vec::with_capacity(tokens.len());
        let mut pieces = HashMap::new();
        let mut user: Vec<(String, u32)> = Vec::new();
        let mut byte_token = [None; 256];
        let mut unknown = None;
        for (i, (t, &kind)) in tokens.iter().zip(types).enumerate() {
            let byte = (kind == 6)
                .then(|| t.strip_prefix("<0x").and_then(|h| h.strip_suffix('>')))
                .flatten()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (kind, byte) {
                (6, Some(b)) => {
                    byte_token[usize::from(b)] = Some(id(i));
                    bytes.push(vec![b]);
                    control.push(false);
                }
                (1 | 4, _) => {
                    pieces.entry(t.clone()).or_insert((id(i), scores[i]));
                    if kind == 4 {
                        user.push((t.clone(), id(i)));
                    }
                    bytes.push(t.replace(SPACE, " ").into_bytes());
                    control.push(false);
                }
                _ => {
                    if kind == 2 {
                        unknown = Some(id(i));
                    }
                    bytes.push(t.as_bytes().to_vec());
                    control.push(true);
                }
            }
        }
        // Printable ASCII, tabs and newlines must be writable: every prompt and every answer is written in them.
        for b in (0x20u8..0x7f).chain([0x09, 0x0a]) {
            let c = if b == b' ' { SPACE.to_string() } else { char::from(b).to_string() };
            if !pieces.contains_key(&c) && byte_token[usize::from(b)].is_none() {
                return Err(bad(format!("byte {b:#04x} has neither a token nor a byte token; is it SentencePiece?")));
            }
        }
        user.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let kind = Kind::Spm(Box::new(Spm { pieces, user, byte_token, unknown, space_prefix }));
        Ok(Self { bytes, control, kind })
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the vocabulary is empty (never, for a built tokenizer).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes token `id` stands for.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        &self.bytes[id as usize]
    }

    /// Whether token `id` is a control token.
    pub fn is_control(&self, id: u32) -> bool {
        self.control[id as usize]
    }

    /// The control token written `text` (e.g. `<|im_end|>`).
    pub fn control_token(&self, text: &str) -> Option<u32> {
        self.bytes
            .iter()
            .zip(&self.control)
            .position(|(b, &c)| c && b == text.as_bytes())
            .map(|i| u32::try_from(i).expect("fewer than 2^32 tokens"))
    }

    /// The tokens of `text` (plain text: control-token texts in it are encoded as text; the few bytes a byte-level
    /// vocabulary has no token for are left out). It continues whatever came before: no space is put before it.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        match &self.kind {
            Kind::Bpe(b) => b.encode(text),
            Kind::Spm(s) => s.encode(text, false),
        }
    }

    /// The tokens of `text` right after a control token (or at the start): as [`Self::encode`], with the space
    /// that SentencePiece tokenizers asking for one (`tokenizer.ggml.add_space_prefix`) put before it.
    pub fn encode_fragment(&self, text: &str) -> Vec<u32> {
        match &self.kind {
            Kind::Bpe(b) => b.encode(text),
            Kind::Spm(s) => s.encode(text, s.space_prefix),
        }
    }

    /// Whether this is a SentencePiece tokenizer.
    pub fn is_sentencepiece(&self) -> bool {
        matches!(self.kind, Kind::Spm(_))
    }

    /// The text of `ids` (bytes that are not UTF-8 are replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&i| self.bytes[i as usize].iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Bpe {
    fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for piece in self.pre.split(text) {
            self.encode_piece(piece.as_bytes(), &mut out);
        }
        out
    }

    fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        if piece.is_empty() {
            return;
        }
        // The whole piece may be one token.
        let written: String = piece.iter().map(|&b| self.byte_chars[usize::from(b)]).collect();
        if let Some(&id) = self.ids.get(&written) {
            out.push(id);
            return;
        }
        // A byte with no token is left out, as the reference tokenizer (no unknown token, no byte fallback) does.
        let mut symbols: Vec<u32> = piece.iter().filter_map(|&b| self.byte_token[usize::from(b)]).collect();
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| self.merges.get(&(w[0], w[1])).map(|&(rank, merged)| (rank, i, merged)))
                .min();
            let Some((_, i, merged)) = best else { break };
            symbols[i] = merged;
            symbols.remove(i + 1);
        }
        out.extend(symbols);
    }
}

/// U+2581, SentencePiece's space.
const SPACE: char = '\u{2581}';

/// SentencePiece BPE.
#[derive(Debug, Clone)]
struct Spm {
    /// The normal and user-defined tokens by their text (spaces written `▁`): id and score.
    pieces: HashMap<String, (u32, f32)>,
    /// The user-defined tokens, longest first: cut out of the text whole.
    user: Vec<(String, u32)>,
    /// The byte tokens `<0xXX>`.
    byte_token: [Option<u32>; 256],
    unknown: Option<u32>,
    space_prefix: bool,
}

/// A pair of adjacent symbols that may merge, best first in a max-heap: the higher score, then the leftmost.
#[derive(Debug, PartialEq)]
struct Candidate {
    score: f32,
    left: usize,
    right: usize,
    /// The joined length when found (a pair whose symbols have changed since is stale).
    len: usize,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score.total_cmp(&other.score).then(other.left.cmp(&self.left))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A symbol of the text being merged: a byte range of it, linked to its neighbours.
#[derive(Debug, Clone, Copy)]
struct Symbol {
    start: usize,
    end: usize,
    prev: Option<usize>,
    next: Option<usize>,
    /// A user-defined token: never merged.
    whole: bool,
    gone: bool,
}

impl Spm {
    /// The adjacent symbols `left` and `right` as a merge candidate, if their joined text is a token.
    fn candidate(&self, norm: &str, symbols: &[Symbol], left: usize, right: usize) -> Option<Candidate> {
        let (l, r) = (symbols[left], symbols[right]);
        if l.whole || r.whole {
            return None;
        }
        let &(_, score) = self.pieces.get(&norm[l.start..r.end])?;
        Some(Candidate { score, left, right, len: r.end - l.start })
    }

    fn encode(&self, text: &str, prefix: bool) -> Vec<u32> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut norm = String::with_capacity(text.len() + 3);
        if prefix {
            norm.push(SPACE);
        }
        norm.extend(text.chars().map(|c| if c == ' ' { SPACE } else { c }));
        // Symbols: user-defined tokens whole, else single characters.
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut at = 0;
        while at < norm.len() {
            let rest = &norm[at..];
            let (len, whole) = match self.user.iter().find(|(u, _)| rest.starts_with(u.as_str())) {
                Some((u, _)) => (u.len(), true),
                None => (rest.chars().next().map_or(1, char::len_utf8), false),
            };
            let i = symbols.len();
            symbols.push(Symbol { start: at, end: at + len, prev: i.checked_sub(1), next: None, whole, gone: false });
            if i > 0 {
                symbols[i - 1].next = Some(i);
            }
            at += len;
        }
        let mut heap: std::collections::BinaryHeap<Candidate> =
            (1..symbols.len()).filter_map(|i| self.candidate(&norm, &symbols, i - 1, i)).collect();
        while let Some(c) = heap.pop() {
            let (l, r) = (symbols[c.left], symbols[c.right]);
            if l.gone || r.gone || l.next != Some(c.right) || r.end - l.start != c.len {
                continue;
            }
            symbols[c.left].end = r.end;
            symbols[c.left].next = r.next;
            symbols[c.right].gone = true;
            if let Some(n) = r.next {
                symbols[n].prev = Some(c.left);
            }
            heap.extend(l.prev.and_then(|p| self.candidate(&norm, &symbols, p, c.left)));
            heap.extend(r.next.and_then(|n| self.candidate(&norm, &symbols, c.left, n)));
        }
        let mut out = Vec::new();
        for s in symbols.iter().filter(|s| !s.gone) {
            let piece = &norm[s.start..s.end];
            if let Some(&(id, _)) = self.pieces.get(piece) {
                out.push(id);
                continue;
            }
            // Byte fallback; a byte with no byte token is the unknown token (or left out if there is none).
            for b in piece.bytes() {
                out.extend(self.byte_token[usize::from(b)].or(self.unknown));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_pieces_follow_the_pattern() {
        let split = |t| PreTokenizer::Gpt2.split(t);
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(split("it's  done!\n\nok"), ["it", "'s", " ", " done", "!", "\n", "\n", "ok"]);
        assert_eq!(split("a   b"), ["a", "  ", " b"]);
        assert_eq!(split("x \n"), ["x", " \n"]);
        assert_eq!(split(": 12, [3]"), [":", " 12", ",", " [", "3", "]"]);
        assert_eq!(split("{\"a\": 1}"), ["{\"", "a", "\":", " 1", "}"]);
    }

    #[test]
    fn smollm_splits_every_digit() {
        assert_eq!(PreTokenizer::SmolLm.split("layer 12: 0.5"), ["layer", " ", "1", "2", ":", " ", "0", ".", "5"]);
        assert_eq!(PreTokenizer::named("smollm"), Some(PreTokenizer::SmolLm));
        assert_eq!(PreTokenizer::named("qwen2"), Some(PreTokenizer::Qwen2));
        assert_eq!(PreTokenizer::named("deepseek-llm"), None);
    }

    #[test]
    fn qwen2_and_llama3_split_as_their_patterns_do() {
        // The expected pieces: Python's `regex` module (2026.11.19) on the same patterns (`regex.findall`).
        let text = "Hello World's 12345 layers!!\n\n  [0, 1]\tx  \n end — naïve I'LL";
        assert_eq!(
            PreTokenizer::Qwen2.split(text),
            [
                "Hello", " World", "'s", " ", "1", "2", "3", "4", "5", " layers", "!!\n\n", " ", " [", "0", ",", " ",
                "1", "]", "\tx", "  \n", " end", " —", " naïve", " I", "'LL"
            ]
        );
        assert_eq!(
            PreTokenizer::Llama3.split(text),
            [
                "Hello", " World", "'s", " ", "123", "45", " layers", "!!\n\n", " ", " [", "0", ",", " ", "1", "]",
                "\tx", "  \n", " end", " —", " naïve", " I", "'LL"
            ]
        );
        assert_eq!(PreTokenizer::named("llama-bpe"), Some(PreTokenizer::Llama3));
    }

    /// A tiny byte-level vocabulary: every byte, a few merges, one control token.
    fn tiny() -> Tokenizer {
        let map = byte_chars();
        let mut tokens: Vec<String> = map.iter().map(|c| c.to_string()).collect();
        let mut types = vec![1; 256];
        let space = map[usize::from(b' ')];
        for t in ["ab".to_owned(), "abc".into(), format!("{space}a"), format!("{space}ab")] {
            tokens.push(t);
            types.push(1);
        }
        tokens.push("<|im_end|>".into());
        types.push(3);
        let merges = vec!["a b".to_owned(), "ab c".into(), format!("{space} a"), format!("{space}a b")];
        Tokenizer::new(&tokens, &types, &merges, PreTokenizer::Gpt2).unwrap()
    }

    #[test]
    fn encoding_merges_by_rank_and_decodes_back() {
        let t = tiny();
        let Kind::Bpe(bpe) = &t.kind else { unreachable!() };
        let id = |s: &str| {
            bpe.ids[&s
                .chars()
                .map(|c| {
                    if c == ' ' {
                        'Ġ'
                    } else if c == '\n' {
                        'Ċ'
                    } else {
                        c
                    }
                })
                .collect::<String>()]
        };
        let ids = t.encode("abc ab abd\n");
        // "abc" and " ab" are tokens; " abd" merges `a b` (rank 0) first, after which `Ġ ab` is no merge.
        assert_eq!(ids, [id("abc"), id(" ab"), id(" "), id("ab"), id("d"), id("\n")]);
        assert_eq!(t.decode(&ids), "abc ab abd\n");
        assert_eq!(t.control_token("<|im_end|>"), Some(260));
        assert!(t.is_control(260));
        assert_eq!(t.decode(&t.encode("<|im_end|> é")), "<|im_end|> é");
        assert!(!t.encode("<|im_end|>").contains(&260));
    }

    #[test]
    fn a_broken_vocabulary_is_named() {
        let e = Tokenizer::new(&["a".into()], &[1], &[], PreTokenizer::Gpt2).unwrap_err().to_string();
        assert!(e.contains("has no token of its own"), "{e}");
    }

    #[test]
    fn bytes_a_vocabulary_leaves_out_are_dropped() {
        // As SmolLM2's vocabulary has no token for 0x04 (nor for bytes never in UTF-8).
        let map = byte_chars();
        let tokens: Vec<String> = map.iter().enumerate().filter(|(b, _)| *b != 4).map(|(_, c)| c.to_string()).collect();
        let t = Tokenizer::new(&tokens, &[], &[], PreTokenizer::Gpt2).unwrap();
        let ids = t.encode("a\u{4}b");
        assert_eq!(t.decode(&ids), "ab");
        let no_a: Vec<String> = tokens.iter().filter(|t| *t != "a").cloned().collect();
        let e = Tokenizer::new(&no_a, &[], &[], PreTokenizer::Gpt2).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("has no token of its own"), "{e}");
    }

    /// A tiny SentencePiece vocabulary: a control token, byte tokens for every byte, single characters, a few
    /// merges with scores, and a user-defined `\n\n`.
    fn tiny_spm(space_prefix: bool) -> Tokenizer {
        let mut tokens = vec!["<eos>".to_owned()];
        let mut scores = vec![0.0];
        let mut types = vec![3];
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            scores.push(0.0);
            types.push(6);
        }
        for (t, score) in
            [("▁", -1.0), ("a", -2.0), ("b", -3.0), ("c", -4.0), ("ab", -10.0), ("bc", -5.0), ("▁a", -6.0)]
                .into_iter()
                .chain([("▁abc", -7.0), ("é", -8.0)])
        {
            tokens.push(t.into());
            scores.push(score);
            types.push(1);
        }
        tokens.push("\n\n".into());
        scores.push(0.0);
        types.push(4);
        // Printable ASCII must be writable; here by the byte tokens.
        Tokenizer::sentencepiece(&tokens, &scores, &types, space_prefix).unwrap()
    }

    #[test]
    fn sentencepiece_merges_by_score_and_falls_back_to_bytes() {
        let t = tiny_spm(false);
        let id = |s: &str| {
            let Kind::Spm(spm) = &t.kind else { unreachable!() };
            spm.pieces[s].0
        };
        // "abc": `bc` (-5) merges before `ab` (-10); then `a bc` is no token.
        assert_eq!(t.encode("abc"), [id("a"), id("bc")]);
        // " abc": `bc` (-5), then `▁ a` (-6), then `▁a bc` (-7).
        assert_eq!(t.encode(" abc"), [id("▁abc")]);
        assert_eq!(t.encode(" ab"), [id("▁a"), id("b")]);
        // The user-defined `\n\n` is cut out whole; `\n` alone and `x` are bytes.
        assert_eq!(t.encode("a\n\n\nx"), [id("a"), id("\n\n"), 1 + 0x0a, 1 + u32::from(b'x')]);
        // A character with no token: its UTF-8 bytes.
        assert_eq!(t.encode("ü"), [1 + 0xc3, 1 + 0xbc]);
        for text in ["abc", " a  b c ", "é ü\n\n\n\t!", ""] {
            assert_eq!(t.decode(&t.encode(text)), text, "{text:?}");
        }
        // Token bytes: `▁` is a space, a byte token its byte, a control token its text (and control).
        assert_eq!(t.token_bytes(id("▁abc")), b" abc");
        assert_eq!(t.token_bytes(1 + 0x0a), b"\n");
        assert!(t.is_control(0) && !t.is_control(id("\n\n")) && !t.is_control(1 + 0x41));
        assert_eq!(t.control_token("<eos>"), Some(0));
        // Only a fragment after a control token gets the space prefix, and only when the file asks for it.
        assert_eq!(tiny_spm(true).encode_fragment("abc"), [id("▁abc")]);
        assert_eq!(tiny_spm(true).encode("abc"), t.encode("abc"));
        assert_eq!(t.encode_fragment("abc"), t.encode("abc"));
    }
}
