//! Evaluators combined: the metrics of several evaluators of one space merged into one evaluation, so that a search
//! can take its accuracy from a table and its latency from a measurement on this machine (`parts = ["table",
//! "latency"]`), or any other pair. Written once here, generic over the evaluators, so that plug-in crates never
//! depend on each other: a program lists [`entry`] with the catalog of the evaluators it combines.
//!
//! The first part leads: its search and reported metrics are the combination's defaults, its rank and optimum are
//! the combination's, and its `params` and `flops` come first. The parts are evaluated one after another, the first
//! first, so a failed look-up costs no measurement; a metric named by two parts is refused when the combination is
//! built.
//!
//! ```
//! use std::sync::Arc;
//! use genius_core::combine::Combined;
//! use genius_core::testing::ToyTable;
//!
//! // Two evaluators that report the same metric cannot be merged: the message names the metric and both parts.
//! let err = Combined::new(vec![Arc::new(ToyTable::new()), Arc::new(ToyTable::new())]).unwrap_err();
//! assert!(err.contains("`val_acc`"), "{err}");
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::catalog::{BuildContext, BuildError, Catalog, Entry, Evaluators, Resource, Setting, SettingKind};
use crate::{Architecture, EvalError, Evaluation, Evaluator, MetricSpec, Optimum};

/// The combining evaluator's name in the catalog and in run logs.
pub const NAME: &str = "combine";

/// The combining evaluator's settings, as `genius evaluators combine` prints them.
pub const SETTINGS: &[Setting] = &[Setting::new(
    "parts",
    SettingKind::List,
    "",
    "the evaluators merged, the leading one first: names, or tables { name = \"latency\", settings = { ... } }",
)];

/// Several evaluators of one space as one: every metric of every part in one [`Evaluation`].
pub struct Combined {
    parts: Vec<Arc<dyn Evaluator>>,
    spec: MetricSpec,
}

impl std::fmt::Debug for Combined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Combined").field("parts", &self.parts.iter().map(|p| p.name()).collect::<Vec<_>>()).finish()
    }
}

impl Combined {
    /// The combination of `parts`, the leading one first. `Err` says what is wrong: no part, or a metric reported by
    /// two parts.
    pub fn new(parts: Vec<Arc<dyn Evaluator>>) -> Result<Self, String> {
        let first = parts.first().ok_or("combine: name at least one evaluator in `parts`")?;
        let mut spec = MetricSpec {
            metrics: Vec::new(),
            search: first.metrics().search.clone(),
            report: first.metrics().report.clone(),
        };
        let mut owner: BTreeMap<String, &str> = BTreeMap::new();
        for part in &parts {
            for metric in &part.metrics().metrics {
                if let Some(other) = owner.insert(metric.name.clone(), part.name()) {
                    return Err(format!(
                        "combine: metric `{}` is reported by both `{other}` and `{}`; combine evaluators whose \
                         metrics differ",
                        metric.name,
                        part.name()
                    ));
                }
                spec.metrics.push(metric.clone());
            }
        }
        Ok(Self { parts, spec })
    }

    /// The parts, the leading one first.
    pub fn parts(&self) -> &[Arc<dyn Evaluator>] {
        &self.parts
    }
}

/// Merges `next` into `merged`: its metrics added, `params` and `flops` kept where known already, costs summed,
/// details kept under the part's name.
fn merge(merged: &mut Evaluation, part: &str, next: Evaluation) {
    merged.metrics.extend(next.metrics);
    merged.params = merged.params.or(next.params);
    merged.flops = merged.flops.or(next.flops);
    merged.cost_s = match (merged.cost_s, next.cost_s) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    merged.rank = merged.rank.or(next.rank);
    if let Some(details) = next.details {
        let all = merged.details.get_or_insert_with(|| serde_json::json!({}));
        if let Some(map) = all.as_object_mut() {
            let mut key = part.to_owned();
            let mut n = 2;
            while map.contains_key(&key) {
                key = format!("{part}#{n}");
                n += 1;
            }
            map.insert(key, details);
        }
    }
}

#[async_trait]
impl Evaluator for Combined {
    fn name(&self) -> &str {
        NAME
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        let mut merged = Evaluation::default();
        for part in &self.parts {
            let next = part.evaluate(arch).await?;
            merge(&mut merged, part.name(), next);
        }
        Ok(merged)
    }

    fn optimum(&self) -> Option<Optimum> {
        self.parts[0].optimum()
    }

    /// `{"parts": [{"name": ..., "settings": ...}, ...]}`: what [`entry`] builds again on a resume.
    fn settings(&self) -> serde_json::Value {
        let parts: Vec<serde_json::Value> = self
            .parts
            .iter()
            .map(|p| match p.settings() {
                serde_json::Value::Null => serde_json::json!({ "name": p.name() }),
                settings => serde_json::json!({ "name": p.name(), "settings": settings }),
            })
            .collect();
        serde_json::json!({ "parts": parts })
    }
}

/// One part as the settings name it.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    name: String,
    settings: serde_json::Value,
}

