//! Constrained decoding: the answer's JSON schema (derived from the space's dimensions and notation by
//! [`crate::schema`]) compiled into a byte-level matcher, which says after every token which tokens may come next.
//! Whatever the model would rather write, the reply is one JSON text of the schema, written one way:
//! `{"analysis": "...", "architecture": {"layer_1": 0, "layer_2": 2, ...}}`: keys in the schema's order, `": "` and
//! `", "` between items, every property present, every value one of its dimension's options, free text (an
//! `analysis`) printable ASCII of bounded length.
//!
//! Architectures already evaluated can be masked too ([`Grammar::excluding`]): their text forms make a prefix trie,
//! and inside every object of the schema with exactly their properties, a byte is refused when it would complete one
//! of them or enter a part of the trie from which every way on completes one. The reply is then never a duplicate
//! of them, by construction, and never stuck.
//!
//! The subset of JSON Schema understood is the one [`crate::schema`] writes: objects (every property, in order),
//! arrays (`minItems`/`maxItems`, else 1 to [`MAX_ITEMS`] items), `enum`s, booleans and strings (`maxLength`, at
//! most [`MAX_TEXT`] bytes). Anything else is refused with the keyword named.

use serde_json::Value;

use crate::LlmError;

/// The most bytes of a free-text string (an `analysis`), whatever its schema allows: reasoning is bounded.
pub const MAX_TEXT: usize = 400;

/// The most items of an array whose schema gives no `maxItems`.
pub const MAX_ITEMS: usize = 16;

/// The deepest nesting of the matcher's stack.
const DEPTH: usize = 24;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Every property, in order: the literal before each value (`{"key": ` then `, "key": `), then the close.
    Object { parts: Vec<(u32, u32)>, close: u32, keys: Vec<String> },
    /// Items of `item`, between `[` and `]`, separated by `, `.
    Array { item: u32, min: u32, max: u32 },
    /// One of these JSON texts.
    Enum { options: Vec<Vec<u8>> },
    /// A JSON string of at most `max` plain bytes.
    Text { max: u32 },
}

/// A compiled schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Grammar {
    nodes: Vec<Node>,
    literals: Vec<Vec<u8>>,
    root: u32,
    /// The text forms to refuse, and the objects they are refused in.
    excluded: Option<Excluded>,
}

/// A prefix trie of the text forms of values to refuse (architectures already evaluated), for every object node
/// with their properties.
#[derive(Debug, Clone, PartialEq)]
struct Excluded {
    /// The object nodes the trie applies to.
    objects: Vec<u32>,
    /// Trie nodes: the root first.
    trie: Vec<TrieNode>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct TrieNode {
    /// `(byte, child)`, sorted by byte.
    children: Vec<(u8, u32)>,
    /// Whether every way on from here completes a refused text (a complete text is full).
    full: bool,
}

impl Excluded {
    fn child(&self, node: u32, b: u8) -> Option<u32> {
        let children = &self.trie[node as usize].children;
        children.binary_search_by_key(&b, |&(c, _)| c).ok().map(|i| children[i].1)
    }
}

/// A trie state: not in an object the trie applies to.
const OUTSIDE: u32 = u32::MAX;
/// A trie state: in such an object, already off every refused text.
const ESCAPED: u32 = u32::MAX - 1;

const OPEN_ARRAY: u32 = 0;
const SEPARATOR: u32 = 1;
const QUOTE: u32 = 2;
const EMPTY_OBJECT: u32 = 3;

impl Grammar {
    /// The grammar of `schema`.
    pub fn from_schema(schema: &Value) -> Result<Self, LlmError> {
        let mut g = Self {
            nodes: Vec::new(),
            literals: vec![b"[".to_vec(), b", ".to_vec(), b"\"".to_vec(), b"{}".to_vec()],
            root: 0,
            excluded: None,
        };
        g.root = g.compile(schema, "the schema", 0)?;
        Ok(g)
    }

