//! Table files: the pinned checksums against the real tables, verification of damaged copies, and installation that
//! never leaves a half-written table.

mod common;

use std::io::Read;
use std::path::Path;

use genius_spaces::catalog;
use genius_spaces::data::{DataDir, DataError, DataFile};

/// The data directory, holding the tables these tests read.
fn data_dir() -> DataDir {
    common::data_dir(catalog::files())
}

/// Every file in `dir` and below, relative to it, sorted.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn every_table_matches_its_pinned_size_and_checksum() {
    let data = data_dir();
    let files = catalog::files();
    assert_eq!(files.len(), 6, "NAS-Bench-Macro, 2 Channel-Bench-Macro, 3 NAS-Bench-201");
    for file in files {
        file.verify(&data).unwrap_or_else(|e| panic!("{}: {e}", file.relative));
        assert_eq!(std::fs::metadata(file.path_in(&data)).unwrap().len(), file.bytes);
        assert_eq!(file.sha256.len(), 64);
        assert!(file.url.starts_with("https://raw.githubusercontent.com/"), "{}", file.url);
    }
}

#[test]
fn names_select_a_space_s_table_or_a_whole_benchmark() {
    assert_eq!(catalog::files_named("nas-bench-201").len(), 3);
    assert_eq!(catalog::files_named("nas-bench-201-cifar100")[0].relative, "nas-bench-201/nasbench201_cifar100.json");
    assert_eq!(catalog::files_named("channel-bench-macro").len(), 2);
    assert!(catalog::files_named("nas-bench-301").is_empty());
    assert_eq!(catalog::groups(), ["nas-bench-macro", "channel-bench-macro", "nas-bench-201"]);
}

/// A copy of one real table's description whose file lies in a fresh directory.
fn small_table() -> (DataFile, Vec<u8>) {
    let file = genius_spaces::nas_bench_macro::TABLE;
    let bytes = std::fs::read(file.path_in(&data_dir())).unwrap();
    (file, bytes)
}

#[test]
fn verify_tells_missing_from_damaged_and_says_where_to_get_it() {
    let (file, bytes) = small_table();
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path());
    let err = file.verify(&data).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");

    let path = file.path_in(&data);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = file.verify(&data).unwrap_err();
    assert!(matches!(err, DataError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("has 1178820 bytes where the table has 1178821") && msg.contains(file.url), "{msg}");

    let mut flipped = bytes.clone();
    flipped[1000] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    let msg = file.verify(&data).unwrap_err().to_string();
    assert!(
        msg.contains("its SHA-256 is") && msg.contains(file.sha256) && msg.contains(&path.display().to_string()),
        "{msg}"
    );

    std::fs::write(&path, &bytes).unwrap();
    file.verify(&data).unwrap();
}

#[test]
fn install_writes_the_table_only_when_it_is_complete_and_intact() {
    let (file, bytes) = small_table();
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path());
    let mut seen = Vec::new();
    let path = file.install(&data, &mut &bytes[..], "memory", &mut |n| seen.push(n)).unwrap();
    assert_eq!(path, file.path_in(&data));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(*seen.last().unwrap(), file.bytes);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress only grows");
    file.verify(&data).unwrap();
    assert_eq!(listing(tmp.path()), [file.relative], "no temporary file is left");
    genius_spaces::nas_bench_macro::load(&data).unwrap();
}

#[test]
fn a_short_long_corrupt_or_broken_download_installs_nothing_and_keeps_the_old_file() {
    let (file, bytes) = small_table();
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path());

    // Short: the stream ends early.
    let err = file.install(&data, &mut &bytes[..5000], "http://mirror", &mut |_| {}).unwrap_err();
    assert!(matches!(err, DataError::WrongLength { what: "truncated", .. }), "{err}");
    assert!(err.to_string().contains("has 5000 bytes where the table has 1178821"), "{err}");
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));

    // Long: more bytes than the table has.
    let long = [&bytes[..], b" "].concat();
    let err = file.install(&data, &mut &long[..], "http://mirror", &mut |_| {}).unwrap_err();
    assert!(matches!(err, DataError::WrongLength { what: "too long", .. }), "{err}");
    assert!(listing(tmp.path()).is_empty());

    // A damaged copy of the right length, over an existing (older) file that must survive.
    let path = file.path_in(&data);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"the old file").unwrap();
    let mut damaged = bytes.clone();
    damaged[10] = b'X';
    let err = file.install(&data, &mut &damaged[..], "http://mirror", &mut |_| {}).unwrap_err();
    assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(file.sha256) && msg.contains("http://mirror") && msg.contains("nothing was installed"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"the old file");
    assert_eq!(listing(tmp.path()), [file.relative]);

    // The connection drops part-way.
    struct Broken<'a>(&'a [u8]);
    impl Read for Broken<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"));
            }
            let n = buf.len().min(self.0.len()).min(4096);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let err = file.install(&data, &mut Broken(&bytes[..100_000]), "http://mirror", &mut |_| {}).unwrap_err();
    assert!(matches!(err, DataError::Interrupted { received: 100_000, .. }), "{err}");
    assert!(err.to_string().contains("connection reset"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"the old file");
    assert_eq!(listing(tmp.path()), [file.relative]);
}
