//! Where the datasets come from and what their files must be: every file pins its public origin, its size and its
//! SHA-256 (and, for Fashion-MNIST, the identity of Debian's re-packed copy too), so that a copy is checked before it
//! is used and a download before it is installed. Datasets are kept under [`cache_root`] (`GENIUS_DATASETS_DIR`, else
//! e.g. `~/.cache/genius/datasets`), one directory per dataset; Fashion-MNIST is also read from Debian's
//! `dataset-fashion-mnist` package where it is installed.
//!
//! This crate does no network IO: the `genius` command downloads (`genius data fetch fashion-mnist`, or on first
//! use) and calls [`SourceFile::check`] on what it received before renaming it into place.
//!
//! Provenance of the pins: the sizes and SHA-256 of the origins' files are those TensorFlow Datasets publishes in
//! `tensorflow_datasets/url_checksums/{fashion_mnist,mnist,cifar10}.txt` (the Fashion-MNIST sizes are also those of
//! its README). Debian's Fashion-MNIST files are the origin's gzip streams with the file name taken out of the gzip
//! header (each is shorter by exactly the name and its terminating zero byte); their SHA-256 were computed from
//! `dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb` (Debian bookworm).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::DatasetKind;
use super::cifar;
use crate::error::{Result, TrainError};

/// The environment variable naming the directory that holds the datasets (one subdirectory per dataset).
pub const DATASETS_DIR_ENV: &str = "GENIUS_DATASETS_DIR";

/// Where Debian's `dataset-fashion-mnist` package puts Fashion-MNIST.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// The directory holding the datasets: `$GENIUS_DATASETS_DIR` if set and non-empty, else `<cache dir>/genius/datasets`
/// (e.g. `~/.cache/genius/datasets` on Linux), else `./genius-datasets`.
pub fn cache_root() -> PathBuf {
    if let Some(path) = std::env::var_os(DATASETS_DIR_ENV).filter(|v| !v.is_empty()) {
        return path.into();
    }
    dirs::cache_dir().map_or_else(|| PathBuf::from("genius-datasets"), |c| c.join("genius").join("datasets"))
}

/// One accepted identity of a file: its size and SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Whose copy this is, for messages (`the origin's`, `Debian's`).
    pub copy: &'static str,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 in lowercase hex.
    pub sha256: &'static str,
}

/// A file of a dataset as published: its name in the dataset's directory, its origin, and the identities a copy
/// may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFile {
    /// The file's name in the dataset's directory (and on a mirror, below `<dataset name>/`).
    pub name: &'static str,
    /// Where it is downloaded from by default.
    pub url: &'static str,
    /// The origin's bytes.
    pub origin: Identity,
    /// Another accepted copy (Debian's re-packed Fashion-MNIST), if any.
    pub also: Option<Identity>,
}

const fn origin(bytes: u64, sha256: &'static str) -> Identity {
    Identity { copy: "the origin's", bytes, sha256 }
}

const fn debian(bytes: u64, sha256: &'static str) -> Option<Identity> {
    Some(Identity { copy: "Debian's dataset-fashion-mnist", bytes, sha256 })
}

