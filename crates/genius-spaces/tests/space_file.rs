//! Search spaces from a TOML file and tables of your own: each dimension kind round-trips its text forms and the
//! space passes the conformance suite; the brief follows from the file; bad files are errors naming the file, line
//! and field; a user table (CSV, JSONL or Parquet) has ranks and the optimum, and refuses missing columns, columns of
//! the wrong type and architectures not in the space.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use genius_core::testing::conformance;
use genius_core::{Architecture, Direction, EvalError, Evaluator, Notation, SearchSpace, SpaceExt, Visibility};
use genius_spaces::space_file::{DimensionKind, FileSpace, SpaceFileError};
use genius_spaces::user_table::UserTable;

const SPACE: &str = r#"
name = "digits-mlp"
task = "A multilayer perceptron is trained on 8x8 images of handwritten digits; the objective is to maximize its validation accuracy."
notes = ["Training is short, so very small learning rates may underfit."]

[[dimension]]
name = "layers"
kind = "integer"
min = 1
max = 3
description = "hidden layers"

[[dimension]]
name = "width"
kind = "ordered"
values = [16, 32, 64, 128]
description = "units per hidden layer"

[[dimension]]
name = "activation"
kind = "categorical"
options = ["relu", "tanh", "logistic"]

[[dimension]]
name = "learning_rate"
kind = "ordered"
values = [0.0001, 0.001, 0.01]

[[dimension]]
name = "batch"
kind = "integer"
min = 16
max = 256
step = 16
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn space_of(text: &str) -> FileSpace {
    FileSpace::from_text(Path::new("space.toml"), text).unwrap()
}

fn error_of(text: &str) -> SpaceFileError {
    FileSpace::from_text(Path::new("space.toml"), text).unwrap_err()
}

#[test]
fn every_dimension_kind_round_trips_and_the_space_passes_the_conformance_suite() {
    let space = space_of(SPACE);
    assert_eq!(space.name(), "digits-mlp");
    let kinds: Vec<DimensionKind> = space.file_dimensions().iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DimensionKind::Integer,
            DimensionKind::Ordered,
            DimensionKind::Categorical,
            DimensionKind::Ordered,
            DimensionKind::Integer
        ]
    );
    assert_eq!(space.dimensions()[0].options, ["1", "2", "3"]);
    assert_eq!(space.dimensions()[3].options, ["0.0001", "0.001", "0.01"]);
    assert_eq!(space.dimensions()[4].len(), 16);
    assert_eq!(space.cardinality(), 3 * 4 * 3 * 3 * 16);
    conformance::space(&space);

    let arch = Architecture::new(vec![1, 2, 0, 1, 3]);
    assert_eq!(space.format(&arch), "[2, 64, relu, 0.001, 64]");
    let json = space.to_json(&arch);
    assert_eq!(
        json,
        serde_json::json!({"layers": 2, "width": 64, "activation": "relu", "learning_rate": 0.001, "batch": 64})
    );
    // Every form a person or a model writes: the labels, quoted or not, and the JSON object.
    for text in [
        "[2, 64, relu, 0.001, 64]",
        "2 64 'relu' 0.001 64",
        &json.to_string(),
        "[\"2\", \"64\", \"relu\", \"0.001\", \"64\"]",
    ] {
        assert_eq!(space.parse(text).unwrap(), arch, "{text}");
    }
    // Option ids are read where they are not labels.
    assert_eq!(space.parse("[1, 2, 0, 1, 3]").unwrap(), arch);
    let e = space.parse("[2, 64, gelu, 0.001, 64]").unwrap_err().to_string();
    assert!(
        e.contains("`gelu` (value 3) is not an option of `activation`") && e.contains("relu, tanh, logistic"),
        "{e}"
    );
    let e = space.parse("{\"layers\": 2}").unwrap_err().to_string();
    assert!(e.contains("dimension `width` is missing"), "{e}");
}

