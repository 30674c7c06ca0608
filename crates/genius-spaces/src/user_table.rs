//! Your own tabular benchmark: a CSV, JSONL or Parquet file of architectures of a [`FileSpace`] and their metrics,
//! declared in the space file's `[table]` section, as an [`Evaluator`] with ranks and the optimum like the built-in
//! tables.
//!
//! ```toml
//! [table]
//! file = "results.csv"      # relative to the space file; .csv, .jsonl or .parquet
//! search = "val_acc"        # the column the search sees
//! report = "test_acc"       # the column results are reported in [default: search]
//! held_out = ["test_acc"]   # recorded for reports, never shown to the search
//! metrics = ["latency_ms"]  # other columns the search may see
//! direction = "maximize"    # or "minimize"
//! cost = "train_seconds"    # optional: what an evaluation cost, in seconds
//! params = "params"         # optional
//! flops = "flops"           # optional
//! arch_column = "arch"      # optional: one column with the architecture in any text form, instead of a column
//!                           # per dimension
//! complete = false          # true: every architecture of the space must have a row
//! ```
//!
//! An architecture without a row is a failed trial ("no row in the table"), unless `complete = true` demands one
//! row per architecture. Ranks are among the rows of the table, by the reported metric.
//!
//! A Parquet file is read through the arrow reader, only the columns the `[table]` section names: dimension columns
//! may hold text (dictionary-encoded too, as pandas writes categoricals), integers, floating-point numbers or booleans;
//! metric, cost, params and FLOPs columns must hold integers or floating-point numbers. A 32-bit float reads as its
//! shortest decimal (`0.1`, not `0.10000000149`), as it would in a CSV file. Files may be uncompressed or compressed
//! with Snappy (pandas' and pyarrow's default), zstd (polars' default) or gzip; LZ4 and Brotli are refused with a
//! message saying so. Problems in a Parquet file name the row (1-based, the first data row is row 1) instead of the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use genius_core::{
    Architecture, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, Optimum, Rank, SearchSpace,
    SpaceExt, Visibility,
};
use serde_json::Value;

use crate::space_file::{FileSpace, TableDecl};
use crate::table::{Row, rank_rows};

/// The evaluator name of a user table.
pub const NAME: &str = crate::catalog::TABLE_EVALUATOR;

/// A problem with a user table: the file, the line or row where there is one, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), at.map(|a| format!(", {a}")).unwrap_or_default())]
pub struct UserTableError {
    /// The table file (or the space file, for a declaration problem).
    pub path: PathBuf,
    /// Where in the file, where there is one place.
    pub at: Option<Location>,
    /// What is wrong and what to do.
    pub message: String,
}

/// A place in a table file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A line of a text file (CSV or JSONL), 1-based; the header is line 1 of a CSV file.
    Line(usize),
    /// A row of a Parquet file, 1-based: the first data row is row 1.
    Row(usize),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// A table of measured architectures of a file space.
pub struct UserTable {
    space: Arc<dyn SearchSpace>,
    path: PathBuf,
    spec: MetricSpec,
    index: HashMap<Architecture, usize>,
    archs: Vec<Architecture>,
    rows: Vec<Row>,
    ranks: Vec<u32>,
    optimum: usize,
    settings: Value,
}

