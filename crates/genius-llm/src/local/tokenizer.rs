//! A byte-level BPE tokenizer (the GPT-2 family's, as SmolLM2 uses it) built from a GGUF file's
//! `tokenizer.ggml.*` metadata: the vocabulary, the merges and the token types. Text is split into pieces first
//! (the pre-tokenizer named by `tokenizer.ggml.pre`), each piece's bytes are mapped to the printable characters the
//! vocabulary is written in, and adjacent symbols are merged, lowest merge rank first, until no merge applies.

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
}

impl PreTokenizer {
    /// The pre-tokenizer a GGUF file names in `tokenizer.ggml.pre`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "smollm" => Some(Self::SmolLm),
            "gpt2" | "gpt-2" | "default" => Some(Self::Gpt2),
            _ => None,
        }
    }

    /// The pieces of `text`, in order; together they are `text`.
    pub fn split(self, text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        match self {
            Self::Gpt2 => gpt2_pieces(text, &mut out),
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

/// A byte-level BPE tokenizer.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    /// The bytes each token stands for (a control token: its text).
    bytes: Vec<Vec<u8>>,
    /// Whether a token is a control token (`<|im_end|>`), never produced from text.
    control: Vec<bool>,
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
    /// The tokenizer of `tokens` (the vocabulary in its characters), `types` (1 normal, 3 control, ...), `merges`
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
        Ok(Self { bytes, control, ids, byte_token, merges: merge_map, pre, byte_chars })
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

    /// The tokens of `text` (plain text: control-token texts in it are encoded as text; the few bytes the vocabulary
    /// has no token for are left out).
    pub fn encode(&self, text: &str) -> Vec<u32> {
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

    /// The text of `ids` (bytes that are not UTF-8 are replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&i| self.bytes[i as usize].iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
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
        assert_eq!(PreTokenizer::named("qwen2"), None);
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
        let id = |s: &str| {
            t.ids[&s
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
}
