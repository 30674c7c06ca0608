//! Where benchmark tables live (`--data-dir`, else `GENIUS_DATA_DIR`, else the user's cache directory), and how a
//! table file is checked and installed: every [`DataFile`] pins its size and SHA-256, [`DataFile::verify`] checks a
//! present copy, and [`DataFile::install`] writes a download to a temporary file beside the target, checks it, and
//! only then renames it into place, so an interrupted or corrupt download never leaves a half-written table.
//!
//! This crate does no network IO: the caller (the `genius` command) opens the download and hands its reader to
//! [`DataFile::install`].

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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

/// A benchmark table file: where it goes in the data directory, where it comes from, and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// Its path inside the data directory, e.g. `nas-bench-201/nasbench201_cifar10.json`.
    pub relative: &'static str,
    /// Its public origin in words (repository and path), for messages.
    pub origin: &'static str,
    /// The URL it is downloaded from by default.
    pub url: &'static str,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its contents, in lowercase hex.
    pub sha256: &'static str,
}

/// A table file that is missing, damaged, or could not be downloaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file is not in the data directory.
    #[error("{path} is missing (download {url})")]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
        /// Where it can be downloaded from.
        url: String,
    },
    /// The file, or the data directory, could not be read or written.
    #[error("cannot {action} {path}: {cause}")]
    Io {
        /// What was being done (`read`, `create`, `write`, `rename into place`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A present file has the wrong size or SHA-256: it is damaged, truncated, or another version.
    #[error(
        "{path} is damaged or another version of the table: {reason}; download it again from {url} (delete the \
         file first)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What differs (size or checksum, expected and found).
        reason: String,
        /// Where it can be downloaded from.
        url: String,
    },
    /// Reading the download failed part-way (connection dropped, timeout).
    #[error(
        "the download of {relative} from {source_name} failed after {received} bytes: {cause}; nothing was installed"
    )]
    Interrupted {
        /// The file's path inside the data directory.
        relative: String,
        /// Where it was being downloaded from.
        source_name: String,
        /// Bytes received before the failure.
        received: u64,
        /// The cause.
        cause: std::io::Error,
    },
    /// The download ended early or ran long.
    #[error(
        "the download of {relative} from {source_name} has {received} bytes where the table has {expected} \
         ({what}); nothing was installed"
    )]
    WrongLength {
        /// The file's path inside the data directory.
        relative: String,
        /// Where it was downloaded from.
        source_name: String,
        /// Bytes received.
        received: u64,
        /// Bytes expected.
        expected: u64,
        /// `truncated` or `too long`.
        what: &'static str,
    },
    /// The downloaded bytes do not hash to the pinned SHA-256.
    #[error(
        "the download of {relative} from {source_name} does not match its pinned SHA-256 (expected {expected}, got \
         {actual}): the server holds another version or a damaged copy; nothing was installed"
    )]
    ChecksumMismatch {
        /// The file's path inside the data directory.
        relative: String,
        /// Where it was downloaded from.
        source_name: String,
        /// The pinned checksum.
        expected: String,
        /// The checksum of what was received.
        actual: String,
    },
}

impl DataFile {
    /// Where the file goes in `dir`.
    pub fn path_in(&self, dir: &DataDir) -> PathBuf {
        dir.file(self.relative)
    }

    /// Whether the file is present in `dir` (not whether it is intact: see [`verify`](Self::verify)).
    pub fn present_in(&self, dir: &DataDir) -> bool {
        self.path_in(dir).is_file()
    }