impl std::fmt::Debug for UserTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTable")
            .field("path", &self.path)
            .field("space", &self.space.name())
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// One record of the file: where it is and its cells by column.
struct Record {
    at: Location,
    cells: HashMap<String, Value>,
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<(Vec<String>, Vec<Record>), UserTableError> {
    let err = |line: Option<usize>, message: String| UserTableError {
        path: path.to_owned(),
        at: line.map(Location::Line),
        message,
    };
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| err(Some(1), format!("cannot read the header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut records = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            err(line, format!("not a CSV record: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cells = headers.iter().cloned().zip(record.iter().map(|c| Value::String(c.to_owned()))).collect();
        records.push(Record { at: Location::Line(line), cells });
    }
    Ok((headers, records))
}

fn read_jsonl(path: &Path, text: &str) -> Result<(Vec<String>, Vec<Record>), UserTableError> {
    let mut columns: Vec<String> = Vec::new();
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: serde_json::Map<String, Value> = serde_json::from_str(line).map_err(|e| UserTableError {
            path: path.to_owned(),
            at: Some(Location::Line(i + 1)),
            message: format!("not a JSON object: {e}"),
        })?;
        for key in cells.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        records.push(Record { at: Location::Line(i + 1), cells: cells.into_iter().collect() });
    }
    Ok((columns, records))
}

/// Reads the `wanted` columns of a Parquet file (those missing are left to the caller to report); every one in
/// `numeric` must hold numbers. Returns every column's name and the records.
fn read_parquet(
    path: &Path,
    file: std::fs::File,
    wanted: &[String],
    numeric: &[String],
) -> Result<(Vec<String>, Vec<Record>), UserTableError> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let err = |message: String| UserTableError { path: path.to_owned(), at: None, message };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| err(format!("not a Parquet file the arrow reader can read: {e}")))?;
    let schema = builder.schema().clone();
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut picked = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        if !wanted.contains(field.name()) {
            continue;
        }
        let t = field.data_type();
        if numeric.contains(field.name()) && !is_number_type(t) {
            return Err(err(format!(
                "column `{}` holds {t} values, but it is a metric (or cost, params, flops) column: store it as \
                 integers or floating-point numbers",
                field.name()
            )));
        }
        if !is_cell_type(t) {
            return Err(err(format!(
                "column `{}` holds {t} values; a table column holds text, integers, floating-point numbers or \
                 booleans",
                field.name()
            )));
        }
        picked.push(i);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), picked);
    let reader = builder.with_projection(mask).build().map_err(|e| err(format!("cannot read it: {e}")))?;
    let mut records = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| {
            let hint = if e.to_string().contains("Disabled feature") {
                "; genius reads Parquet files uncompressed or compressed with Snappy, zstd or gzip: write it again \
                 with compression=\"snappy\" (pandas' and pyarrow's default) or \"zstd\" (polars')"
            } else {
                ""
            };
            err(format!("cannot read its rows after row {}: {e}{hint}", records.len()))
        })?;
        let mut cells: Vec<HashMap<String, Value>> = vec![HashMap::new(); batch.num_rows()];
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            let values = cells_of(array.as_ref())
                .map_err(|t| err(format!("column `{}` holds {t} values, which a table cannot hold", field.name())))?;
            for (row, v) in cells.iter_mut().zip(values) {
                row.insert(field.name().clone(), v);
            }
        }
        for row in cells {
            records.push(Record { at: Location::Row(records.len() + 1), cells: row });
        }
    }
    Ok((columns, records))
}

fn is_number_type(t: &arrow_schema::DataType) -> bool {
    use arrow_schema::DataType as T;
    matches!(
        t,
        T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::UInt64
            | T::Float32
            | T::Float64
    )
}

fn is_cell_type(t: &arrow_schema::DataType) -> bool {
    use arrow_schema::DataType as T;
    match t {
        T::Utf8 | T::LargeUtf8 | T::Utf8View | T::Boolean | T::Null => true,
        T::Dictionary(_, values) => is_cell_type(values),
        t => is_number_type(t),
    }
}