#[test]
fn the_choices_notation_writes_option_ids_and_a_constraint_is_checked_and_described() {
    let text = format!(
        "notation = \"choices\"\n{}\n[[constraint]]\nforbid = {{ layers = [3], width = [128, 64] }}\nreason = \"too slow\"\n",
        SPACE.replace("name = \"digits-mlp\"", "name = \"ids\"")
    );
    let space = space_of(&text);
    assert!(space.is_constrained());
    conformance::space(&space);
    let arch = Architecture::new(vec![2, 3, 1, 0, 0]);
    assert_eq!(space.format(&arch), "[2, 3, 1, 0, 0]");
    let v = space.check(&arch).unwrap_err();
    assert_eq!(v.message, "Not allowed: layers 3 together with width 128 or 64 (too slow).");
    assert!(space.check(&Architecture::new(vec![2, 1, 1, 0, 0])).is_ok());
    let brief = space.brief().unwrap();
    assert_eq!(brief.notation, Notation::Choices);
    assert!(brief.notes.contains(&v.message));
    assert!(
        brief.operations[0].starts_with("layers (hidden layers): an integer, one of 0 = 1, 1 = 2, 2 = 3"),
        "{:?}",
        brief.operations
    );
    assert!(brief.operations[4].contains("an integer from 16 to 256, written as its id i = 0..15 (value 16 + i x 16)"));
}

#[test]
fn the_brief_follows_from_the_file_and_its_example_shows_only_the_form() {
    let space = space_of(SPACE);
    let brief = space.brief().unwrap();
    assert!(brief.task.starts_with("A multilayer perceptron"));
    assert_eq!(brief.notation, Notation::Labels);
    assert_eq!(brief.example, "[2, 64, ..., 16]");
    assert_eq!(brief.example, genius_core::elided_example(&space, Notation::Labels));
    assert_eq!(
        brief.operations[1],
        "width (units per hidden layer): one of 16, 32, 64, 128 (ordered from first to last)"
    );
    assert_eq!(brief.operations[2], "activation: one of relu, tanh, logistic");
    assert_eq!(brief.operations[4], "batch: an integer from 16 to 256 in steps of 16");
    assert_eq!(brief.notes, ["Training is short, so very small learning rates may underfit."]);
    assert!(brief.layout.contains("[layers, width, activation, learning_rate, batch]"));
    assert!(brief.answer_format.starts_with("a list of 5 values"));

    let custom = space_of(&format!("example = \"[layers, width, ..., batch]\"\n{SPACE}"));
    assert_eq!(custom.brief().unwrap().example, "[layers, width, ..., batch]");
    let e = error_of(&format!("example = \"[1, 16, relu, 0.01, 32]\"\n{SPACE}"));
    assert_eq!((e.line, e.field.as_str()), (Some(1), "example"));
    assert!(e.message.contains("reads as an architecture"), "{e}");
}

#[test]
fn bad_files_name_the_file_line_and_field() {
    let with = |extra: &str| format!("{SPACE}\n{extra}");
    let line_of = |text: &str, line: &str| text.lines().position(|l| l.trim() == line).unwrap() + 1;

    let text = with("[[dimension]]\nname = \"dropout\"\nkind = \"float\"\n");
    let e = error_of(&text);
    assert_eq!((e.line, e.field.as_str()), (Some(line_of(&text, "kind = \"float\"")), "dimension[5].kind"));
    assert!(e.message.contains("unknown dimension kind `float`; write categorical, integer or ordered"), "{e}");
    assert!(e.to_string().starts_with(&format!("space.toml, line {}: dimension[5].kind:", e.line.unwrap())), "{e}");

    let text = with("[[dimension]]\nname = \"norm\"\nkind = \"categorical\"\noptions = []\n");
    let e = error_of(&text);
    assert_eq!((e.line, e.field.as_str()), (Some(line_of(&text, "options = []")), "dimension[5].options"));
    assert!(e.message.contains("the list of choices is empty"), "{e}");

    let text = with("[[dimension]]\nname = \"norm\"\nkind = \"categorical\"\nchoices = [\"a\"]\n");
    let e = error_of(&text);
    assert_eq!(e.line, Some(line_of(&text, "choices = [\"a\"]")));
    assert!(e.message.contains("unknown field `choices`"), "{e}");

    let text = with("[[dimension]]\nname = \"width\"\nkind = \"categorical\"\noptions = [\"a\"]\n");
    assert!(error_of(&text).message.contains("`width` is declared twice"));
    let text = with("[[dimension]]\nname = \"norm\"\nkind = \"categorical\"\noptions = [\"batch norm\"]\n");
    assert!(error_of(&text).message.contains("may not contain spaces"));
    let text = with("[[dimension]]\nname = \"depth\"\nkind = \"integer\"\nmin = 4\nmax = 2\n");
    let e = error_of(&text);
    assert_eq!((e.line, e.field.as_str()), (Some(line_of(&text, "max = 2")), "dimension[5].max"));
    let text = with("[[constraint]]\nforbid = { depth = [1] }\n");
    let e = error_of(&text);
    assert_eq!((e.line, e.field.as_str()), (Some(line_of(&text, "forbid = { depth = [1] }")), "constraint[0].forbid"));
    assert!(e.message.contains("`depth` is not a dimension"), "{e}");
    let text = with("[[constraint]]\nforbid = { width = [48] }\n");
    assert!(error_of(&text).message.contains("`48` is not an option of `width`; options: 16, 32, 64, 128"));
    let e = error_of("name = \"x\"\n");
    assert!(e.message.contains("missing field `task`"), "{e}");
    let e = error_of("name = \"x\"\ntask = \"t\"\n");
    assert_eq!(e.field, "dimension");
    let e = FileSpace::read(Path::new("/nonexistent/space.toml")).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/space.toml: file: cannot read it"), "{e}");
}