const FASHION_MNIST: [SourceFile; 4] = [
    SourceFile {
        name: "train-images-idx3-ubyte.gz",
        url: "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/train-images-idx3-ubyte.gz",
        origin: origin(26_421_880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        also: debian(26_421_856, "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
    },
    SourceFile {
        name: "train-labels-idx1-ubyte.gz",
        url: "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/train-labels-idx1-ubyte.gz",
        origin: origin(29_515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        also: debian(29_491, "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
    },
    SourceFile {
        name: "t10k-images-idx3-ubyte.gz",
        url: "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/t10k-images-idx3-ubyte.gz",
        origin: origin(4_422_102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        also: debian(4_422_079, "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
    },
    SourceFile {
        name: "t10k-labels-idx1-ubyte.gz",
        url: "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/t10k-labels-idx1-ubyte.gz",
        origin: origin(5_148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        also: debian(5_125, "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    },
];

const MNIST: [SourceFile; 4] = [
    SourceFile {
        name: "train-images-idx3-ubyte.gz",
        url: "https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz",
        origin: origin(9_912_422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        also: None,
    },
    SourceFile {
        name: "train-labels-idx1-ubyte.gz",
        url: "https://storage.googleapis.com/cvdf-datasets/mnist/train-labels-idx1-ubyte.gz",
        origin: origin(28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        also: None,
    },
    SourceFile {
        name: "t10k-images-idx3-ubyte.gz",
        url: "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
        origin: origin(1_648_877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        also: None,
    },
    SourceFile {
        name: "t10k-labels-idx1-ubyte.gz",
        url: "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz",
        origin: origin(4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        also: None,
    },
];

/// CIFAR-10's binary version, kept beside the batches unpacked from it.
pub const CIFAR10_ARCHIVE: SourceFile = SourceFile {
    name: "cifar-10-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    origin: origin(170_052_171, "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"),
    also: None,
};

const CIFAR10: [SourceFile; 1] = [CIFAR10_ARCHIVE];

/// Bytes of every official CIFAR-10 batch file: 10,000 records.
pub const CIFAR10_BATCH_BYTES: u64 = 10_000 * cifar::RECORD as u64;

impl DatasetKind {
    /// The files to download, as published.
    pub fn sources(self) -> &'static [SourceFile] {
        match self {
            Self::FashionMnist => &FASHION_MNIST,
            Self::Mnist => &MNIST,
            Self::Cifar10 => &CIFAR10,
        }
    }

    /// Debian's directory of the dataset, where a Debian package ships it (`dataset-fashion-mnist`).
    pub fn debian_dir(self) -> Option<&'static Path> {
        match self {
            Self::FashionMnist => Some(Path::new(DEBIAN_FASHION_MNIST)),
            _ => None,
        }
    }

    /// The dataset's directory under `root` (see [`cache_root`]).
    pub fn dir_in(self, root: &Path) -> PathBuf {
        root.join(self.name())
    }

    /// Whether every file the reader needs is in `dir` (not whether it is intact: see [`check`](Self::check)).
    pub fn present_in(self, dir: &Path) -> bool {
        match self {
            Self::Cifar10 => cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]).all(|name| dir.join(name).is_file()),
            _ => self.sources().iter().all(|f| dir.join(f.name).is_file()),
        }
    }

    /// Checks the copy in `dir`: every downloaded file against its pinned size and SHA-256, and, for CIFAR-10, the
    /// archive and the size of every batch unpacked from it. Returns whose copy it is.
    pub fn check(self, dir: &Path) -> Result<&'static str> {
        let mut copy = "the origin's";
        for file in self.sources() {
            copy = file.check(&dir.join(file.name))?.copy;
        }
        if self == Self::Cifar10 {
            for name in cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]) {
                let path = dir.join(name);
                let found = std::fs::metadata(&path).map_err(|e| missing_or_io(&path, e, self))?.len();
                if found != CIFAR10_BATCH_BYTES {
                    return Err(TrainError::Damaged {
                        path,
                        reason: format!("it has {found} bytes where a batch has {CIFAR10_BATCH_BYTES}"),
                        command: fetch_command(self),
                    });
                }
            }
        }
        Ok(copy)
    }
}

/// The command that downloads `kind`, for messages.
pub fn fetch_command(kind: DatasetKind) -> String {
    format!("genius data fetch {}", kind.name())
}

fn missing_or_io(path: &Path, e: std::io::Error, kind: DatasetKind) -> TrainError {
    if e.kind() == std::io::ErrorKind::NotFound {
        TrainError::Missing { path: path.to_owned(), hint: format!("fetch it with `{}`", fetch_command(kind)) }
    } else {
        TrainError::io(path, e)
    }
}

impl SourceFile {
    /// The identities a copy may have.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        std::iter::once(&self.origin).chain(&self.also)
    }

    /// Checks the file at `path` against the pinned sizes and SHA-256; returns the identity it has.
    pub fn check(&self, path: &Path) -> Result<&Identity> {
        let file = std::fs::File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                TrainError::Missing { path: path.to_owned(), hint: format!("download it from {}", self.url) }
            } else {
                TrainError::io(path, e)
            }
        })?;
        let (bytes, sha256) = hash(file).map_err(|e| TrainError::io(path, e))?;
        if let Some(identity) = self.identities().find(|i| i.bytes == bytes && i.sha256 == sha256) {
            return Ok(identity);
        }
        let expected: Vec<String> =
            self.identities().map(|i| format!("{} bytes, SHA-256 {}", i.bytes, i.sha256)).collect();
        Err(TrainError::Damaged {
            path: path.to_owned(),
            reason: format!("it has {bytes} bytes, SHA-256 {sha256}; expected {}", expected.join(", or ")),
            command: format!("download it again from {}", self.url),
        })
    }
}

/// The size and SHA-256 (lowercase hex) of everything `reader` yields.
fn hash(mut reader: impl Read) -> std::io::Result<(u64, String)> {
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
    Ok((total, hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()))
}

/// Unpacks the batches of CIFAR-10's binary archive (`cifar-10-batches-bin/*.bin`) into `dir`, each written beside
/// its target and renamed into place once complete. Check the archive first ([`SourceFile::check`]).
pub fn unpack_cifar10(archive: &Path, dir: &Path) -> Result<()> {
    let file = std::fs::File::open(archive).map_err(|e| TrainError::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let bad = |e: std::io::Error| TrainError::Format {
        path: archive.to_owned(),
        format: "CIFAR-10's binary archive",
        reason: e.to_string(),
    };
    let wanted: Vec<&str> = cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]).copied().collect();
    let mut unpacked = 0;
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| wanted.contains(n)) else { continue };
        let target = dir.join(name);
        let part = dir.join(format!(".{name}.part"));
        let mut out = std::fs::File::create(&part).map_err(|e| TrainError::io(&part, e))?;
        std::io::copy(&mut entry, &mut out).map_err(bad)?;
        out.sync_all().map_err(|e| TrainError::io(&part, e))?;
        std::fs::rename(&part, &target).map_err(|e| TrainError::io(&target, e))?;
        unpacked += 1;
    }
    if unpacked != wanted.len() {
        return Err(bad(std::io::Error::other(format!(
            "it holds {unpacked} of the {} batch files (cifar-10-batches-bin/data_batch_1.bin … test_batch.bin)",
            wanted.len()
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_accepted_only_with_a_pinned_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.gz");
        let file = SourceFile {
            name: "labels.gz",
            url: "https://example.org/labels.gz",
            origin: origin(3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            also: debian(0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        };
        let e = file.check(&path).unwrap_err();
        assert!(e.to_string().contains("no such file; download it from https://example.org/labels.gz"), "{e}");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(file.check(&path).unwrap().copy, "the origin's");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(file.check(&path).unwrap().copy, "Debian's dataset-fashion-mnist");
        std::fs::write(&path, b"abd").unwrap();
        let e = file.check(&path).unwrap_err();
        assert!(e.to_string().contains("damaged or another version: it has 3 bytes, SHA-256 a52d159f"), "{e}");
    }

    #[test]
    fn cifar10_batches_are_unpacked_from_the_archive_and_then_readable() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("cifar-10-binary.tar.gz");
        let gz = flate2::write::GzEncoder::new(std::fs::File::create(&archive).unwrap(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let record = |label: u8| std::iter::once(label).chain(std::iter::repeat_n(label, cifar::RECORD - 1));
        let mut add = |name: &str, labels: &[u8]| {
            let bytes: Vec<u8> = labels.iter().flat_map(|&l| record(l)).collect();
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, format!("cifar-10-batches-bin/{name}"), &bytes[..]).unwrap();
        };
        add("batches.meta.txt", &[]);
        for (i, name) in cifar::TRAIN_FILES.iter().enumerate() {
            add(name, &[i as u8, 9]);
        }
        add(cifar::TEST_FILE, &[7]);
        tar.into_inner().unwrap().finish().unwrap();

        let out = dir.path().join("cifar10");
        std::fs::create_dir(&out).unwrap();
        unpack_cifar10(&archive, &out).unwrap();
        assert!(DatasetKind::Cifar10.present_in(&out));
        assert!(!out.join("batches.meta.txt").exists(), "only the batches are unpacked");
        let (train, test) = DatasetKind::Cifar10.read(&out).unwrap();
        assert_eq!(train.labels, [0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
        assert_eq!(test.labels, [7]);
        // A check wants the pinned archive beside the batches.
        let e = DatasetKind::Cifar10.check(&out).unwrap_err();
        assert!(e.to_string().contains("cifar-10-binary.tar.gz: no such file"), "{e}");
    }

    #[test]
    fn every_dataset_pins_its_files() {
        for kind in DatasetKind::ALL {
            for file in kind.sources() {
                assert!(file.url.starts_with("https://") && file.url.ends_with(file.name), "{}", file.url);
                for identity in file.identities() {
                    assert_eq!(identity.sha256.len(), 64);
                    assert!(identity.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                }
            }
        }
    }
}
