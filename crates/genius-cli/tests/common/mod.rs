//! Helpers shared by the `genius` binary's end-to-end tests: each test file includes this module (`mod common;`).
// Every test crate uses only some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genius_core::{Recorded, Trial};

/// The benchmark tables: `GENIUS_DATA_DIR`, else `../shared/data` beside the repository.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.join("nas-bench-macro/nas-bench-macro_cifar10.json").is_file(),
        "these tests need the benchmark tables: set GENIUS_DATA_DIR"
    );
    dir
}

/// The trials of the run in `dir`, without their timings.
pub fn keys(dir: &Path) -> Vec<serde_json::Value> {
    Recorded::read(dir).unwrap().trials.iter().map(key).collect()
}

/// A trial without its timings.
pub fn key(t: &Trial) -> serde_json::Value {
    let mut v = serde_json::to_value(t).unwrap();
    for field in ["started_at", "duration_s", "elapsed_s"] {
        v.as_object_mut().unwrap().remove(field);
    }
    v
}

/// The `genius` binary reading the tables in `data`, never the internet: a missing table is an error, not a download.
pub fn genius_with(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_DATA_DIR", data)
        .env("GENIUS_OFFLINE", "1")
        .env_remove("GENIUS_DATA_URL")
        .env_remove("RUST_BACKTRACE");
    cmd
}

/// Runs `cmd`: its output, standard output and standard error.
pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}
