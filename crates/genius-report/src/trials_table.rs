//! Every trial of every run, one row each, as `trials.csv` (for spreadsheets) and `trials.parquet` (a columnar file
//! that pandas and polars load quickly, with architectures as strings: pandas reads `02111222` from the CSV as the
//! integer 2111222). Rows are written as runs are read, never held all at once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use genius_core::{Trial, TrialStatus};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::ReportError;
use crate::runs::RunMeta;

/// Rows buffered before they are written to the Parquet file as one batch.
const BATCH_ROWS: usize = 1 << 16;

/// One row: a trial of a run.
#[derive(Debug, Serialize)]
struct TrialRow<'a> {
    space: &'a str,
    optimizer: &'a str,
    ablation: &'a str,
    value: &'a str,
    seed: u64,
    trial: usize,
    ask: u64,
    arch: &'a str,
    status: &'static str,
    counted: bool,
    search_metric: &'a str,
    search_value: Option<f64>,
    report_metric: &'a str,
    report_value: Option<f64>,
    rank: Option<u64>,
    params: Option<u64>,
    flops: Option<u64>,
    duration_s: f64,
}

impl<'a> TrialRow<'a> {
    fn of(run: &'a RunMeta, t: &'a Trial) -> Self {
        let (ablation, value) = run.label.ablation.as_ref().map_or(("", ""), |a| (a.name.as_str(), a.value.as_str()));
        let eval = t.evaluation.as_ref();
        Self {
            space: &run.space,
            optimizer: &run.label.optimizer,
            ablation,
            value,
            seed: run.seed,
            trial: t.index,
            ask: t.ask,
            arch: &t.text,
            status: match t.status {
                TrialStatus::Complete => "complete",
                TrialStatus::Duplicate { .. } => "duplicate",
                TrialStatus::Failed { .. } => "failed",
                TrialStatus::Invalid { .. } => "invalid",
            },
            counted: t.counted,
            search_metric: &run.objective.metric,
            search_value: eval.and_then(|e| run.objective.value(e)),
            report_metric: &run.metrics.report,
            report_value: eval.and_then(|e| e.value(&run.metrics.report)),
            rank: eval.and_then(|e| e.rank).map(|r| r.rank),
            params: eval.and_then(|e| e.params),
            flops: eval.and_then(|e| e.flops),
            duration_s: t.duration_s,
        }
    }
}

/// The columns of a batch being filled.
struct Columns {
    space: StringBuilder,
    optimizer: StringBuilder,
    ablation: StringBuilder,
    value: StringBuilder,
    seed: UInt64Builder,
    trial: UInt64Builder,
    ask: UInt64Builder,
    arch: StringBuilder,
    status: StringBuilder,
    counted: BooleanBuilder,
    search_metric: StringBuilder,
    search_value: Float64Builder,
    report_metric: StringBuilder,
    report_value: Float64Builder,
    rank: UInt64Builder,
    params: UInt64Builder,
    flops: UInt64Builder,
    duration_s: Float64Builder,
    rows: usize,
}

impl Columns {
    fn new() -> Self {
        Self {
            space: StringBuilder::new(),
            optimizer: StringBuilder::new(),
            ablation: StringBuilder::new(),
            value: StringBuilder::new(),
            seed: UInt64Builder::new(),
            trial: UInt64Builder::new(),
            ask: UInt64Builder::new(),
            arch: StringBuilder::new(),
            status: StringBuilder::new(),
            counted: BooleanBuilder::new(),
            search_metric: StringBuilder::new(),
            search_value: Float64Builder::new(),
            report_metric: StringBuilder::new(),
            report_value: Float64Builder::new(),
            rank: UInt64Builder::new(),
            params: UInt64Builder::new(),
            flops: UInt64Builder::new(),
            duration_s: Float64Builder::new(),
            rows: 0,
        }
    }

    fn schema() -> SchemaRef {
        let text = |name| Field::new(name, DataType::Utf8, false);
        let count = |name| Field::new(name, DataType::UInt64, false);
        let maybe = |name, t| Field::new(name, t, true);
        Arc::new(Schema::new(vec![
            text("space"),
            text("optimizer"),
            text("ablation"),
            text("value"),
            count("seed"),
            count("trial"),
            count("ask"),
            text("arch"),
            text("status"),
            Field::new("counted", DataType::Boolean, false),
            text("search_metric"),
            maybe("search_value", DataType::Float64),
            text("report_metric"),
            maybe("report_value", DataType::Float64),
            maybe("rank", DataType::UInt64),
            maybe("params", DataType::UInt64),
            maybe("flops", DataType::UInt64),
            Field::new("duration_s", DataType::Float64, false),
        ]))
    }

