//! Tabular benchmarks as evaluators: every architecture of a space looked up in a table loaded once.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use genius_core::{
    Architecture, Direction, EvalError, Evaluation, Evaluator, MetricSpec, Optimum, Rank, SearchSpace, SpaceExt,
};

use crate::data::{DataDir, DataFile};

/// A table that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// The file is not there.
    #[error(
        "the {benchmark} table is missing: expected {path}\n  fetch it with `genius data fetch {group}` (needs \
         internet), or download it from {origin} into that path, or point --data-dir (or GENIUS_DATA_DIR) at a \
         directory holding {relative}",
        group = relative.split('/').next().unwrap_or(relative)
    )]
    Missing {
        /// The benchmark.
        benchmark: String,
        /// Where it was looked for.
        path: PathBuf,
        /// Its public origin.
        origin: String,
        /// Its path inside a data directory.
        relative: String,
    },
    /// The file could not be read.
    #[error("cannot read the {benchmark} table {path}: {cause}")]
    Io {
        /// The benchmark.
        benchmark: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The file is not the JSON it should be (truncated, damaged, or another file).
    #[error("the {benchmark} table {path} is truncated or malformed ({reason}); download it again from {origin}")]
    Malformed {
        /// The benchmark.
        benchmark: String,
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
        /// Its public origin.
        origin: String,
    },
    /// The file parses but does not hold what the benchmark should (a wrong key, a missing record).
    #[error("the {benchmark} table {path} does not have the expected contents: {reason}")]
    Schema {
        /// The benchmark.
        benchmark: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One row of a table: the metric values (in the order of the table's [`MetricSpec`]) and the model facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// One value per metric of the spec, in order.
    pub values: Vec<f64>,
    /// Trainable parameters, where the table has them.
    pub params: Option<u64>,
    /// FLOPs, where the table has them.
    pub flops: Option<u64>,
    /// Training seconds, where the table has them.
    pub cost_s: Option<f64>,
    /// Extra facts kept in the run log (per-seed accuracies).
    pub details: Option<serde_json::Value>,
}

/// Values of the reported metric closer than this to the best of a tie group share its rank.
///
/// The tables store means of float32 accuracies, so one accuracy can appear as several floats a few 1e-6 apart
/// (Channel-Bench-Macro: `93.7566655` and `93.7566630` are both 93.7567), while genuinely different accuracies, being
/// means of a few runs on test sets of at most 10,000 images, differ by at least 0.0016 points (the smallest such gap,
/// in NAS-Bench-201 CIFAR-10). Every table of this crate has no two distinct values between 1e-5 and 1e-3 apart, so
/// 1e-4 joins float noise and nothing else.
pub const TIE_TOLERANCE: f64 = 1e-4;

/// A complete benchmark table over a search space: one [`Row`] per architecture, indexed by the architecture's
/// enumeration position, with ranks by the reported metric precomputed (ties, within [`TIE_TOLERANCE`], share the
/// better rank). Lookups are O(1).
pub struct Table {
    benchmark: String,
    space: Arc<dyn SearchSpace>,
    spec: MetricSpec,
    rows: Vec<Row>,
    ranks: Vec<u32>,
    optimum: usize,
    settings: serde_json::Value,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("benchmark", &self.benchmark)
            .field("space", &self.space.name())
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Builds a table from one row per architecture of `space` in enumeration order. `settings` is recorded in run
    /// logs (the benchmark and its file).
    ///
    /// # Panics
    /// When `rows` does not have one row per architecture, or a row not one value per metric: loaders check this.
    pub fn new(
        benchmark: impl Into<String>,
        space: Arc<dyn SearchSpace>,
        spec: MetricSpec,
        rows: Vec<Row>,
        settings: serde_json::Value,
    ) -> Self {
        assert_eq!(rows.len() as u128, space.cardinality(), "one row per architecture");
        assert!(rows.iter().all(|r| r.values.len() == spec.metrics.len()), "one value per metric");
        let (ranks, optimum) = rank_rows(&spec, &rows);
        Self { benchmark: benchmark.into(), space, spec, rows, ranks, optimum, settings }
    }

    /// The benchmark's name.
    pub fn benchmark(&self) -> &str {
        &self.benchmark
    }

    /// The space the table covers.
    pub fn space(&self) -> &Arc<dyn SearchSpace> {
        &self.space
    }

    /// The row of `arch`, which must be valid for the space.
    pub fn row(&self, arch: &Architecture) -> &Row {
        &self.rows[self.space.index_of(arch) as usize]
    }

    /// Every row, in enumeration order of the space.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The value of metric `name` for every architecture, in enumeration order.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.spec.metrics.iter().position(|m| m.name == name)?;
        Some(self.rows.iter().map(|r| r.values[i]).collect())
    }

    /// The rank of `arch` by the reported metric: 1 is best, and values within [`TIE_TOLERANCE`] of the best value
    /// of their tie group share its rank.
    pub fn rank(&self, arch: &Architecture) -> Rank {
        Rank { rank: u64::from(self.ranks[self.space.index_of(arch) as usize]), of: self.rows.len() as u64 }
    }

    /// The full evaluation of `arch` (all metrics, held-out ones included).
    pub fn lookup(&self, arch: &Architecture) -> Evaluation {
        let index = self.space.index_of(arch) as usize;
        let row = &self.rows[index];
        Evaluation {
            metrics: self.spec.metrics.iter().zip(&row.values).map(|(m, v)| (m.name.clone(), *v)).collect(),
            params: row.params,
            flops: row.flops,
            cost_s: row.cost_s,
            rank: Some(Rank { rank: u64::from(self.ranks[index]), of: self.rows.len() as u64 }),
            details: row.details.clone(),
        }
    }

    /// The direction of the reported metric.
    pub fn report_direction(&self) -> Direction {
        self.spec.report_metric().direction
    }
}

#[async_trait]
impl Evaluator for Table {
    fn name(&self) -> &str {
        "table"
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        self.space.validate(arch).map_err(|e| EvalError::Failed(e.to_string()))?;
        Ok(self.lookup(arch))
    }

    fn optimum(&self) -> Option<Optimum> {
        let arch = self.space.arch_at(self.optimum as u128);
        let report = self.spec.metrics.iter().position(|m| m.name == self.spec.report)?;
        Some(Optimum { value: self.rows[self.optimum].values[report], arch })
    }

    fn settings(&self) -> serde_json::Value {
        self.settings.clone()
    }
}

/// The rank of every row by `spec`'s reported metric (ties within [`TIE_TOLERANCE`] share the better rank) and the
/// position of the best row. `rows` is not empty, and each row has one value per metric of `spec`.
pub(crate) fn rank_rows(spec: &MetricSpec, rows: &[Row]) -> (Vec<u32>, usize) {
    let report = spec.metrics.iter().position(|m| m.name == spec.report).expect("the report metric is listed");
    let direction = spec.metrics[report].direction;
    let key = |i: usize| direction.oriented(rows[i].values[report]);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
    let mut ranks = vec![0u32; rows.len()];
    let mut leader = 0;
    for (pos, &i) in order.iter().enumerate() {
        if pos == 0 || key(order[leader]) - key(i) > TIE_TOLERANCE {
            leader = pos;
        }
        ranks[i] = leader as u32 + 1;
    }
    (ranks, order[0])
}

/// Reads a table file whole: a missing file is [`TableError::Missing`] (with where to get it), any other failure
/// [`TableError::Io`].
fn read_bytes(benchmark: &str, dir: &DataDir, file: &DataFile) -> Result<(Vec<u8>, PathBuf), TableError> {
    let path = dir.file(file.relative);
    match std::fs::read(&path) {
        Ok(bytes) => Ok((bytes, path)),
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => Err(TableError::Missing {
            benchmark: benchmark.into(),
            path,
            origin: file.origin.into(),
            relative: file.relative.into(),
        }),
        Err(source) => Err(TableError::Io { benchmark: benchmark.into(), path, cause: source }),
    }
}

/// Reads and parses a JSON table file, turning every failure into a [`TableError`] that names the file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    benchmark: &str,
    dir: &DataDir,
    file: &DataFile,
) -> Result<(T, PathBuf), TableError> {
    let (bytes, path) = read_bytes(benchmark, dir, file)?;
    let parsed = serde_json::from_slice(&bytes).map_err(|e| json_error(benchmark, &path, file, e))?;
    Ok((parsed, path))
}