    /// The grammar refusing `values` (JSON objects, e.g. the architectures already evaluated, as the answer's schema
    /// writes them) in every object of the schema whose properties are theirs. Values that are no
    /// such object are ignored; when every value an object may take is refused, nothing is (a reply must be
    /// possible).
    pub fn excluding(mut self, values: &[Value]) -> Self {
        let Some(first) = values.iter().find_map(Value::as_object) else { return self };
        let mut wanted: Vec<&String> = first.keys().collect();
        wanted.sort();
        let objects: Vec<u32> = (0..self.nodes.len())
            .filter(|&i| match &self.nodes[i] {
                Node::Object { keys, .. } => {
                    let mut keys: Vec<&String> = keys.iter().collect();
                    keys.sort();
                    keys == wanted
                }
                _ => false,
            })
            .map(|i| u32::try_from(i).expect("few nodes"))
            .collect();
        let Some(&object) = objects.first() else { return self };
        // The trie, with the matcher's state (an object begun alone) at every node.
        let start = {
            let mut m = Matcher::empty();
            m.push(Frame::Node { id: object });
            m
        };
        let mut trie = vec![TrieNode::default()];
        let mut states = vec![start];
        for value in values {
            let Some(text) = self.text_of(object, value) else { continue };
            let mut check = start;
            if !text.iter().all(|&b| check.step(&self, b)) || !check.done() {
                continue;
            }
            let (mut node, mut m) = (0u32, start);
            for &b in &text {
                m.step(&self, b);
                let children = &trie[node as usize].children;
                node = match children.binary_search_by_key(&b, |&(c, _)| c) {
                    Ok(i) => children[i].1,
                    Err(i) => {
                        let id = u32::try_from(trie.len()).expect("a trie of fewer than 2^32 nodes");
                        trie[node as usize].children.insert(i, (b, id));
                        trie.push(TrieNode::default());
                        states.push(m);
                        id
                    }
                };
            }
        }
        // Full nodes, children before parents (a child's id is above its parent's).
        for (n, &m) in states.iter().enumerate().rev() {
            trie[n].full = m.done()
                || (0..=255u8).all(|b| {
                    let mut next = m;
                    !next.step(&self, b)
                        || trie[n]
                            .children
                            .binary_search_by_key(&b, |&(c, _)| c)
                            .is_ok_and(|i| trie[trie[n].children[i].1 as usize].full)
                });
        }
        if trie.len() > 1 && !trie[0].full {
            self.excluded = Some(Excluded { objects, trie });
        }
        self
    }

    /// The text of `value` as object `id` is written (`{"key": value, ...}`), if it has the object's properties.
    fn text_of(&self, id: u32, value: &Value) -> Option<Vec<u8>> {
        let Node::Object { parts, close, keys } = &self.nodes[id as usize] else { return None };
        let object = value.as_object()?;
        if object.len() != parts.len() {
            return None;
        }
        let mut out = Vec::new();
        for (&(prefix, _), key) in parts.iter().zip(keys) {
            let v = object.get(key)?;
            out.extend_from_slice(&self.literals[prefix as usize]);
            out.extend_from_slice(serde_json::to_string(v).ok()?.as_bytes());
        }
        out.extend_from_slice(&self.literals[*close as usize]);
        Some(out)
    }

    fn literal(&mut self, text: String) -> u32 {
        self.literals.push(text.into_bytes());
        u32::try_from(self.literals.len() - 1).expect("few literals")
    }

    fn node(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        u32::try_from(self.nodes.len() - 1).expect("few nodes")
    }

