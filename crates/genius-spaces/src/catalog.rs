//! Every space of this crate by name: what it is, how big, which table backs it.

use std::sync::Arc;

use genius_core::catalog::{BuildError, Entry, Evaluators, Resource, Spaces};
use genius_core::{Architecture, Evaluator, SearchSpace, SpaceExt};

use crate::channel_bench_macro::{self, BaseModel, ChannelBenchMacro};
use crate::data::{DataDir, DataFile};
use crate::mobilenet::{self, MobileNetSpace};
use crate::nas_bench_201::{self, Dataset, NasBench201};
use crate::nas_bench_macro::{self, NasBenchMacro};
use crate::space_file::FileSpace;
use crate::table::{Table, TableError};
use crate::user_table::UserTable;

/// Loads a space's table from a data directory.
pub type LoadTable = fn(&DataDir) -> Result<Table, TableError>;

/// Counts the trainable parameters and FLOPs of an architecture's network: `(params, flops)`.
pub type CostFn = fn(&Architecture) -> (u64, u64);

/// A space this crate provides.
#[derive(Debug, Clone, Copy)]
pub struct SpaceEntry {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// The table that evaluates it, if it has one.
    pub table: Option<DataFile>,
    build: fn() -> Arc<dyn SearchSpace>,
    load: Option<LoadTable>,
    /// Its parameter and FLOPs calculator, where it has one.
    cost: Option<CostFn>,
}

impl SpaceEntry {
    /// A fresh instance of the space.
    pub fn space(&self) -> Arc<dyn SearchSpace> {
        (self.build)()
    }

    /// The number of architectures.
    pub fn cardinality(&self) -> u128 {
        self.space().cardinality()
    }

    /// The trainable parameters and FLOPs of `arch`'s network, `(params, flops)`, where the space has a calculator;
    /// `arch` must be valid for the space.
    pub fn cost(&self, arch: &Architecture) -> Option<(u64, u64)> {
        self.cost.map(|cost| cost(arch))
    }

    /// Loads the space's table from `dir`; `None` for a space without one.
    pub fn load_table(&self, dir: &DataDir) -> Option<Result<Table, TableError>> {
        self.load.map(|load| load(dir))
    }
}

/// Every space, in the order `genius spaces` lists them.
pub fn spaces() -> &'static [SpaceEntry] {
    &[
        SpaceEntry {
            name: nas_bench_macro::NAME,
            summary: "NAS-Bench-Macro: 8 layers x {identity, MB e3 k3, MB e6 k5}, CIFAR-10 (test accuracy only)",
            table: Some(nas_bench_macro::TABLE),
            build: || Arc::new(NasBenchMacro::new()),
            load: Some(nas_bench_macro::load),
            cost: Some(|a| {
                let c = crate::nas_bench_macro_model::cost(a);
                (c.params, c.flops)
            }),
        },
        SpaceEntry {
            name: "channel-bench-macro-resnet",
            summary: "Channel-Bench-Macro ResNet: 7 widths x 4 channel counts, CIFAR-10 (test accuracy only)",
            table: Some(channel_bench_macro::RESNET_TABLE),
            build: || Arc::new(ChannelBenchMacro::new(BaseModel::ResNet)),
            load: Some(channel_bench_macro::load_resnet),
            cost: Some(|a| ChannelBenchMacro::new(BaseModel::ResNet).cost(a)),
        },
        SpaceEntry {
            name: "channel-bench-macro-mobilenet",
            summary: "Channel-Bench-Macro MobileNet: 7 widths x 4 channel counts, CIFAR-10 (test accuracy only)",
            table: Some(channel_bench_macro::MOBILENET_TABLE),
            build: || Arc::new(ChannelBenchMacro::new(BaseModel::MobileNet)),
            load: Some(channel_bench_macro::load_mobilenet),
            cost: Some(|a| ChannelBenchMacro::new(BaseModel::MobileNet).cost(a)),
        },
        SpaceEntry {
            name: "nas-bench-201-cifar10",
            summary: "NAS-Bench-201 cell: 6 edges x 5 operations, CIFAR-10 (searches val, reports test)",
            table: Some(nas_bench_201::CIFAR10_TABLE),
            build: || Arc::new(NasBench201::new(Dataset::Cifar10)),
            load: Some(nas_bench_201::load_cifar10),
            cost: None,
        },
        SpaceEntry {
            name: "nas-bench-201-cifar100",
            summary: "NAS-Bench-201 cell: 6 edges x 5 operations, CIFAR-100 (searches val, reports test)",
            table: Some(nas_bench_201::CIFAR100_TABLE),
            build: || Arc::new(NasBench201::new(Dataset::Cifar100)),
            load: Some(nas_bench_201::load_cifar100),
            cost: None,
        },
        SpaceEntry {
            name: "nas-bench-201-imagenet16-120",
            summary: "NAS-Bench-201 cell: 6 edges x 5 operations, ImageNet16-120 (searches val, reports test)",
            table: Some(nas_bench_201::IMAGENET16_TABLE),
            build: || Arc::new(NasBench201::new(Dataset::ImageNet16)),
            load: Some(nas_bench_201::load_imagenet16),
            cost: None,
        },
        SpaceEntry {
            name: mobilenet::NAME,
            summary: "GENIUS MobileNet ImageNet space: 30 layers x {skip, 6 inverted residuals}, [270, 330] MFLOPs",
            table: None,
            build: || Arc::new(MobileNetSpace::new()),
            load: None,
            cost: Some(|a| {
                let c = mobilenet::MobileNetModel::IMAGENET.total(&MobileNetSpace::ops(a));
                (c.params, c.flops)
            }),
        },
        SpaceEntry {
            name: "mobilenet-imagenet-370-430",
            summary: "the same MobileNet ImageNet space under GENIUS-401's window, [370, 430] MFLOPs",
            table: None,
            build: || Arc::new(MobileNetSpace::with_window(mobilenet::FlopsWindow::GENIUS_401)),
            load: None,
            cost: Some(|a| {
                let c = mobilenet::MobileNetModel::IMAGENET.total(&MobileNetSpace::ops(a));
                (c.params, c.flops)
            }),
        },
    ]
}