/// A JSON error in a table file: a record of the wrong shape is `Schema`, a syntax error or early end `Malformed`.
fn json_error(benchmark: &str, path: &Path, file: &DataFile, e: serde_json::Error) -> TableError {
    if e.is_data() {
        TableError::Schema { benchmark: benchmark.into(), path: path.to_owned(), reason: e.to_string() }
    } else {
        TableError::Malformed {
            benchmark: benchmark.into(),
            path: path.to_owned(),
            reason: e.to_string(),
            origin: file.origin.into(),
        }
    }
}

pub(crate) fn schema(benchmark: &str, path: &Path, reason: impl Into<String>) -> TableError {
    TableError::Schema { benchmark: benchmark.into(), path: path.to_owned(), reason: reason.into() }
}

/// Reads a JSON object mapping a key per architecture to a record, straight into one slot per architecture:
/// `index` turns a key into its architecture's enumeration position (or says why it cannot). Every problem is a
/// [`TableError`] naming the file: a syntax error or early end is `Malformed`, a bad key, a repeated key, a record of
/// the wrong shape or a missing architecture is `Schema`. No map of strings is built, so loading is one pass.
pub(crate) fn read_records<R: serde::de::DeserializeOwned>(
    benchmark: &str,
    dir: &DataDir,
    file: &DataFile,
    count: usize,
    index: &dyn Fn(&str) -> Result<usize, String>,
) -> Result<(Vec<R>, PathBuf), TableError> {
    let (bytes, path) = read_bytes(benchmark, dir, file)?;
    let classify = |e: serde_json::Error| json_error(benchmark, &path, file, e);
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let slots = serde::de::DeserializeSeed::deserialize(Records::<R> { count, index, marker: PhantomData }, &mut de)
        .map_err(classify)?;
    de.end().map_err(classify)?;
    let missing = slots.iter().filter(|r| r.is_none()).count();
    if missing > 0 {
        let first = slots.iter().position(Option::is_none).expect("one is missing");
        return Err(schema(
            benchmark,
            &path,
            format!(
                "{missing} of the {count} architectures have no record (the first is number {first} in enumeration order)"
            ),
        ));
    }
    Ok((slots.into_iter().map(|r| r.expect("checked")).collect(), path))
}