    fn compile(&mut self, schema: &Value, at: &str, depth: usize) -> Result<u32, LlmError> {
        let bad = |m: String| Err(LlmError::Settings(format!("the local model cannot constrain {at}: {m}")));
        if depth > 6 {
            return bad("it is nested too deeply".into());
        }
        let Some(object) = schema.as_object() else { return bad(format!("`{schema}` is not a schema")) };
        if let Some(options) = object.get("enum") {
            let Some(options) = options.as_array().filter(|o| !o.is_empty()) else {
                return bad("its `enum` is not a list of values".into());
            };
            let mut texts: Vec<Vec<u8>> = Vec::new();
            for o in options {
                if o.is_object() || o.is_array() {
                    return bad(format!("enum value `{o}` is not a number, string or boolean"));
                }
                let text = serde_json::to_string(o).expect("values serialize").into_bytes();
                if !texts.contains(&text) {
                    texts.push(text);
                }
            }
            return Ok(self.node(Node::Enum { options: texts }));
        }
        let kind = object.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "object" => {
                let properties = object.get("properties").and_then(Value::as_object);
                // In the order of `required` (the dimensions' order: a JSON map may have sorted the properties),
                // then any others.
                let required: Vec<&str> = object
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut ordered: Vec<(&String, &Value)> = Vec::new();
                for name in &required {
                    if let Some((key, sub)) = properties.and_then(|p| p.get_key_value(*name)) {
                        ordered.push((key, sub));
                    }
                }
                ordered.extend(properties.into_iter().flatten().filter(|(k, _)| !required.contains(&k.as_str())));
                let mut parts = Vec::new();
                let keys: Vec<String> = ordered.iter().map(|(k, _)| (*k).clone()).collect();
                for (i, (key, sub)) in ordered.into_iter().enumerate() {
                    let value = self.compile(sub, &format!("property `{key}`"), depth + 1)?;
                    let key = serde_json::to_string(key).expect("strings serialize");
                    let prefix = self.literal(if i == 0 { format!("{{{key}: ") } else { format!(", {key}: ") });
                    parts.push((prefix, value));
                }
                let close = if parts.is_empty() { EMPTY_OBJECT } else { self.literal("}".into()) };
                Ok(self.node(Node::Object { parts, close, keys }))
            }
            "array" => {
                let Some(items) = object.get("items") else { return bad("an array without `items`".into()) };
                let item = self.compile(items, &format!("the items of {at}"), depth + 1)?;
                let count = |k: &str| object.get(k).and_then(Value::as_u64).map(|n| n as usize);
                let min = count("minItems").unwrap_or(1);
                let max = count("maxItems").unwrap_or(MAX_ITEMS.max(min));
                if min > max {
                    return bad(format!("minItems {min} is above maxItems {max}"));
                }
                let (min, max) = (u32::try_from(min).unwrap_or(u32::MAX), u32::try_from(max).unwrap_or(u32::MAX));
                Ok(self.node(Node::Array { item, min, max }))
            }
            "string" => {
                let max =
                    object.get("maxLength").and_then(Value::as_u64).map_or(MAX_TEXT, |n| (n as usize).min(MAX_TEXT));
                Ok(self.node(Node::Text { max: u32::try_from(max).expect("bounded") }))
            }
            "boolean" => Ok(self.node(Node::Enum { options: vec![b"true".to_vec(), b"false".to_vec()] })),
            "" => bad("it has neither `type` nor `enum`".into()),
            other => bad(format!("type `{other}` without an `enum` is not supported (give its values as an enum)")),
        }
    }

    /// A matcher at the start of an answer.
    pub fn start(&self) -> Matcher {
        let mut m = Matcher::empty();
        m.push(Frame::Node { id: self.root });
        m
    }

    /// How many texts are refused (the architectures masked), for the record.
    pub fn refused(&self) -> usize {
        self.excluded.as_ref().map_or(0, |e| e.trie.iter().filter(|n| n.children.is_empty()).count())
    }
}

/// What is being matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// An unused slot.
    Done,
    /// Byte `pos` of literal `id`.
    Lit { id: u32, pos: u32 },
    /// Node `id`, not begun.
    Node { id: u32 },
    /// Object `id`, its part `next` to come.
    Obj { id: u32, next: u32 },
    /// Array `id` after its `[`, with `count` items.
    Arr { id: u32, count: u32 },
    /// Enum `id`: `len` bytes of option `opt` (and of every option sharing them) matched.
    Enum { id: u32, opt: u32, len: u32 },
    /// Inside string `id`, `count` bytes in.
    Text { id: u32, count: u32 },
}