const TABLE_SPACE: &str = r#"
name = "tabled"
task = "A small network; the objective is to maximize validation accuracy."

[[dimension]]
name = "depth"
kind = "integer"
min = 1
max = 3

[[dimension]]
name = "width"
kind = "ordered"
values = [8, 16]

[table]
file = "results.csv"
search = "val_acc"
report = "test_acc"
held_out = ["test_acc"]
cost = "seconds"
"#;

const CSV: &str = "depth,width,val_acc,test_acc,seconds\n\
1,8,80.5,79.0,10\n\
1,16,82.0,81.5,12\n\
2,8,85.0,86.0,20\n\
2,16,88.0,84.0,25\n\
3,16,87.0,86.0,40\n";

fn user_table(space_text: &str, file: &str, contents: &str) -> (tempfile::TempDir, Result<UserTable, String>) {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), file, contents);
    let path = write(tmp.path(), "space.toml", space_text);
    let space = Arc::new(FileSpace::read(&path).unwrap());
    let table = UserTable::load(space).map_err(|e| e.to_string());
    (tmp, table)
}

#[tokio::test]
async fn a_user_table_has_ranks_the_optimum_and_held_out_columns() {
    let (_tmp, table) = user_table(TABLE_SPACE, "results.csv", CSV);
    let table = table.unwrap();
    assert_eq!(table.len(), 5);
    let spec = table.metrics();
    spec.check().unwrap();
    assert_eq!(spec.get("test_acc").unwrap().visibility, Visibility::Reported);
    assert_eq!(spec.get("val_acc").unwrap().visibility, Visibility::Search);
    let eval = table.evaluate(&Architecture::new(vec![1, 0])).await.unwrap();
    assert_eq!((eval.metrics["val_acc"], eval.metrics["test_acc"], eval.cost_s), (85.0, 86.0, Some(20.0)));
    // 86.0 ties with [3, 16]: both rank 1 of 5, by the reported (held-out) column.
    assert_eq!((eval.rank.unwrap().rank, eval.rank.unwrap().of), (1, 5));
    let worst = table.evaluate(&Architecture::new(vec![0, 0])).await.unwrap();
    assert_eq!(worst.rank.unwrap().rank, 5);
    let optimum = table.optimum().unwrap();
    assert_eq!(optimum.value, 86.0);
    // An architecture of the space without a row is a failed trial, naming the table.
    let e = table.evaluate(&Architecture::new(vec![2, 0])).await.unwrap_err();
    assert!(matches!(&e, EvalError::Failed(r) if r.contains("[3, 8] has no row in the table")), "{e}");

    // JSONL with one architecture column, minimizing.
    let space = TABLE_SPACE
        .replace("results.csv", "results.jsonl")
        .replace("cost = \"seconds\"", "arch_column = \"arch\"\ndirection = \"minimize\"");
    let jsonl = "{\"arch\": \"[1, 8]\", \"val_acc\": 3, \"test_acc\": 4}\n\n{\"arch\": \"{\\\"depth\\\": 2, \\\"width\\\": 16}\", \"val_acc\": 1, \"test_acc\": 2}\n";
    let (_tmp, table) = user_table(&space, "results.jsonl", jsonl);
    let table = table.unwrap();
    assert_eq!(table.metrics().search_metric().direction, Direction::Minimize);
    assert_eq!(table.optimum().unwrap().arch, Architecture::new(vec![1, 1]));
}