    fn push(&mut self, r: &TrialRow<'_>) {
        self.space.append_value(r.space);
        self.optimizer.append_value(r.optimizer);
        self.ablation.append_value(r.ablation);
        self.value.append_value(r.value);
        self.seed.append_value(r.seed);
        self.trial.append_value(r.trial as u64);
        self.ask.append_value(r.ask);
        self.arch.append_value(r.arch);
        self.status.append_value(r.status);
        self.counted.append_value(r.counted);
        self.search_metric.append_value(r.search_metric);
        self.search_value.append_option(r.search_value);
        self.report_metric.append_value(r.report_metric);
        self.report_value.append_option(r.report_value);
        self.rank.append_option(r.rank);
        self.params.append_option(r.params);
        self.flops.append_option(r.flops);
        self.duration_s.append_value(r.duration_s);
        self.rows += 1;
    }

    /// The rows so far as a batch; the builders start empty again.
    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.space.finish()),
            Arc::new(self.optimizer.finish()),
            Arc::new(self.ablation.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.seed.finish()),
            Arc::new(self.trial.finish()),
            Arc::new(self.ask.finish()),
            Arc::new(self.arch.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.counted.finish()),
            Arc::new(self.search_metric.finish()),
            Arc::new(self.search_value.finish()),
            Arc::new(self.report_metric.finish()),
            Arc::new(self.report_value.finish()),
            Arc::new(self.rank.finish()),
            Arc::new(self.params.finish()),
            Arc::new(self.flops.finish()),
            Arc::new(self.duration_s.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// `trials.csv` and `trials.parquet` being written.
pub struct TrialsTable {
    csv_path: PathBuf,
    parquet_path: PathBuf,
    csv: csv::Writer<File>,
    parquet: ArrowWriter<File>,
    schema: SchemaRef,
    columns: Columns,
}

impl std::fmt::Debug for TrialsTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrialsTable").field("csv", &self.csv_path).field("parquet", &self.parquet_path).finish()
    }
}

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Csv { path: path.to_owned(), reason: e.to_string() }
}

impl TrialsTable {
    /// Creates `trials.csv` and `trials.parquet` in `dir`.
    pub fn create(dir: &Path) -> Result<Self, ReportError> {
        let csv_path = dir.join("trials.csv");
        let parquet_path = dir.join("trials.parquet");
        let csv = csv::Writer::from_path(&csv_path).map_err(|e| ReportError::csv(&csv_path, e))?;
        let file = File::create(&parquet_path).map_err(|e| ReportError::Io { path: parquet_path.clone(), cause: e })?;
        let schema = Columns::schema();
        // Row groups of a few batches: the writer holds one row group in memory until it is complete.
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(4 * BATCH_ROWS))
            .build();
        let parquet =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|e| parquet_error(&parquet_path, e))?;
        Ok(Self { csv_path, parquet_path, csv, parquet, schema, columns: Columns::new() })
    }

    /// Writes a trial of `run`.
    pub fn push(&mut self, run: &RunMeta, trial: &Trial) -> Result<(), ReportError> {
        let row = TrialRow::of(run, trial);
        self.csv.serialize(&row).map_err(|e| ReportError::csv(&self.csv_path, e))?;
        self.columns.push(&row);
        if self.columns.rows >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), ReportError> {
        let batch = self.columns.take(&self.schema).map_err(|e| parquet_error(&self.parquet_path, e))?;
        self.parquet.write(&batch).map_err(|e| parquet_error(&self.parquet_path, e))
    }

    /// Writes what is left and closes both files; returns their paths (CSV, Parquet).
    pub fn finish(mut self) -> Result<(PathBuf, PathBuf), ReportError> {
        if self.columns.rows > 0 {
            self.write_batch()?;
        }
        self.csv.flush().map_err(|e| ReportError::Io { path: self.csv_path.clone(), cause: e })?;
        self.parquet.close().map_err(|e| parquet_error(&self.parquet_path, e))?;
        Ok((self.csv_path, self.parquet_path))
    }
}