/// The parts `settings` name: `parts` is a list of names or of `{ name, settings }` tables.
fn parts(settings: &serde_json::Value) -> Result<Vec<Part>, BuildError> {
    let bad = |m: String| BuildError::Settings(format!("{NAME}: {m}"));
    let object = match settings {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => {
            return Err(bad("name the evaluators to merge: parts = [\"table\", \"latency\"]".into()));
        }
        other => return Err(bad(format!("settings must be a table, not {other}"))),
    };
    if let Some(key) = object.keys().find(|k| *k != "parts") {
        return Err(bad(format!(
            "unknown setting `{key}`; give a part its settings in `parts`: {{ name = \"...\", settings = {{ {key} = ... }} }}"
        )));
    }
    let list = match object.get("parts") {
        Some(serde_json::Value::Array(list)) if !list.is_empty() => list,
        Some(serde_json::Value::Array(_)) | None => {
            return Err(bad("name the evaluators to merge: parts = [\"table\", \"latency\"]".into()));
        }
        Some(other) => return Err(bad(format!("`parts` must be a list, not {other}"))),
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| match item {
            serde_json::Value::String(name) => Ok(Part { name: name.clone(), settings: serde_json::json!({}) }),
            serde_json::Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| *k != "name" && *k != "settings") {
                    return Err(bad(format!("part {}: unknown key `{key}`; a part has `name` and `settings`", i + 1)));
                }
                let name = map.get("name").and_then(|n| n.as_str()).ok_or_else(|| {
                    bad(format!(
                        "part {} has no `name` (e.g. {{ name = \"latency\", settings = {{ runs = 5 }} }})",
                        i + 1
                    ))
                })?;
                Ok(Part {
                    name: name.to_owned(),
                    settings: map.get("settings").cloned().unwrap_or_else(|| serde_json::json!({})),
                })
            }
            other => Err(bad(format!("part {} must be a name or a table, not {other}", i + 1))),
        })
        .collect()
}

/// The settings of `names` combined with their default settings, e.g. for `--evaluator table+latency`.
pub fn settings_of(names: &[&str]) -> serde_json::Value {
    serde_json::json!({ "parts": names })
}

/// The combining evaluator as a catalog entry, building its parts from `evaluators` (the catalog of the evaluators
/// there are; a program lists this entry after them). A part built once per run
/// ([`Entry::with_per_run`]) cannot be combined.
pub fn entry(evaluators: Catalog<Evaluators>) -> Entry<Evaluators> {
    let (for_build, for_check, for_resources, for_warnings) =
        (evaluators.clone(), evaluators.clone(), evaluators.clone(), evaluators);
    Entry::new(
        NAME,
        "merge the metrics of several evaluators (e.g. accuracy from a table, latency measured on this machine)",
        move |settings, context: &BuildContext<'_>| {
            let mut built = Vec::new();
            for part in parts(&settings)? {
                let entry = checked(&for_build, &part)?;
                built.push(entry.build(part.settings, context).map_err(|e| in_part(&part.name, e))?);
            }
            Ok(Arc::new(Combined::new(built).map_err(BuildError::Settings)?) as Arc<dyn Evaluator>)
        },
    )
    .with_settings(SETTINGS)
    .with_check(move |settings| {
        for part in parts(&settings)? {
            checked(&for_check, &part)?.check(part.settings.clone()).map_err(|e| in_part(&part.name, e))?;
        }
        Ok(())
    })
    .with_resources(move |settings, context| {
        let mut all: Vec<Resource> = Vec::new();
        for part in parts(settings)? {
            for r in checked(&for_resources, &part)?
                .resources(&part.settings, context)
                .map_err(|e| in_part(&part.name, e))?
            {
                if !all.contains(&r) {
                    all.push(r);
                }
            }
        }
        Ok(all)
    })
    .with_warnings(move |settings| {
        let Ok(parts) = parts(settings) else { return Vec::new() };
        parts.iter().filter_map(|p| for_warnings.get(&p.name).map(|e| e.warnings(&p.settings))).flatten().collect()
    })
}

/// The entry of `part`, which must not be the combination itself nor one built per run.
fn checked<'c>(evaluators: &'c Catalog<Evaluators>, part: &Part) -> Result<&'c Entry<Evaluators>, BuildError> {
    if part.name == NAME {
        return Err(BuildError::Settings(format!("{NAME}: a part cannot be `{NAME}` itself; list its parts instead")));
    }
    let entry = evaluators.find(&part.name).map_err(|e| BuildError::Settings(format!("{NAME}: {e}")))?;
    if entry.per_run() {
        return Err(BuildError::Settings(format!(
            "{NAME}: `{}` keeps files per run and cannot be combined; use it alone",
            part.name
        )));
    }
    Ok(entry)
}

