//! Every space of this crate by name: what it is, how big, which table backs it.

use std::sync::Arc;

use genius_core::{SearchSpace, SpaceExt};

use crate::data::{DataDir, DataFile};
use crate::nas_bench_macro::{self, NasBenchMacro};
use crate::table::{Table, TableError};

/// Loads a space's table from a data directory.
pub type LoadTable = fn(&DataDir) -> Result<Table, TableError>;

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

    /// Loads the space's table from `dir`; `None` for a space without one.
    pub fn load_table(&self, dir: &DataDir) -> Option<Result<Table, TableError>> {
        self.load.map(|load| load(dir))
    }
}

/// Every space, in the order `genius spaces` lists them.
pub fn spaces() -> &'static [SpaceEntry] {
    &[SpaceEntry {
        name: nas_bench_macro::NAME,
        summary: "NAS-Bench-Macro: 8 layers x {identity, MB e3 k3, MB e6 k5}, CIFAR-10 (test accuracy only)",
        table: Some(nas_bench_macro::TABLE),
        build: || Arc::new(NasBenchMacro::new()),
        load: Some(nas_bench_macro::load),
    }]
}

/// The space called `name`.
pub fn find(name: &str) -> Option<&'static SpaceEntry> {
    spaces().iter().find(|s| s.name == name)
}

/// The names of every space, comma-separated, for error messages.
pub fn names() -> String {
    spaces().iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}