/// The name of the table evaluator: an architecture's metrics looked up in its space's benchmark table.
pub const TABLE_EVALUATOR: &str = "table";

/// Every space as catalog entries (genius-core's one shape for every plug-in), in listing order. Spaces take no
/// settings.
pub fn entries() -> Vec<Entry<Spaces>> {
    spaces()
        .iter()
        .map(|s| {
            let space = *s;
            Entry::new(s.name, s.summary, move |settings, _| {
                no_settings(s.name, &settings)?;
                Ok(space.space())
            })
            .with_check(move |settings| no_settings(s.name, &settings))
        })
        .collect()
}

fn no_settings(name: &str, settings: &serde_json::Value) -> Result<(), BuildError> {
    match settings {
        serde_json::Value::Null => Ok(()),
        serde_json::Value::Object(map) if map.is_empty() => Ok(()),
        other => Err(BuildError::Settings(format!("{name} takes no settings (got {other})"))),
    }
}

/// The table evaluator takes no settings; a run header records which table it read (`benchmark`, `file`; for a
/// space file, `space_file` and `table`), and those keys are accepted back on a resume.
fn table_settings(settings: &serde_json::Value) -> Result<(), BuildError> {
    const RECORDED: [&str; 4] = ["benchmark", "file", "space_file", "table"];
    match settings {
        serde_json::Value::Object(map) => match map.keys().find(|k| !RECORDED.contains(&k.as_str())) {
            Some(key) => Err(BuildError::Settings(format!("{TABLE_EVALUATOR}: takes no settings (got `{key}`)"))),
            None => Ok(()),
        },
        other => no_settings(TABLE_EVALUATOR, other),
    }
}

/// The table evaluator as a catalog entry: it looks architectures up in the benchmark table of the space it is
/// built for (the build context's space name), read from the context's data directory, or, for a space file, in the
/// table the file declares. It declares the table as a
/// [`Resource`], so a program can fetch a missing one before building it.
pub fn evaluators() -> Vec<Entry<Evaluators>> {
    vec![
        Entry::new(
            TABLE_EVALUATOR,
            "look architectures up in the space's benchmark table (instant; tabular benchmarks only)",
            |settings, context| {
                table_settings(&settings)?;
                if let Some(file) = context.space.and_then(file_space) {
                    let table = UserTable::load(file).map_err(|e| BuildError::Failed(e.to_string()))?;
                    return Ok(Arc::new(table) as Arc<dyn Evaluator>);
                }
                let entry = find(context.space_name).ok_or_else(|| {
                    BuildError::Failed(format!("the table evaluator knows no space `{}`", context.space_name))
                })?;
                let table = entry
                    .load_table(&DataDir::new(context.data_dir))
                    .ok_or_else(|| no_table(entry.name))?
                    .map_err(|e| BuildError::Failed(e.to_string()))?;
                Ok(Arc::new(table) as Arc<dyn Evaluator>)
            },
        )
        .with_check(|settings| table_settings(&settings))
        .with_resources(|_, context| match find(context.space_name) {
            Some(entry) if entry.table.is_some() => Ok(vec![Resource::Table { space: context.space_name.to_owned() }]),
            Some(entry) => Err(no_table(entry.name)),
            None => Ok(Vec::new()),
        }),
    ]
}

/// The space of a space file, where `space` is one.
fn file_space(space: &Arc<dyn SearchSpace>) -> Option<Arc<FileSpace>> {
    let any: Arc<dyn std::any::Any + Send + Sync> = space.clone();
    any.downcast::<FileSpace>().ok()
}

/// Reads a space file (genius-core's [`genius_core::catalog::SpaceFileFn`]): its path and its text.
pub fn space_file(path: &std::path::Path, text: &str) -> Result<Arc<dyn SearchSpace>, BuildError> {
    let space = FileSpace::from_text(path, text).map_err(|e| BuildError::Failed(e.to_string()))?;
    Ok(Arc::new(space))
}

/// Why the table evaluator cannot score `space`, and what does.
fn no_table(space: &str) -> BuildError {
    BuildError::Failed(format!(
        "space `{space}` has no benchmark table to look architectures up in; score its candidates by training them: \
         --evaluator train (in an experiment file: [evaluator] name = \"train\"; see `genius evaluators train`)"
    ))
}

/// The space called `name`.
pub fn find(name: &str) -> Option<&'static SpaceEntry> {
    spaces().iter().find(|s| s.name == name)
}

/// The names of every space, comma-separated, for error messages.
pub fn names() -> String {
    spaces().iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// Every table file of every space, once each, in catalog order.
pub fn files() -> Vec<DataFile> {
    let mut files: Vec<DataFile> = Vec::new();
    for file in spaces().iter().filter_map(|s| s.table) {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

/// The table files `name` stands for: the table of the space called `name`, or every table of the benchmark whose
/// directory is `name` (e.g. `nas-bench-201` for its three tables). Empty when `name` is neither.
pub fn files_named(name: &str) -> Vec<DataFile> {
    if let Some(entry) = find(name) {
        return entry.table.into_iter().collect();
    }
    files().into_iter().filter(|f| f.group() == name).collect()
}

/// The benchmark directories that hold tables, e.g. `nas-bench-201`, for messages.
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for group in files().iter().map(DataFile::group) {
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}
