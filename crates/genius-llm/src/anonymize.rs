//! The contamination probe (`anonymize = true`): the prompts hide the names of the benchmark and its dataset, and
//! the operations are listed under other ids, so that a model that has memorised a benchmark's good architectures
//! (as lists of operation ids) cannot recall them. Replies are read in the shown ids and mapped back. Comparing a
//! model's results with and without it tells whether they depend on having seen the benchmark.

use genius_core::{Architecture, Notation, SearchSpace, SpaceBrief};

/// Names the prompts do not say, longest first, and what is said instead.
const NAMES: &[(&str, &str)] = &[
    ("channel-bench-macro", "the benchmark"),
    ("nas-bench-macro", "the benchmark"),
    ("nas-bench-201", "the benchmark"),
    ("channel-bench", "the benchmark"),
    ("nas-bench", "the benchmark"),
    ("imagenet16-120", "the dataset"),
    ("imagenet-16-120", "the dataset"),
    ("cifar-100", "the dataset"),
    ("cifar100", "the dataset"),
    ("cifar-10", "the dataset"),
    ("cifar10", "the dataset"),
    ("imagenet", "the dataset"),
    ("fashion-mnist", "the dataset"),
    ("mnist", "the dataset"),
];

/// `text` with every benchmark and dataset name (in any case) replaced.
pub fn scrub(text: &str) -> String {
    let mut out = text.to_owned();
    for (name, instead) in NAMES {
        let mut from = 0;
        while let Some(at) = out.to_ascii_lowercase()[from..].find(name).map(|p| p + from) {
            out.replace_range(at..at + name.len(), instead);
            from = at + instead.len();
        }
    }
    out
}

/// How operation ids are shown: each real id `r` of a space whose positions all choose among the same `n`
/// operations is shown as `(r + 1) mod n`, so that no id keeps its meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disguise {
    n: u16,
}

impl Disguise {
    /// The disguise for `space` written in `notation`: operation ids shuffled where every position chooses among the
    /// same operations by id (`None` otherwise: channel counts and mixed positions keep their values, and only the
    /// names are hidden).
    pub fn for_space(space: &dyn SearchSpace, notation: Notation) -> Option<Self> {
        let dims = space.dimensions();
        let first = dims.first()?;
        let uniform = dims.iter().all(|d| d.options == first.options);
        (notation == Notation::Choices && uniform && first.len() > 1)
            .then(|| Self { n: u16::try_from(first.len()).unwrap_or(u16::MAX) })
    }

    /// The id shown for the real id `real`.
    pub fn shown_id(&self, real: u16) -> u16 {
        (real + 1) % self.n
    }

    /// `arch` as shown.
    pub fn show(&self, arch: &Architecture) -> Architecture {
        Architecture::new(arch.choices().iter().map(|&c| self.shown_id(c)).collect::<Vec<_>>())
    }

    /// The real architecture of one written in shown ids.
    pub fn real(&self, shown: &Architecture) -> Architecture {
        Architecture::new(shown.choices().iter().map(|&c| (c + self.n - 1) % self.n).collect::<Vec<_>>())
    }

    /// The brief with its operations listed under their shown ids (in that order) and every list of one value per
    /// operation (a table of FLOPs by operation id) reordered alike.
    pub fn brief(&self, mut brief: SpaceBrief) -> SpaceBrief {
        let n = usize::from(self.n);
        let mut listed: Vec<(u16, String)> = Vec::new();
        for line in &brief.operations {
            let Some((id, rest)) = line.split_once(':') else { return brief };
            let Ok(real) = id.trim().parse::<u16>() else { return brief };
            listed.push((self.shown_id(real), rest.to_owned()));
        }
        listed.sort_by_key(|(id, _)| *id);
        brief.operations = listed.into_iter().map(|(id, rest)| format!("{id}:{rest}")).collect();
        for table in &mut brief.tables {
            let values: Option<Vec<&str>> = table
                .text
                .trim()
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .map(|t| t.split(',').map(str::trim).collect());
            if let Some(values) = values.filter(|v| v.len() == n) {
                let mut shown = vec![""; n];
                for (real, v) in values.into_iter().enumerate() {
                    shown[usize::from(self.shown_id(real as u16))] = v;
                }
                table.text = format!("[{}]", shown.join(", "));
            }
        }
        brief
    }
}

/// The brief with every name hidden.
pub fn scrub_brief(mut brief: SpaceBrief) -> SpaceBrief {
    brief.task = scrub(&brief.task);
    brief.operations = brief.operations.iter().map(|l| scrub(l)).collect();
    brief.notes = brief.notes.iter().map(|l| scrub(l)).collect();
    brief.layout = scrub(&brief.layout);
    brief.answer_format = scrub(&brief.answer_format);
    for table in &mut brief.tables {
        table.title = scrub(&table.title);
        table.text = scrub(&table.text);
    }
    brief
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_hidden_in_any_case() {
        assert_eq!(
            scrub("Trained on CIFAR-10 (NAS-Bench-201), like cifar100 and ImageNet16-120."),
            "Trained on the dataset (the benchmark), like the dataset and the dataset."
        );
    }

    #[test]
    fn shown_ids_map_back() {
        let d = Disguise { n: 5 };
        let arch = Architecture::new(vec![0, 1, 2, 3, 4, 4]);
        assert_eq!(d.show(&arch).choices(), &[1, 2, 3, 4, 0, 0]);
        assert_eq!(d.real(&d.show(&arch)), arch);
    }
}
