//! Search spaces: categorical product spaces of named dimensions, with an optional validity constraint.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::{Architecture, SearchRng, SpaceBrief};

/// Uniform draws [`SearchSpace::sample_feasible`] tries by default before it gives up.
pub const FEASIBLE_DRAWS: usize = 100_000;

/// One searchable decision: a name and the labels of its options, in choice-index order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    /// What is decided, e.g. `layer 3` or `edge 1<-0`.
    pub name: String,
    /// The label of each option, e.g. `["Identity", "MB e3 k3", "MB e6 k5"]`.
    pub options: Vec<String>,
}

impl Dimension {
    /// A dimension with the given name and option labels.
    pub fn new(name: impl Into<String>, options: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { name: name.into(), options: options.into_iter().map(Into::into).collect() }
    }

    /// The number of options.
    pub fn len(&self) -> usize {
        self.options.len()
    }

    /// Whether the dimension has no option (such a space is empty).
    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }
}

/// A text that is not an architecture of a space, or a choice vector that does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a {space} architecture: {reason}")]
pub struct ParseError {
    /// The space's name.
    pub space: String,
    /// The offending input (shortened when long).
    pub input: String,
    /// What is wrong and what was expected.
    pub reason: String,
}

impl ParseError {
    /// An error for `input` in `space`, saying `reason`.
    pub fn new(space: &str, input: &str, reason: impl Into<String>) -> Self {
        const MAX: usize = 120;
        let input = if input.chars().count() > MAX {
            format!("{}…", input.chars().take(MAX).collect::<String>())
        } else {
            input.to_owned()
        };
        Self { space: space.to_owned(), input, reason: reason.into() }
    }
}

/// An architecture that lies in the product space but breaks the space's constraint (e.g. a FLOPs window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Violation {
    /// What is violated, with the measured value and the allowed range, e.g.
    /// `312.4 MFLOPs is outside the window [270, 300] MFLOPs`.
    pub message: String,
}

/// A search space: a product of categorical [`Dimension`]s, a canonical text form, and an optional constraint.
///
/// Implementors give the dimensions and, when their text form is not the default one, [`format`](Self::format) and
/// [`parse`](Self::parse). Sampling, mutation, neighbours, cardinality and enumeration come for free from
/// [`SpaceExt`], which every space (and `dyn SearchSpace`) implements.
///
/// The default text form writes the choice indices as a digit string (`02012100`) when every dimension has at most
/// ten options, else as a list (`[0, 12, 3]`); the default parser accepts either, and lists of option labels too.
pub trait SearchSpace: std::any::Any + Send + Sync {
    /// The name used on the command line and in run logs, e.g. `nas-bench-macro`.
    fn name(&self) -> &str;

    /// The dimensions, in choice order.
    fn dimensions(&self) -> &[Dimension];

    /// The canonical text form of `arch`, which [`parse`](Self::parse) reads back.
    fn format(&self, arch: &Architecture) -> String {
        default_format(self.dimensions(), arch)
    }

    /// Reads an architecture from any text form the space knows.
    fn parse(&self, text: &str) -> Result<Architecture, ParseError> {
        default_parse(self.name(), self.dimensions(), text)
    }

    /// Checks the space's constraint, if it has one. `arch` is already known to lie in the product space.
    fn check(&self, _arch: &Architecture) -> Result<(), Violation> {
        Ok(())
    }

    /// Whether the space has a constraint that [`check`](Self::check) may reject.
    fn is_constrained(&self) -> bool {
        false
    }

    /// The representative of the architectures whose networks are the same as `arch`'s (e.g. a skip moved within a
    /// stage of identical layers); the default is `arch` itself. Two architectures with the same canonical form are
    /// the same network: GENIUS answered such a proposal as "already being tested".
    fn canonical(&self, arch: &Architecture) -> Architecture {
        arch.clone()
    }

    /// The FLOPs of `arch`'s network as the space states them in prompts and judges its constraint by: at the
    /// space's own input resolution and class count, in whole MFLOPs (GENIUS's logs state 330, not 330.24 nor the
    /// FLOPs of a proxy training at another resolution). `None` where the space has no such figure.
    fn stated_mflops(&self, _arch: &Architecture) -> Option<u64> {
        None
    }