fn in_part(name: &str, e: BuildError) -> BuildError {
    match e {
        BuildError::Settings(m) => BuildError::Settings(format!("{NAME}: part `{name}`: {m}")),
        BuildError::Failed(m) => BuildError::Failed(format!("{NAME}: part `{name}`: {m}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ToySpace, ToyTable};
    use crate::{Direction, Metric, SearchSpace, SpaceExt, Visibility};

    /// A second evaluator of the toy space: one metric, the architecture's first choice plus one.
    struct Cost(MetricSpec);

    impl Cost {
        fn new() -> Self {
            let metric = Metric {
                name: "cost".into(),
                direction: Direction::Minimize,
                visibility: Visibility::Search,
                description: "first choice + 1".into(),
            };
            Self(MetricSpec { metrics: vec![metric], search: "cost".into(), report: "cost".into() })
        }
    }

    #[async_trait]
    impl Evaluator for Cost {
        fn name(&self) -> &str {
            "cost"
        }
        fn metrics(&self) -> &MetricSpec {
            &self.0
        }
        async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
            let v = arch.choices()[0] as f64 + 1.0;
            Ok(Evaluation {
                metrics: [("cost".to_owned(), v)].into(),
                flops: Some(999),
                cost_s: Some(0.5),
                details: Some(serde_json::json!({ "machine": "toy" })),
                ..Evaluation::default()
            })
        }
        fn settings(&self) -> serde_json::Value {
            serde_json::json!({ "runs": 3 })
        }
    }

    fn catalog() -> Catalog<Evaluators> {
        let mut c = Catalog::<Evaluators>::with([
            Entry::new("toy", "a table", |_, _| Ok(Arc::new(ToyTable::new()) as Arc<dyn Evaluator>)),
            Entry::new("cost", "a cost", |_, _| Ok(Arc::new(Cost::new()) as Arc<dyn Evaluator>)).with_check(
                |s| match s.as_object().and_then(|m| m.keys().next().cloned()) {
                    Some(key) => Err(BuildError::Settings(format!("cost: unknown setting `{key}`"))),
                    None => Ok(()),
                },
            ),
            Entry::new("files", "per run", |_, _| Ok(Arc::new(ToyTable::new()) as Arc<dyn Evaluator>)).with_per_run(),
        ]);
        let entry = entry(c.clone());
        c.add([entry]);
        c
    }

    #[tokio::test]
    async fn the_metrics_of_every_part_are_merged_the_first_leading() {
        let space = Arc::new(ToySpace::new());
        let c = catalog();
        let context = BuildContext::new("toy", 0, std::path::Path::new("."));
        let combined = c.build(NAME, serde_json::json!({"parts": ["toy", {"name": "cost"}]}), &context).unwrap();
        assert_eq!(combined.metrics().search, ToyTable::new().metrics().search);
        let names: Vec<&str> = combined.metrics().metrics.iter().map(|m| m.name.as_str()).collect();
        assert!(names.contains(&"cost") && names.contains(&"val_acc"), "{names:?}");
        let arch = space.arch_at(7);
        assert_ne!(arch.choices(), [0, 0, 1], "not the toy table's failing design");
        let alone = ToyTable::new().evaluate(&arch).await.unwrap();
        let both = combined.evaluate(&arch).await.unwrap();
        for (k, v) in &alone.metrics {
            assert_eq!(both.metrics[k], *v, "{k}");
        }
        assert_eq!(both.metrics["cost"], arch.choices()[0] as f64 + 1.0);
        // The leading part's facts first; costs add up; details by part.
        assert_eq!(both.flops, alone.flops.or(Some(999)));
        assert_eq!(both.cost_s, Some(alone.cost_s.unwrap_or(0.0) + 0.5));
        assert_eq!(both.details.as_ref().unwrap()["cost"]["machine"], "toy");
        assert_eq!(both.rank, alone.rank);
        assert_eq!(combined.optimum(), ToyTable::new().optimum());
        // The recorded settings build the same combination again.
        let recorded = combined.settings();
        assert_eq!(recorded["parts"][1], serde_json::json!({"name": "cost", "settings": {"runs": 3}}));
        assert_eq!(space.name(), "toy");
    }

    #[test]
    fn bad_parts_are_named() {
        let c = catalog();
        let entry = c.find(NAME).unwrap();
        let err = |s: serde_json::Value| entry.check(s).unwrap_err().to_string();
        assert!(err(serde_json::json!({})).contains("parts = [\"table\", \"latency\"]"));
        assert!(err(serde_json::json!({"parts": ["toy", "nope"]})).contains("unknown evaluator `nope`"));
        assert!(err(serde_json::json!({"parts": ["toy", "files"]})).contains("`files` keeps files per run"));
        assert!(err(serde_json::json!({"parts": [NAME]})).contains("cannot be `combine` itself"));
        assert!(err(serde_json::json!({"parts": ["toy"], "runs": 3})).contains("unknown setting `runs`"));
        assert!(err(serde_json::json!({"parts": [{"settings": {}}]})).contains("part 1 has no `name`"));
        let e = err(serde_json::json!({"parts": ["toy", {"name": "cost", "settings": {"x": 1}}]}));
        assert!(e.contains("part `cost`"), "{e}");
        let context = BuildContext::new("toy", 0, std::path::Path::new("."));
        let e = entry.build(serde_json::json!({"parts": ["toy", "toy"]}), &context).err().unwrap().to_string();
        assert!(e.contains("reported by both `toy-table` and `toy-table`"), "{e}");
    }
}