#[test]
fn a_user_table_names_a_missing_column_and_a_row_that_is_not_in_the_space() {
    let (tmp, table) = user_table(TABLE_SPACE, "results.csv", &CSV.replace("test_acc", "test_accuracy"));
    let e = table.unwrap_err();
    let file = tmp.path().join("results.csv");
    assert!(e.starts_with(&format!("{}: column `test_acc`", file.display())), "{e}");
    assert!(e.contains("does not exist; the columns are: depth, width, val_acc, test_accuracy, seconds"), "{e}");

    let (_tmp, table) = user_table(TABLE_SPACE, "results.csv", &format!("{CSV}4,8,90,90,1\n"));
    let e = table.unwrap_err();
    assert!(e.contains("results.csv, line 7: `4` in column `depth` is not an option of that dimension"), "{e}");
    assert!(e.contains("not an architecture of the space"), "{e}");

    let (_tmp, table) = user_table(TABLE_SPACE, "results.csv", &format!("{CSV}1,8,1,1,1\n"));
    assert!(table.unwrap_err().contains("line 7: [1, 8] already has a row, on line 2"));
    let (_tmp, table) = user_table(TABLE_SPACE, "results.csv", &CSV.replace("88.0", "high"));
    assert!(table.unwrap_err().contains("line 5: column `val_acc`: `high` is not a number"));
    let complete = TABLE_SPACE.replace("cost = \"seconds\"", "complete = true");
    let (_tmp, table) = user_table(&complete, "results.csv", CSV);
    assert!(table.unwrap_err().contains("1 of the 6 architectures have no row (the first is [3, 8])"));
    let (_tmp, table) = user_table(&TABLE_SPACE.replace("results.csv", "results.xlsx"), "results.xlsx", "");
    assert!(table.unwrap_err().contains("results.xlsx: a table is a .csv, a .jsonl or a .parquet file"));
}

/// `CSV` as Arrow columns, typed as pandas and pyarrow write them: `width` dictionary-encoded text (a pandas
/// categorical), `test_acc` 32-bit floats, `seconds` 32-bit integers, and a binary column the table does not name.
fn csv_as_columns() -> Vec<(&'static str, arrow_array::ArrayRef)> {
    use arrow_array::types::Int32Type;
    use arrow_array::{BinaryArray, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array};
    vec![
        ("depth", Arc::new(Int64Array::from(vec![1, 1, 2, 2, 3]))),
        ("width", Arc::new(["8", "16", "8", "16", "16"].into_iter().collect::<DictionaryArray<Int32Type>>())),
        ("val_acc", Arc::new(Float64Array::from(vec![80.5, 82.0, 85.0, 88.0, 87.0]))),
        ("test_acc", Arc::new(Float32Array::from(vec![79.0, 81.5, 86.0, 84.0, 86.0]))),
        ("seconds", Arc::new(Int32Array::from(vec![10, 12, 20, 25, 40]))),
        ("checkpoint", Arc::new(BinaryArray::from_vec(vec![b"a", b"b", b"c", b"d", b"e"]))),
    ]
}