/// The cells of an arrow column as the values a CSV or JSONL file would give (a null is [`Value::Null`]); `Err` is
/// the type of a column that holds something else.
fn cells_of(array: &dyn arrow_array::Array) -> Result<Vec<Value>, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{
        Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
        UInt64Type,
    };
    use arrow_schema::DataType as T;

    fn each<A: arrow_array::Array + ?Sized>(array: &A, cell: impl Fn(usize) -> Value) -> Vec<Value> {
        (0..array.len()).map(|i| if array.is_null(i) { Value::Null } else { cell(i) }).collect()
    }
    fn float(x: f64) -> Value {
        serde_json::Number::from_f64(x).map_or_else(|| Value::String(x.to_string()), Value::Number)
    }
    macro_rules! int {
        ($t:ty) => {{
            let a = array.as_primitive::<$t>();
            each(a, |i| Value::from(a.value(i)))
        }};
    }
    Ok(match array.data_type() {
        T::Null => vec![Value::Null; array.len()],
        T::Utf8 => {
            let a = array.as_string::<i32>();
            each(a, |i| Value::String(a.value(i).to_owned()))
        }
        T::LargeUtf8 => {
            let a = array.as_string::<i64>();
            each(a, |i| Value::String(a.value(i).to_owned()))
        }
        T::Utf8View => {
            let a = array.as_string_view();
            each(a, |i| Value::String(a.value(i).to_owned()))
        }
        T::Boolean => {
            let a = array.as_boolean();
            each(a, |i| Value::Bool(a.value(i)))
        }
        T::Int8 => int!(Int8Type),
        T::Int16 => int!(Int16Type),
        T::Int32 => int!(Int32Type),
        T::Int64 => int!(Int64Type),
        T::UInt8 => int!(UInt8Type),
        T::UInt16 => int!(UInt16Type),
        T::UInt32 => int!(UInt32Type),
        T::UInt64 => int!(UInt64Type),
        // The shortest decimal that reads back as the same f32, as a CSV file would hold it, not its f64 widening.
        T::Float32 => {
            let a = array.as_primitive::<Float32Type>();
            each(a, |i| a.value(i).to_string().parse::<f64>().map_or_else(|_| Value::Null, float))
        }
        T::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            each(a, |i| float(a.value(i)))
        }
        T::Dictionary(..) => {
            let d = array.as_any_dictionary();
            let values = cells_of(d.values().as_ref())?;
            let keys = d.normalized_keys();
            each(d, |i| values[keys[i]].clone())
        }
        other => return Err(other.to_string()),
    })
}

/// A cell as the label it stands for (`64`, `relu`, `0.001`).
fn label_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.as_i64().map_or_else(|| n.as_f64().unwrap_or(f64::NAN).to_string(), |i| i.to_string()),
        other => other.to_string(),
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