    /// A random architecture that meets the constraint; `None` when none was found. The default draws uniformly from
    /// the product space until [`check`](Self::check) accepts (at most [`FEASIBLE_DRAWS`] draws). A space whose
    /// constraint rejects nearly every uniform draw (a narrow FLOPs window) overrides it with a direct sampler,
    /// ideally uniform over the feasible architectures: optimizers draw every random proposal from here.
    fn sample_feasible(&self, rng: &mut SearchRng) -> Option<Architecture> {
        if self.is_constrained() { self.sample_valid(rng, FEASIBLE_DRAWS) } else { Some(self.sample(rng)) }
    }

    /// How the space describes itself to a language model; `None` when it has no such description (then an LLM
    /// optimizer cannot search it).
    fn brief(&self) -> Option<SpaceBrief> {
        None
    }

    /// The network `arch` stands for, with a classifier for `classes` classes, for training it for real (a trainer
    /// turns the description into a module of its tensor library); `None` when the space has no such network. The
    /// description's parameter and FLOPs counts are the space's own ([`Network::params`](crate::network::Network::params)).
    fn network(&self, _arch: &Architecture, _classes: usize) -> Option<crate::network::Network> {
        None
    }
}

/// Operations every search space gets from its dimensions (and its constraint).
pub trait SpaceExt: SearchSpace {
    /// The number of architectures in the product space (saturating at `u128::MAX`), ignoring the constraint.
    fn cardinality(&self) -> u128 {
        self.dimensions().iter().fold(1u128, |acc, d| acc.saturating_mul(d.len() as u128))
    }

    /// Checks that `arch` has one choice per dimension, each in range. The constraint is not checked.
    fn validate(&self, arch: &Architecture) -> Result<(), ParseError> {
        let dims = self.dimensions();
        if arch.len() != dims.len() {
            return Err(ParseError::new(
                self.name(),
                &format!("{:?}", arch.choices()),
                format!("expected {} choices, found {}", dims.len(), arch.len()),
            ));
        }
        for (i, (d, &c)) in dims.iter().zip(arch.choices()).enumerate() {
            if usize::from(c) >= d.len() {
                return Err(ParseError::new(
                    self.name(),
                    &format!("{:?}", arch.choices()),
                    format!("choice {c} of dimension {i} ({}) is out of range 0..{}", d.name, d.len()),
                ));
            }
        }
        Ok(())
    }

    /// Whether `arch` lies in the space and meets its constraint.
    fn is_valid(&self, arch: &Architecture) -> bool {
        self.validate(arch).is_ok() && self.check(arch).is_ok()
    }

    /// A uniformly random architecture of the product space (the constraint is ignored).
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Architecture {
        let choices = self.dimensions().iter().map(|d| rng.random_range(0..d.len() as u16)).collect::<Vec<_>>();
        Architecture::new(choices)
    }

    /// A uniformly random architecture that meets the constraint, by rejection; `None` after `max_tries` failures.
    fn sample_valid<R: Rng + ?Sized>(&self, rng: &mut R, max_tries: usize) -> Option<Architecture> {
        (0..max_tries).map(|_| self.sample(rng)).find(|a| self.check(a).is_ok())
    }

    /// A copy of `arch` with exactly one dimension (chosen uniformly among those with two or more options) set to a
    /// different option, chosen uniformly. An architecture of a space with no such dimension is returned unchanged.
    /// The constraint is not checked.
    fn mutate<R: Rng + ?Sized>(&self, arch: &Architecture, rng: &mut R) -> Architecture {
        let mutable: Vec<usize> =
            self.dimensions().iter().enumerate().filter(|(_, d)| d.len() > 1).map(|(i, _)| i).collect();
        if mutable.is_empty() {
            return arch.clone();
        }
        let dim = mutable[rng.random_range(0..mutable.len())];
        let n = self.dimensions()[dim].len() as u16;
        let current = arch.choices()[dim];
        let mut choice = rng.random_range(0..n - 1);
        if choice >= current {
            choice += 1;
        }
        arch.with_choice(dim, choice)
    }