struct Records<'a, R> {
    count: usize,
    index: &'a dyn Fn(&str) -> Result<usize, String>,
    marker: PhantomData<R>,
}

impl<'de, R: serde::de::DeserializeOwned> serde::de::DeserializeSeed<'de> for Records<'_, R> {
    type Value = Vec<Option<R>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, R: serde::de::DeserializeOwned> serde::de::Visitor<'de> for Records<'_, R> {
    type Value = Vec<Option<R>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an object with one record per architecture")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut slots: Vec<Option<R>> = Vec::with_capacity(self.count);
        slots.resize_with(self.count, || None);
        while let Some(key) = map.next_key_seed(Key(self.index))? {
            let (i, name) = key;
            let record: R = map.next_value()?;
            if slots[i].replace(record).is_some() {
                return Err(A::Error::custom(format!("key `{name}` appears twice")));
            }
        }
        Ok(slots)
    }
}

/// A key, turned into its architecture's index as it is read.
struct Key<'a>(&'a dyn Fn(&str) -> Result<usize, String>);

impl<'de> serde::de::DeserializeSeed<'de> for Key<'_> {
    type Value = (usize, String);

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Key<'_> {
    type Value = (usize, String);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an architecture key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        match (self.0)(key) {
            // The key text is kept only for the repeated-key message; it is short.
            Ok(i) => Ok((i, key.to_owned())),
            Err(reason) => Err(E::custom(format!("key `{key}` {reason}"))),
        }
    }
}