/// How far into the grammar a reply has come. It is small and `Copy`: trying a token is copying it and feeding the
/// token's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matcher {
    stack: [Frame; DEPTH],
    len: usize,
    /// The trie state of the refused texts ([`OUTSIDE`], [`ESCAPED`], or a trie node).
    trie: u32,
    /// The stack's length with the object the trie follows on top.
    trie_depth: usize,
}

/// A byte that may appear inside a constrained free-text string.
pub fn plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

impl Matcher {
    const fn empty() -> Self {
        Self { stack: [Frame::Done; DEPTH], len: 0, trie: OUTSIDE, trie_depth: 0 }
    }

    fn push(&mut self, f: Frame) -> bool {
        if self.len == DEPTH {
            return false;
        }
        self.stack[self.len] = f;
        self.len += 1;
        true
    }

    fn set(&mut self, f: Frame) {
        self.stack[self.len - 1] = f;
    }

    fn pop(&mut self) {
        self.len -= 1;
    }

    /// Whether the answer is complete.
    pub fn done(&self) -> bool {
        self.len == 0
    }

    /// Inside a free-text string: how many more plain bytes it takes (any plain bytes up to that many are accepted,
    /// and a `"` closes it). `None` elsewhere.
    pub fn text_room(&self, g: &Grammar) -> Option<usize> {
        if self.trie != OUTSIDE {
            return None;
        }
        match self.stack[..self.len].last()? {
            &Frame::Text { id, count } => {
                let Node::Text { max } = g.nodes[id as usize] else { unreachable!("a string") };
                Some((max - count) as usize)
            }
            _ => None,
        }
    }

    /// Takes byte `b`, or says it cannot come next (and may then be left changed: feed a copy to try).
    pub fn feed(&mut self, g: &Grammar, b: u8) -> bool {
        let Some(excluded) = &g.excluded else { return self.step(g, b) };
        if !self.step(g, b) {
            return false;
        }
        if self.trie != OUTSIDE && self.trie != ESCAPED {
            match excluded.child(self.trie, b) {
                Some(c) if excluded.trie[c as usize].full => return false,
                Some(c) => self.trie = c,
                None => self.trie = ESCAPED,
            }
        }
        if self.trie != OUTSIDE && self.len < self.trie_depth {
            self.trie = OUTSIDE;
        }
        true
    }