/// Writes `columns` as a Snappy-compressed Parquet file, as pandas does by default.
fn write_parquet(path: &Path, columns: Vec<(&'static str, arrow_array::ArrayRef)>) {
    write_parquet_with(path, columns, parquet::basic::Compression::SNAPPY);
}

/// Writes `columns` as a Parquet file compressed with `compression`.
fn write_parquet_with(
    path: &Path,
    columns: Vec<(&'static str, arrow_array::ArrayRef)>,
    compression: parquet::basic::Compression,
) {
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    let batch = arrow_array::RecordBatch::try_from_iter(columns).unwrap();
    let props = WriterProperties::builder().set_compression(compression).build();
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn parquet_table(
    columns: Vec<(&'static str, arrow_array::ArrayRef)>,
) -> (tempfile::TempDir, Result<UserTable, String>) {
    let tmp = tempfile::tempdir().unwrap();
    write_parquet(&tmp.path().join("results.parquet"), columns);
    let path = write(tmp.path(), "space.toml", &TABLE_SPACE.replace("results.csv", "results.parquet"));
    let space = Arc::new(FileSpace::read(&path).unwrap());
    let table = UserTable::load(space).map_err(|e| e.to_string());
    (tmp, table)
}

#[test]
fn a_parquet_table_is_the_same_table_as_the_csv_file() {
    let (_tmp, csv) = user_table(TABLE_SPACE, "results.csv", CSV);
    let csv = csv.unwrap();
    let (_tmp, parquet) = parquet_table(csv_as_columns());
    let parquet = parquet.unwrap();
    assert_eq!(parquet.metrics(), csv.metrics(), "the same metrics, held-out column included");
    assert_eq!(parquet.metrics().get("test_acc").unwrap().visibility, Visibility::Reported);
    assert_eq!(parquet.architectures(), csv.architectures());
    assert_eq!(parquet.len(), 5);
    for arch in csv.architectures() {
        assert_eq!(parquet.lookup(arch), csv.lookup(arch), "{arch:?}");
    }
    assert_eq!(parquet.optimum(), csv.optimum());
    assert_eq!(parquet.lookup(&Architecture::new(vec![2, 1])).unwrap().cost_s, Some(40.0));
}

#[test]
fn a_parquet_table_compressed_with_zstd_or_gzip_reads_as_the_snappy_one() {
    use parquet::basic::{Compression, GzipLevel, ZstdLevel};
    let (_tmp, snappy) = parquet_table(csv_as_columns());
    let snappy = snappy.unwrap();
    for compression in [Compression::ZSTD(ZstdLevel::default()), Compression::GZIP(GzipLevel::default())] {
        let tmp = tempfile::tempdir().unwrap();
        write_parquet_with(&tmp.path().join("results.parquet"), csv_as_columns(), compression);
        let path = write(tmp.path(), "space.toml", &TABLE_SPACE.replace("results.csv", "results.parquet"));
        let table = UserTable::load(Arc::new(FileSpace::read(&path).unwrap())).unwrap();
        assert_eq!(table.metrics(), snappy.metrics(), "{compression:?}");
        assert_eq!(table.architectures(), snappy.architectures(), "{compression:?}");
        for arch in snappy.architectures() {
            assert_eq!(table.lookup(arch), snappy.lookup(arch), "{compression:?} {arch:?}");
        }
    }
}

#[test]
fn a_bad_parquet_table_names_the_file_the_row_and_the_column() {
    use arrow_array::{ArrayRef, BinaryArray, Float64Array, Int64Array, StringArray};
    let with = |name: &'static str, array: ArrayRef| {
        let mut columns = csv_as_columns();
        let i = columns.iter().position(|(n, _)| *n == name).unwrap();
        columns[i].1 = array;
        columns
    };
    let starts = |e: &str, tmp: &tempfile::TempDir, rest: &str| {
        let file = tmp.path().join("results.parquet");
        assert!(e.starts_with(&format!("{}{rest}", file.display())), "{e}");
    };

    // A declared column that does not exist.
    let mut columns = csv_as_columns();
    columns.retain(|(n, _)| *n != "test_acc");
    let (tmp, table) = parquet_table(columns);
    let e = table.unwrap_err();
    starts(&e, &tmp, ": column `test_acc` (declared in ");
    assert!(e.contains("does not exist; the columns are: depth, width, val_acc, seconds, checkpoint"), "{e}");

    // A metric column of text, and a dimension column of bytes.
    let text: ArrayRef = Arc::new(StringArray::from(vec!["80.5", "82", "85", "88", "87"]));
    let (tmp, table) = parquet_table(with("val_acc", text));
    let e = table.unwrap_err();
    starts(&e, &tmp, ": column `val_acc` holds Utf8 values, but it is a metric");
    assert!(e.contains("store it as integers or floating-point numbers"), "{e}");
    let bytes: ArrayRef = Arc::new(BinaryArray::from_vec(vec![b"1", b"1", b"2", b"2", b"3"]));
    let (tmp, table) = parquet_table(with("depth", bytes));
    starts(&table.unwrap_err(), &tmp, ": column `depth` holds Binary values; a table column holds text, integers");

    // A row that is not an architecture of the space, and an empty metric cell.
    let (tmp, table) = parquet_table(with("depth", Arc::new(Int64Array::from(vec![1, 1, 2, 4, 3]))));
    let e = table.unwrap_err();
    starts(&e, &tmp, ", row 4: `4` in column `depth` is not an option of that dimension");
    assert!(e.contains("not an architecture of the space"), "{e}");
    let gap: ArrayRef = Arc::new(Float64Array::from(vec![Some(80.5), None, Some(85.0), Some(88.0), Some(87.0)]));
    let (tmp, table) = parquet_table(with("val_acc", gap));
    starts(&table.unwrap_err(), &tmp, ", row 2: column `val_acc` is empty");
    let (tmp, table) = parquet_table(with("depth", Arc::new(Int64Array::from(vec![1, 1, 2, 2, 1]))));
    starts(&table.unwrap_err(), &tmp, ", row 5: [1, 16] already has a row, on row 2");

    // Not a Parquet file at all.
    let (tmp, table) = user_table(&TABLE_SPACE.replace("results.csv", "results.parquet"), "results.parquet", CSV);
    starts(&table.unwrap_err(), &tmp, ": not a Parquet file the arrow reader can read");
}