impl UserTable {
    /// Loads the table `space`'s file declares. Every problem names the file, the line and the column.
    pub fn load(space: Arc<FileSpace>) -> Result<Self, UserTableError> {
        let decl: TableDecl = space.table().cloned().ok_or_else(|| UserTableError {
            path: space.path().to_owned(),
            at: None,
            message: "the space file has no [table] section to look architectures up in".into(),
        })?;
        let path = space.table_path().expect("the file has a table");
        let spec = metric_spec(&decl);
        spec.check().map_err(|message| UserTableError { path: space.path().to_owned(), at: None, message })?;
        let dims = space.dimensions();
        let arch_columns: Vec<String> = match &decl.arch_column {
            Some(c) => vec![c.clone()],
            None => dims.iter().map(|d| d.name.clone()).collect(),
        };
        let numeric: Vec<String> = spec
            .metrics
            .iter()
            .map(|m| m.name.clone())
            .chain([&decl.cost, &decl.params, &decl.flops].into_iter().flatten().cloned())
            .collect();
        let cannot_read = |e: std::io::Error| UserTableError {
            path: path.clone(),
            at: None,
            message: format!("cannot read the table declared in {}: {e}", space.path().display()),
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        let (columns, records) = match ext.as_str() {
            "csv" => read_csv(&path, &std::fs::read(&path).map_err(cannot_read)?)?,
            "jsonl" | "ndjson" => {
                let text = String::from_utf8(std::fs::read(&path).map_err(cannot_read)?).map_err(|e| {
                    UserTableError { path: path.clone(), at: None, message: format!("not UTF-8 text: {e}") }
                })?;
                read_jsonl(&path, &text)?
            }
            "parquet" | "pq" => {
                let file = std::fs::File::open(&path).map_err(cannot_read)?;
                let wanted: Vec<String> = arch_columns.iter().chain(&numeric).cloned().collect();
                read_parquet(&path, file, &wanted, &numeric)?
            }
            _ => {
                return Err(UserTableError {
                    path: path.clone(),
                    at: None,
                    message: "a table is a .csv, a .jsonl or a .parquet file; rename it or convert it".into(),
                });
            }
        };
        if records.is_empty() {
            return Err(UserTableError { path, at: None, message: "the table has no rows".into() });
        }
        for column in arch_columns.iter().chain(&numeric) {
            if !columns.contains(column) {
                return Err(UserTableError {
                    path: path.clone(),
                    at: None,
                    message: format!(
                        "column `{column}` (declared in {}) does not exist; the columns are: {}",
                        space.path().display(),
                        columns.join(", ")
                    ),
                });
            }
        }
        let space_dyn: Arc<dyn SearchSpace> = space.clone();
        let mut index = HashMap::new();
        let mut archs = Vec::new();
        let mut rows = Vec::new();
        let mut places = Vec::new();
        for record in &records {
            let err = |message: String| UserTableError { path: path.clone(), at: Some(record.at), message };
            let cell = |column: &str| record.cells.get(column).filter(|v| !v.is_null() && !label_of(v).is_empty());
            let arch = match &decl.arch_column {
                Some(c) => {
                    let text = cell(c).ok_or_else(|| err(format!("column `{c}` is empty")))?;
                    space.parse(&label_of(text)).map_err(|e| err(format!("not an architecture of the space: {e}")))?
                }
                None => {
                    let mut choices = Vec::with_capacity(dims.len());
                    for d in dims {
                        let v = cell(&d.name).ok_or_else(|| err(format!("column `{}` is empty", d.name)))?;
                        let label = label_of(v);
                        let found = crate::space_file::option_index(d, &label);
                        let c = found.ok_or_else(|| {
                            err(format!(
                                "`{label}` in column `{}` is not an option of that dimension, so the row is not an \
                                 architecture of the space; options: {}",
                                d.name,
                                d.options.join(", ")
                            ))
                        })?;
                        choices.push(c as u16);
                    }
                    Architecture::new(choices)
                }
            };
            space
                .check(&arch)
                .map_err(|v| err(format!("{} breaks the space's constraint: {v}", space.format(&arch))))?;
            let mut values = Vec::with_capacity(spec.metrics.len());
            for m in &spec.metrics {
                let v = cell(&m.name).ok_or_else(|| err(format!("column `{}` is empty", m.name)))?;
                values.push(
                    number_of(v)
                        .ok_or_else(|| err(format!("column `{}`: `{}` is not a number", m.name, label_of(v))))?,
                );
            }
            let optional = |column: &Option<String>| -> Result<Option<f64>, UserTableError> {
                let Some(c) = column else { return Ok(None) };
                let Some(v) = cell(c) else { return Ok(None) };
                number_of(v).map(Some).ok_or_else(|| err(format!("column `{c}`: `{}` is not a number", label_of(v))))
            };
            let row = Row {
                values,
                cost_s: optional(&decl.cost)?,
                params: optional(&decl.params)?.map(|x| x as u64),
                flops: optional(&decl.flops)?.map(|x| x as u64),
                details: None,
            };
            if let Some(&first) = index.get(&arch) {
                return Err(err(format!("{} already has a row, on {}", space.format(&arch), places[first])));
            }
            index.insert(arch.clone(), rows.len());
            archs.push(arch);
            rows.push(row);
            places.push(record.at);
        }
        if decl.complete && (rows.len() as u128) < space_dyn.cardinality() {
            let first = space_dyn.enumerate().find(|a| !index.contains_key(a)).expect("one is missing");
            return Err(UserTableError {
                path,
                at: None,
                message: format!(
                    "`complete = true`, but {} of the {} architectures have no row (the first is {})",
                    space_dyn.cardinality() - rows.len() as u128,
                    space_dyn.cardinality(),
                    space.format(&first)
                ),
            });
        }
        let (ranks, optimum) = rank_rows(&spec, &rows);
        let settings = serde_json::json!({ "space_file": space.path(), "table": path });
        Ok(Self { space: space_dyn, path, spec, index, archs, rows, ranks, optimum, settings })
    }

    /// The table file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many architectures have a row.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no row (never true for a loaded table).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The architectures with a row, in file order.
    pub fn architectures(&self) -> &[Architecture] {
        &self.archs
    }

    /// The full evaluation of `arch` (held-out metrics included), `None` when it has no row.
    pub fn lookup(&self, arch: &Architecture) -> Option<Evaluation> {
        let &i = self.index.get(arch)?;
        let row = &self.rows[i];
        Some(Evaluation {
            metrics: self.spec.metrics.iter().zip(&row.values).map(|(m, v)| (m.name.clone(), *v)).collect(),
            params: row.params,
            flops: row.flops,
            cost_s: row.cost_s,
            rank: Some(Rank { rank: u64::from(self.ranks[i]), of: self.rows.len() as u64 }),
            details: None,
        })
    }
}

/// The metrics a `[table]` section declares: the searched column, the reported one, the held-out ones and the others.
pub fn metric_spec(decl: &TableDecl) -> MetricSpec {
    let direction = decl.direction.unwrap_or(Direction::Maximize);
    let report = decl.report.clone().unwrap_or_else(|| decl.search.clone());
    let mut names = vec![decl.search.clone()];
    for n in std::iter::once(&report).chain(&decl.held_out).chain(&decl.metrics) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let metrics = names
        .into_iter()
        .map(|name| {
            let held = decl.held_out.contains(&name);
            Metric {
                description: if held {
                    format!("column `{name}` of the user table, held out from the search")
                } else {
                    format!("column `{name}` of the user table")
                },
                name,
                direction,
                visibility: if held { Visibility::Reported } else { Visibility::Search },
            }
        })
        .collect();
    MetricSpec { metrics, search: decl.search.clone(), report }
}

#[async_trait]
impl Evaluator for UserTable {
    fn name(&self) -> &str {
        NAME
    }

    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }

    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        self.space.validate(arch).map_err(|e| EvalError::Failed(e.to_string()))?;
        self.lookup(arch).ok_or_else(|| {
            EvalError::Failed(format!("{} has no row in the table {}", self.space.format(arch), self.path.display()))
        })
    }

    fn optimum(&self) -> Option<Optimum> {
        let report = self.spec.metrics.iter().position(|m| m.name == self.spec.report)?;
        Some(Optimum { arch: self.archs[self.optimum].clone(), value: self.rows[self.optimum].values[report] })
    }

    fn settings(&self) -> Value {
        self.settings.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int8Type;
    use arrow_array::{ArrayRef, DictionaryArray, Float32Array, ListArray};
    use serde_json::{Value, json};

    use super::{cells_of, label_of, number_of};

    #[test]
    fn arrow_cells_read_as_a_csv_file_would_hold_them() {
        // A 32-bit 0.001 is 0.0010000000474974513 widened to f64; its label must still match the option `0.001`.
        let floats: ArrayRef = Arc::new(Float32Array::from(vec![Some(0.001), None, Some(86.5), Some(f32::NAN)]));
        let cells = cells_of(floats.as_ref()).unwrap();
        let labels: Vec<String> = cells.iter().map(label_of).collect();
        assert_eq!(labels[0], "0.001");
        assert_eq!((&cells[1], number_of(&cells[2])), (&Value::Null, Some(86.5)));
        assert_eq!(number_of(&cells[3]), None, "NaN is not a number a table holds");

        let dict: DictionaryArray<Int8Type> =
            vec![Some("relu"), None, Some("tanh"), Some("relu")].into_iter().collect();
        let cells = cells_of(&dict).unwrap();
        assert_eq!(cells, [json!("relu"), Value::Null, json!("tanh"), json!("relu")]);

        let list = ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>([Some(vec![Some(1)])]);
        assert_eq!(cells_of(&list).unwrap_err(), "List(Int32)");
    }
}