    /// The benchmark's directory inside the data directory, e.g. `nas-bench-201`.
    pub fn group(&self) -> &'static str {
        self.relative.split_once('/').map_or(self.relative, |(group, _)| group)
    }

    /// The URL to download the file from: `base` followed by the file's path inside the data directory when a base
    /// is given (a mirror laid out like a data directory), else the file's own origin.
    pub fn url_from(&self, base: Option<&str>) -> String {
        match base {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), self.relative),
            None => self.url.to_owned(),
        }
    }

    /// Checks the copy in `dir` against the pinned size and SHA-256.
    pub fn verify(&self, dir: &DataDir) -> Result<(), DataError> {
        let path = self.path_in(dir);
        let file = std::fs::File::open(&path).map_err(|cause| {
            if cause.kind() == std::io::ErrorKind::NotFound {
                DataError::Missing { path: path.clone(), url: self.url.into() }
            } else {
                DataError::Io { action: "read", path: path.clone(), cause }
            }
        })?;
        let (received, actual) =
            hash_reader(file).map_err(|cause| DataError::Io { action: "read", path: path.clone(), cause })?;
        let reason = if received != self.bytes {
            format!("it has {received} bytes where the table has {}", self.bytes)
        } else if actual != self.sha256 {
            format!("its SHA-256 is {actual}, expected {}", self.sha256)
        } else {
            return Ok(());
        };
        Err(DataError::Corrupt { path, reason, url: self.url.into() })
    }

    /// Installs the file into `dir` from `source` (a download named `source_name` in messages): the bytes go to a
    /// temporary file beside the target, are checked against the pinned size and SHA-256, are synced to disk, and only
    /// then is the temporary file renamed over the target. On any failure the temporary file is removed and the
    /// target is left as it was. `progress` is called with the bytes received so far.
    pub fn install(
        &self,
        dir: &DataDir,
        source: &mut dyn Read,
        source_name: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<PathBuf, DataError> {
        let target = self.path_in(dir);
        let parent = target.parent().expect("a data file lies in a directory").to_owned();
        std::fs::create_dir_all(&parent).map_err(|cause| DataError::Io {
            action: "create",
            path: parent.clone(),
            cause,
        })?;
        let name = target.file_name().expect("a data file has a name").to_string_lossy().into_owned();
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part")
            .tempfile_in(&parent)
            .map_err(|cause| DataError::Io { action: "create a temporary file in", path: parent.clone(), cause })?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(cause) => {
                    return Err(DataError::Interrupted {
                        relative: self.relative.into(),
                        source_name: source_name.into(),
                        received,
                        cause,
                    });
                }
            };
            received += n as u64;
            if received > self.bytes {
                return Err(self.wrong_length(source_name, received, "too long"));
            }
            hasher.update(&buf[..n]);
            temp.write_all(&buf[..n]).map_err(|cause| DataError::Io {
                action: "write",
                path: temp.path().to_owned(),
                cause,
            })?;
            progress(received);
        }
        if received != self.bytes {
            return Err(self.wrong_length(source_name, received, "truncated"));
        }
        let actual = hex(&hasher.finalize());
        if actual != self.sha256 {
            return Err(DataError::ChecksumMismatch {
                relative: self.relative.into(),
                source_name: source_name.into(),
                expected: self.sha256.into(),
                actual,
            });
        }
        temp.as_file().sync_all().map_err(|cause| DataError::Io {
            action: "write",
            path: temp.path().to_owned(),
            cause,
        })?;
        temp.persist(&target).map_err(|e| DataError::Io {
            action: "rename into place",
            path: target.clone(),
            cause: e.error,
        })?;
        Ok(target)
    }

    fn wrong_length(&self, source_name: &str, received: u64, what: &'static str) -> DataError {
        DataError::WrongLength {
            relative: self.relative.into(),
            source_name: source_name.into(),
            received,
            expected: self.bytes,
            what,
        }
    }
}

/// The size and SHA-256 (lowercase hex) of everything `reader` yields.
pub fn hash_reader(mut reader: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_inputs() {
        let (n, h) = hash_reader(&b""[..]).unwrap();
        assert_eq!((n, h.as_str()), (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        let (n, h) = hash_reader(&b"abc"[..]).unwrap();
        assert_eq!((n, h.as_str()), (3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    #[test]
    fn a_base_url_mirrors_the_data_directory_layout() {
        let file = DataFile {
            relative: "bench/table.json",
            origin: "somewhere",
            url: "https://example.org/table.json",
            bytes: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        };
        assert_eq!(file.url_from(None), "https://example.org/table.json");
        assert_eq!(file.url_from(Some("http://127.0.0.1:9/mirror/")), "http://127.0.0.1:9/mirror/bench/table.json");
        assert_eq!(file.group(), "bench");
    }
}
