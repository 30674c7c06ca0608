//! Where benchmark tables live: `--data-dir`, else `GENIUS_DATA_DIR`, else the user's cache directory.

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "GENIUS_DATA_DIR";

/// How the data directory was chosen, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDirSource {
    /// Given explicitly (a `--data-dir` flag or a config file).
    Explicit,
    /// From the `GENIUS_DATA_DIR` environment variable.
    Environment,
    /// The default under the user's cache directory.
    Cache,
}

/// The directory holding benchmark tables, laid out as `<dir>/<benchmark>/<file>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    path: PathBuf,
    source: DataDirSource,
}

impl DataDir {
    /// A data directory at `path`, given explicitly.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), source: DataDirSource::Explicit }
    }

    /// `explicit` if given, else `$GENIUS_DATA_DIR` if set and non-empty, else `<cache dir>/genius/data` (e.g.
    /// `~/.cache/genius/data` on Linux), else `./genius-data`.
    pub fn resolve(explicit: Option<PathBuf>) -> Self {
        if let Some(path) = explicit {
            return Self::new(path);
        }
        if let Some(path) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
            return Self { path: path.into(), source: DataDirSource::Environment };
        }
        let path = dirs::cache_dir().map_or_else(|| PathBuf::from("genius-data"), |c| c.join("genius").join("data"));
        Self { path, source: DataDirSource::Cache }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How it was chosen.
    pub fn source(&self) -> DataDirSource {
        self.source
    }

    /// The path of a file of the directory.
    pub fn file(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }
}

impl fmt::Display for DataDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.source {
            DataDirSource::Explicit => "given",
            DataDirSource::Environment => "from GENIUS_DATA_DIR",
            DataDirSource::Cache => "the default",
        };
        write!(f, "{} ({how})", self.path.display())
    }
}

/// A benchmark table file: where it goes in the data directory and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// Its path inside the data directory.
    pub relative: &'static str,
    /// Its public origin, for users to download it from.
    pub origin: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
}

impl DataFile {
    /// Whether the file is present in `dir`.
    pub fn present_in(&self, dir: &DataDir) -> bool {
        dir.file(self.relative).is_file()
    }
}
