//! What the integration tests share: the benchmark data directory.

use std::path::PathBuf;

use genius_spaces::data::{DataDir, DataFile};

/// `GENIUS_DATA_DIR`, else the shared data beside the repository, checked to hold `tables` (those the test reads).
pub fn data_dir(tables: impl IntoIterator<Item = DataFile>) -> DataDir {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    for file in tables {
        assert!(
            dir.join(file.relative).is_file(),
            "these tests need the benchmark tables: set GENIUS_DATA_DIR to a directory holding {}",
            file.relative
        );
    }
    DataDir::new(dir)
}
