//! Prompt material: how a space describes itself to a language model, and how architectures are written in
//! prompts and replies. It belongs to the space (which knows its network), not to the LLM crate (which must not
//! depend on any space); the LLM optimizer renders it into messages with its templates.

use serde::{Deserialize, Serialize};

use crate::{Architecture, SearchSpace};

/// How architectures are written in prompts, and read back from replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notation {
    /// A list of choice indices, one per dimension: `[0, 2, 0, 1]` (operation ids, as GENIUS writes them).
    #[default]
    Choices,
    /// A list of option labels, one per dimension: `[64, 576, 576, 256]` (channel counts).
    Labels,
    /// The space's canonical text form ([`SearchSpace::format`]).
    Canonical,
}

impl Notation {
    /// `arch` written in this notation.
    pub fn write(self, space: &dyn SearchSpace, arch: &Architecture) -> String {
        match self {
            Self::Choices => {
                let items: Vec<String> = arch.choices().iter().map(u16::to_string).collect();
                format!("[{}]", items.join(", "))
            }
            Self::Labels => {
                let dims = space.dimensions();
                let items: Vec<&str> =
                    arch.choices().iter().zip(dims).map(|(&c, d)| d.options[usize::from(c)].as_str()).collect();
                format!("[{}]", items.join(", "))
            }
            Self::Canonical => space.format(arch),
        }
    }
}

/// A titled block of reference text for the prompt (e.g. the FLOPs of each operation in each stage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BriefTable {
    /// Its title.
    pub title: String,
    /// Its text, as it should appear in the prompt.
    pub text: String,
}

/// What a language model is told about a search space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceBrief {
    /// What the networks are trained for, e.g. `The model will be trained and tested on CIFAR-10`.
    pub task: String,
    /// What each position chooses from: one line per operation (`0: Identity(...)`), or per dimension where the
    /// options differ between positions (channel counts).
    pub operations: Vec<String>,
    /// Remarks on the operations (how an identity changes shape, what a skip does).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The network: its fixed and searchable layers, in text.
    pub layout: String,
    /// How architectures are written in prompts and replies.
    pub notation: Notation,
    /// What a reply must hold, in words (length, allowed values), e.g. `a list of 8 integers, each 0, 1 or 2`.
    pub answer_format: String,
    /// An example architecture in `notation`.
    pub example: String,
    /// Reference tables (FLOPs per operation and stage, ...).
    #[serde(default)]
    pub tables: Vec<BriefTable>,
    /// The chat a language model searches this space in, unless its settings say otherwise.
    #[serde(default)]
    pub dialogue: Dialogue,
}

/// The chat protocol a space asks of a language-model optimizer (GENIUS's paper used one per benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialogue {
    /// A fresh chat per query, with every result so far (constrained spaces: with their constraint's corrections).
    #[default]
    Fresh,
    /// One growing chat: a result and "recommend a new model" per query (the paper's NAS-Bench-201 protocol).
    Conversation,
}

/// The form of an answer in `notation`, elided so that it names no architecture: the first two positions, `...`,
/// and the last, as the GENIUS prompts wrote it (`[1, 2, ..., 0]`). The choices shown are fixed by position (the
/// second option, the third, and the first), never by how good they are: an example that was a whole architecture
/// would hand the model a point of the space, and a good one would hand it the answer.
///
/// A space of three or fewer dimensions is written whole with the same rule, which still says nothing about quality
/// but is a complete architecture: such spaces are too small for a prompt example to matter.
pub fn elided_example(space: &dyn SearchSpace, notation: Notation) -> String {
    let dims = space.dimensions();
    let n = dims.len();
    let choice = |i: usize, rank: usize| -> String {
        let options = &dims[i].options;
        let c = rank % options.len().max(1);
        match notation {
            Notation::Labels => options[c].clone(),
            Notation::Choices | Notation::Canonical => c.to_string(),
        }
    };
    if n <= 3 {
        let items: Vec<String> = (0..n).map(|i| choice(i, (i + 1) % 3)).collect();
        return format!("[{}]", items.join(", "));
    }
    format!("[{}, {}, ..., {}]", choice(0, 1), choice(1, 2), choice(n - 1, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dimension;

    struct Eight(Vec<Dimension>);

    impl SearchSpace for Eight {
        fn name(&self) -> &str {
            "eight"
        }
        fn dimensions(&self) -> &[Dimension] {
            &self.0
        }
    }

    #[test]
    fn the_example_is_elided_and_never_a_whole_architecture() {
        let space = Eight((0..8).map(|i| Dimension::new(format!("layer{i}"), ["32", "64", "96"])).collect());
        assert_eq!(elided_example(&space, Notation::Choices), "[1, 2, ..., 0]");
        assert_eq!(elided_example(&space, Notation::Labels), "[64, 96, ..., 32]");
        for notation in [Notation::Choices, Notation::Labels] {
            let example = elided_example(&space, notation);
            assert!(space.parse(&example).is_err(), "{example} must not read as an architecture");
        }
    }
}