    /// [`Matcher::feed`] without the refused texts.
    fn step(&mut self, g: &Grammar, b: u8) -> bool {
        loop {
            if self.len == 0 {
                return false;
            }
            match self.stack[self.len - 1] {
                Frame::Done => return false,
                Frame::Lit { id, pos } => {
                    let lit = &g.literals[id as usize];
                    if lit[pos as usize] != b {
                        return false;
                    }
                    if pos as usize + 1 == lit.len() {
                        self.pop();
                    } else {
                        self.set(Frame::Lit { id, pos: pos + 1 });
                    }
                    return true;
                }
                Frame::Node { id } => match &g.nodes[id as usize] {
                    Node::Object { .. } => {
                        self.set(Frame::Obj { id, next: 0 });
                        if self.trie == OUTSIDE && g.excluded.as_ref().is_some_and(|e| e.objects.contains(&id)) {
                            self.trie = 0;
                            self.trie_depth = self.len;
                        }
                    }
                    Node::Array { .. } => {
                        self.set(Frame::Arr { id, count: 0 });
                        if !self.push(Frame::Lit { id: OPEN_ARRAY, pos: 0 }) {
                            return false;
                        }
                    }
                    Node::Enum { .. } => self.set(Frame::Enum { id, opt: 0, len: 0 }),
                    Node::Text { .. } => {
                        self.set(Frame::Text { id, count: 0 });
                        if !self.push(Frame::Lit { id: QUOTE, pos: 0 }) {
                            return false;
                        }
                    }
                },
                Frame::Obj { id, next } => {
                    let Node::Object { parts, close, .. } = &g.nodes[id as usize] else { unreachable!("an object") };
                    match parts.get(next as usize) {
                        Some(&(prefix, value)) => {
                            self.set(Frame::Obj { id, next: next + 1 });
                            if !(self.push(Frame::Node { id: value }) && self.push(Frame::Lit { id: prefix, pos: 0 })) {
                                return false;
                            }
                        }
                        None => self.set(Frame::Lit { id: *close, pos: 0 }),
                    }
                }
                Frame::Arr { id, count } => {
                    let Node::Array { item, min, max } = g.nodes[id as usize] else { unreachable!("an array") };
                    if b == b']' && count >= min {
                        self.pop();
                        return true;
                    }
                    if count == 0 && max > 0 {
                        self.set(Frame::Arr { id, count: 1 });
                        if !self.push(Frame::Node { id: item }) {
                            return false;
                        }
                    } else if b == b',' && count > 0 && count < max {
                        self.set(Frame::Arr { id, count: count + 1 });
                        if !(self.push(Frame::Node { id: item }) && self.push(Frame::Lit { id: SEPARATOR, pos: 0 })) {
                            return false;
                        }
                    } else {
                        return false;
                    }
                }
                Frame::Enum { id, opt, len } => {
                    let Node::Enum { options } = &g.nodes[id as usize] else { unreachable!("an enum") };
                    let (l, prefix) = (len as usize, &options[opt as usize][..len as usize]);
                    let next = options.iter().position(|o| o.len() > l && &o[..l] == prefix && o[l] == b);
                    if let Some(j) = next {
                        let matched = &options[j][..=l];
                        let longer = options.iter().any(|o| o.len() > l + 1 && &o[..=l] == matched);
                        if options[j].len() == l + 1 && !longer {
                            self.pop();
                        } else {
                            self.set(Frame::Enum { id, opt: u32::try_from(j).expect("few options"), len: len + 1 });
                        }
                        return true;
                    }
                    if options[opt as usize].len() == l && l > 0 {
                        // Complete: `b` belongs to what follows.
                        self.pop();
                        continue;
                    }
                    return false;
                }
                Frame::Text { id, count } => {
                    let Node::Text { max } = g.nodes[id as usize] else { unreachable!("a string") };
                    if b == b'"' {
                        self.pop();
                        return true;
                    }
                    if count < max && plain(b) {
                        self.set(Frame::Text { id, count: count + 1 });
                        return true;
                    }
                    return false;
                }
            }
        }
    }

    /// Whether `bytes` may come next.
    pub fn accepts(&self, g: &Grammar, bytes: &[u8]) -> bool {
        let mut m = *self;
        !bytes.is_empty() && bytes.iter().all(|&b| m.feed(g, b))
    }

    /// The bytes that may come next.
    pub fn next_bytes(&self, g: &Grammar) -> Vec<u8> {
        (0..=255u8).filter(|&b| self.accepts(g, &[b])).collect()
    }