    /// Every architecture that differs from `arch` in exactly one dimension, in dimension then option order.
    /// The constraint is not checked.
    fn neighbours(&self, arch: &Architecture) -> Vec<Architecture> {
        let mut out = Vec::new();
        for (dim, d) in self.dimensions().iter().enumerate() {
            for option in 0..d.len() as u16 {
                if option != arch.choices()[dim] {
                    out.push(arch.with_choice(dim, option));
                }
            }
        }
        out
    }

    /// The position of `arch` in the lexicographic enumeration of the product space (the first dimension varies
    /// slowest). `arch` must be valid for the space.
    fn index_of(&self, arch: &Architecture) -> u128 {
        self.dimensions().iter().zip(arch.choices()).fold(0u128, |acc, (d, &c)| acc * d.len() as u128 + u128::from(c))
    }

    /// The architecture at position `index` of the lexicographic enumeration; `index` must be below
    /// [`cardinality`](Self::cardinality).
    fn arch_at(&self, mut index: u128) -> Architecture {
        let dims = self.dimensions();
        let mut choices = vec![0u16; dims.len()];
        for (slot, d) in choices.iter_mut().zip(dims).rev() {
            let n = d.len() as u128;
            *slot = (index % n) as u16;
            index /= n;
        }
        Architecture::new(choices)
    }

    /// Every architecture of the product space, in lexicographic order (the constraint is ignored). Only sensible
    /// for small spaces: check [`cardinality`](Self::cardinality) first.
    fn enumerate(&self) -> impl Iterator<Item = Architecture> + '_ {
        let total = if self.dimensions().iter().any(Dimension::is_empty) { 0 } else { self.cardinality() };
        (0..total).map(move |i| self.arch_at(i))
    }
}

impl<S: SearchSpace + ?Sized> SpaceExt for S {}

/// The default text form: a digit string when every dimension has at most ten options, else a list of indices.
pub fn default_format(dims: &[Dimension], arch: &Architecture) -> String {
    if dims.iter().all(|d| d.len() <= 10) {
        arch.choices().iter().map(|c| char::from_digit(u32::from(*c), 10).unwrap_or('?')).collect()
    } else {
        let parts: Vec<String> = arch.choices().iter().map(u16::to_string).collect();
        format!("[{}]", parts.join(", "))
    }
}