    /// The bytes that must come next, whatever the model prefers (up to the next choice), fed.
    pub fn force(&mut self, g: &Grammar) -> Vec<u8> {
        let mut out = Vec::new();
        while !self.done() {
            let next = self.next_bytes(g);
            if next.len() != 1 {
                break;
            }
            self.feed(g, next[0]);
            out.push(next[0]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use genius_core::Notation;
    use genius_core::testing::ToySpace;
    use serde_json::json;

    use super::*;
    use crate::{reply, schema};

    fn feed_all(g: &Grammar, m: &mut Matcher, text: &str) -> bool {
        text.bytes().all(|b| m.feed(g, b))
    }

    #[test]
    fn an_answer_is_forced_but_for_its_values() {
        let s = schema::answer(&ToySpace::new(), Notation::Labels, 1, false);
        let g = Grammar::from_schema(&s.schema).unwrap();
        let mut m = g.start();
        assert_eq!(String::from_utf8(m.force(&g)).unwrap(), r#"{"architecture": {"depth": "#);
        assert_eq!(m.next_bytes(&g), b"123");
        assert!(m.feed(&g, b'2'));
        assert_eq!(String::from_utf8(m.force(&g)).unwrap(), r#", "width": "#);
        assert_eq!(m.next_bytes(&g), b"1368");
        assert!(!m.accepts(&g, b"7"));
        assert!(m.accepts(&g, b"16"));
        assert!(feed_all(&g, &mut m, "64"));
        assert_eq!(String::from_utf8(m.force(&g)).unwrap(), r#", "op": ""#);
        assert!(m.accepts(&g, b"conv\"}}"));
        assert!(!m.accepts(&g, b"con\""));
        assert!(feed_all(&g, &mut m, "pool"));
        assert_eq!(String::from_utf8(m.force(&g)).unwrap(), "\"}}");
        assert!(m.done());
        assert!(!m.accepts(&g, b" "));
    }

    #[test]
    fn numbers_that_prefix_others_wait_for_what_follows() {
        let g = Grammar::from_schema(&json!({"type": "object", "properties": {"a": {"enum": [1, 16, 2]}}})).unwrap();
        let mut m = g.start();
        m.force(&g);
        assert!(m.feed(&g, b'1'));
        assert_eq!(m.next_bytes(&g), b"6}");
        let mut two = g.start();
        two.force(&g);
        assert!(two.feed(&g, b'2'));
        assert_eq!(String::from_utf8(two.force(&g)).unwrap(), "}");
        assert!(feed_all(&g, &mut m, "}") && m.done());
    }

    #[test]
    fn every_answer_the_matcher_accepts_parses_to_a_valid_architecture() {
        let space = ToySpace::new();
        for (notation, k, analysis) in [(Notation::Choices, 1, true), (Notation::Labels, 3, false)] {
            let s = schema::answer(&space, notation, k, analysis);
            let g = Grammar::from_schema(&s.schema).unwrap();
            // Walk the grammar taking the last allowed byte each time (the longest options, the most items).
            let mut m = g.start();
            let mut text = Vec::new();
            while !m.done() {
                text.extend(m.force(&g));
                if m.done() {
                    break;
                }
                let next = m.next_bytes(&g);
                let b = if next.contains(&b'"') { b'"' } else { *next.iter().rfind(|&&b| b != b']').unwrap() };
                assert!(m.feed(&g, b));
                text.push(b);
            }
            let text = String::from_utf8(text).unwrap();
            let parsed: Value = serde_json::from_str(&text).unwrap();
            assert!(parsed.is_object(), "{text}");
            let found = reply::last_well_formed(&reply::candidates(&text, &space, notation), k);
            assert!(!found.is_empty(), "{text}");
            if k > 1 {
                assert_eq!(parsed["architectures"].as_array().unwrap().len(), MAX_ITEMS, "{text}");
            }
        }
    }

    #[test]
    fn free_text_is_bounded_plain_ascii() {
        let g = Grammar::from_schema(&json!({"type": "string", "maxLength": 5})).unwrap();
        let mut m = g.start();
        assert_eq!(m.text_room(&g), None);
        assert!(feed_all(&g, &mut m, "\"abc"));
        assert_eq!(m.text_room(&g), Some(2));
        assert!(feed_all(&g, &mut m, "de"));
        assert_eq!(m.text_room(&g), Some(0));
        assert_eq!(m.next_bytes(&g), b"\"");
        let m = g.start();
        assert!(!m.accepts(&g, "\"é".as_bytes()));
        assert!(!m.accepts(&g, b"\"a\\n"));
    }

    /// Every complete answer of `g` from `m` on, as text (for small grammars).
    fn all_answers(g: &Grammar, m: Matcher, prefix: &mut Vec<u8>, out: &mut Vec<String>) {
        if m.done() {
            out.push(String::from_utf8(prefix.clone()).unwrap());
            return;
        }
        for b in m.next_bytes(g) {
            let mut next = m;
            assert!(next.feed(g, b));
            prefix.push(b);
            all_answers(g, next, prefix, out);
            prefix.pop();
        }
    }

    #[test]
    fn excluded_architectures_are_never_written_and_never_a_dead_end() {
        let space = ToySpace::new();
        let s = schema::answer(&space, Notation::Labels, 1, false);
        let plain = Grammar::from_schema(&s.schema).unwrap();
        let mut every = Vec::new();
        all_answers(&plain, plain.start(), &mut Vec::new(), &mut every);
        assert_eq!(every.len(), 24);
        // Refuse all but one of the architectures of depth 1 (so that `depth 1` is a way in to a single answer), and
        // two of depth 2.
        let archs = |prefix: &str| -> Vec<Value> {
            every
                .iter()
                .filter(|t| t.starts_with(prefix))
                .map(|t| serde_json::from_str::<Value>(t).unwrap()["architecture"].clone())
                .collect()
        };
        let mut refused = archs(r#"{"architecture": {"depth": 1"#);
        let kept = refused.pop().unwrap();
        refused.extend(archs(r#"{"architecture": {"depth": 2, "width": 8,"#));
        let g = Grammar::from_schema(&s.schema).unwrap().excluding(&refused);
        assert_eq!(g.refused(), refused.len());
        let mut left = Vec::new();
        all_answers(&g, g.start(), &mut Vec::new(), &mut left);
        assert_eq!(left.len(), 24 - refused.len(), "{left:#?}");
        for text in &left {
            let arch = &serde_json::from_str::<Value>(text).unwrap()["architecture"];
            assert!(!refused.contains(arch), "{text}");
        }
        assert!(left.iter().any(|t| serde_json::from_str::<Value>(t).unwrap()["architecture"] == kept));
        // Byte by byte: after `depth: 1` the one way on is forced; width 8 after depth 2 is gone.
        let mut m = g.start();
        m.force(&g);
        assert!(m.feed(&g, b'1'));
        let forced = String::from_utf8(m.force(&g)).unwrap();
        assert!(forced.len() > 10 && m.done(), "{forced}");
        let mut m = g.start();
        m.force(&g);
        assert!(feed_all(&g, &mut m, "2, \"width\": "));
        assert!(!m.accepts(&g, b"8,"));
        assert!(m.accepts(&g, b"16,"));
        // Several proposals: every item is masked.
        let many = schema::answer(&space, Notation::Labels, 2, true);
        let g = Grammar::from_schema(&many.schema).unwrap().excluding(&refused);
        let mut m = g.start();
        assert!(feed_all(
            &g,
            &mut m,
            r#"{"analysis": "x", "architectures": [{"depth": 3, "width": 8, "op": "conv"}, "#
        ));
        assert!(feed_all(&g, &mut m, r#"{"depth": 2, "width": "#));
        assert!(!m.accepts(&g, b"8"));
    }

    #[test]
    fn refusing_everything_refuses_nothing_and_foreign_values_are_ignored() {
        let space = ToySpace::new();
        let s = schema::answer(&space, Notation::Choices, 1, false);
        let plain = Grammar::from_schema(&s.schema).unwrap();
        let mut every = Vec::new();
        all_answers(&plain, plain.start(), &mut Vec::new(), &mut every);
        let all: Vec<Value> =
            every.iter().map(|t| serde_json::from_str::<Value>(t).unwrap()["architecture"].clone()).collect();
        let g = Grammar::from_schema(&s.schema).unwrap().excluding(&all);
        assert_eq!(g.refused(), 0);
        assert_eq!(g, plain);
        let foreign = [json!({"depth": 9, "width": 0, "op": 0}), json!({"other": 1}), json!(3)];
        assert_eq!(Grammar::from_schema(&s.schema).unwrap().excluding(&foreign), plain);
    }

    #[test]
    fn unsupported_schemas_are_named() {
        let e = |v| Grammar::from_schema(&v).unwrap_err().to_string();
        assert!(e(json!({"type": "integer"})).contains("type `integer` without an `enum`"));
        assert!(e(json!({"type": "object", "properties": {"x": {}}})).contains("property `x`"));
        assert!(e(json!({"type": "array"})).contains("without `items`"));
    }
}