/// The default parser: a digit string (`0201`), a list of indices (`[0, 2, 0, 1]`, brackets and separators
/// optional), or a list of option labels (`["Identity", "MB e3 k3", ...]`).
pub fn default_parse(space: &str, dims: &[Dimension], text: &str) -> Result<Architecture, ParseError> {
    let trimmed = text.trim();
    let err = |reason: String| ParseError::new(space, trimmed, reason);
    let body = trimmed.trim_start_matches(['[', '(']).trim_end_matches([']', ')']).trim();
    let items: Vec<&str> = if dims.len() > 1 && !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) {
        body.char_indices().map(|(i, c)| &body[i..i + c.len_utf8()]).collect()
    } else {
        body.split([',', ' ', ';']).map(|s| s.trim().trim_matches(['"', '\''])).filter(|s| !s.is_empty()).collect()
    };
    if items.len() != dims.len() {
        return Err(err(format!("expected {} choices, found {}", dims.len(), items.len())));
    }
    let mut choices = Vec::with_capacity(dims.len());
    for (i, (item, d)) in items.iter().zip(dims).enumerate() {
        let choice = match item.parse::<usize>() {
            Ok(c) if c < d.len() => c,
            Ok(c) => {
                return Err(err(format!("choice {c} of dimension {i} ({}) is out of range 0..{}", d.name, d.len())));
            }
            Err(_) => d.options.iter().position(|o| o.eq_ignore_ascii_case(item)).ok_or_else(|| {
                err(format!(
                    "`{item}` is not an option of dimension {i} ({}); options: {}",
                    d.name,
                    d.options.join(", ")
                ))
            })?,
        };
        choices.push(choice as u16);
    }
    Ok(Architecture::new(choices))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rand::SeedableRng;

    use super::*;
    use crate::SearchRng;

    struct Grid(Vec<Dimension>);
    impl SearchSpace for Grid {
        fn name(&self) -> &str {
            "grid"
        }
        fn dimensions(&self) -> &[Dimension] {
            &self.0
        }
    }

    fn grid() -> Grid {
        Grid(vec![
            Dimension::new("a", ["x", "y", "z"]),
            Dimension::new("b", ["p", "q"]),
            Dimension::new("c", ["only"]),
            Dimension::new("d", ["0", "1", "2", "3"]),
        ])
    }

    #[test]
    fn enumeration_matches_cardinality_and_index_round_trips() {
        let space = grid();
        let all: Vec<_> = space.enumerate().collect();
        assert_eq!(all.len() as u128, space.cardinality());
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
        for (i, a) in all.iter().enumerate() {
            assert_eq!(space.index_of(a), i as u128);
            assert_eq!(&space.arch_at(i as u128), a);
        }
        assert!(all.windows(2).all(|w| w[0] < w[1]), "lexicographic order");
    }

    #[test]
    fn mutation_changes_exactly_one_mutable_dimension() {
        let space = grid();
        let mut rng = SearchRng::seed_from_u64(7);
        for _ in 0..500 {
            let a = space.sample(&mut rng);
            let b = space.mutate(&a, &mut rng);
            space.validate(&b).unwrap();
            let diff: Vec<usize> = (0..a.len()).filter(|&i| a.choice(i) != b.choice(i)).collect();
            assert_eq!(diff.len(), 1);
            assert_ne!(diff[0], 2, "a one-option dimension cannot change");
        }
    }

    #[test]
    fn neighbours_are_all_one_step_changes() {
        let space = grid();
        let a = Architecture::new(vec![1, 0, 0, 3]);
        let n = space.neighbours(&a);
        assert_eq!(n.len(), 2 + 1 + 3);
        assert!(n.iter().all(|b| (0..4).filter(|&i| a.choice(i) != b.choice(i)).count() == 1));
    }

    #[test]
    fn default_text_form_round_trips_and_accepts_labels() {
        let space = grid();
        for a in space.enumerate() {
            assert_eq!(space.parse(&space.format(&a)).unwrap(), a);
        }
        assert_eq!(space.parse("[2, 1, 0, 3]").unwrap().choices(), &[2, 1, 0, 3]);
        assert_eq!(space.parse("['z', \"q\", only, 3]").unwrap().choices(), &[2, 1, 0, 3]);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let space = grid();
        let e = space.parse("210").unwrap_err();
        assert!(e.to_string().contains("expected 4 choices, found 3"), "{e}");
        let e = space.parse("2113").unwrap_err();
        assert!(e.to_string().contains("choice 1 of dimension 2 (c) is out of range 0..1"), "{e}");
        let e = space.parse("[w, p, only, 0]").unwrap_err();
        assert!(e.to_string().contains("`w` is not an option of dimension 0 (a)"), "{e}");
        let e = space.validate(&Architecture::new(vec![0, 0, 0])).unwrap_err();
        assert!(e.to_string().contains("expected 4 choices"), "{e}");
    }

    #[test]
    fn feasible_samples_meet_the_constraint() {
        let space: Box<dyn SearchSpace> = Box::new(crate::testing::ToySpace::constrained());
        let mut rng = SearchRng::seed_from_u64(2);
        for _ in 0..200 {
            let a = space.sample_feasible(&mut rng).unwrap();
            assert!(space.is_valid(&a), "{a:?}");
        }
        let mut unconstrained = SearchRng::seed_from_u64(2);
        let mut uniform = SearchRng::seed_from_u64(2);
        assert_eq!(grid().sample_feasible(&mut unconstrained), Some(grid().sample(&mut uniform)));
    }

    #[test]
    fn dyn_spaces_get_the_extension_methods() {
        let space: Box<dyn SearchSpace> = Box::new(grid());
        let mut rng = SearchRng::seed_from_u64(1);
        let a = space.sample(&mut rng);
        assert!(space.is_valid(&a));
        assert_eq!(space.cardinality(), 24);
    }
}
