//! The CIFAR-10 binary version (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin` and
//! `test_batch.bin`, each a sequence of 3,073-byte records: one label byte (0–9), then the 32×32 image as 1,024 red,
//! 1,024 green and 1,024 blue bytes, rows top to bottom. The official files hold 10,000 records each; smaller files
//! in the same format read too.

use std::path::Path;

use super::ImageSet;
use crate::error::{Result, TrainError};

/// Image side.
pub const SIDE: usize = 32;
/// Bytes per record: the label and 3 × 32 × 32 pixels.
pub const RECORD: usize = 1 + 3 * SIDE * SIDE;
/// The training batch files.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
/// The test batch file.
pub const TEST_FILE: &str = "test_batch.bin";
/// CIFAR-10's classes.
pub const CLASSES: usize = 10;

const HINT: &str = "fetch the dataset with `genius data fetch cifar10` (needs internet), or unpack the CIFAR-10 \
                    binary version (cifar-10-binary.tar.gz) so that a directory holds data_batch_1.bin … \
                    data_batch_5.bin and test_batch.bin and pass it with --dataset-dir";

/// Reads one batch file.
pub fn read_batch(path: &Path) -> Result<ImageSet> {
    if !path.is_file() {
        return Err(TrainError::Missing { path: path.to_owned(), hint: HINT.into() });
    }
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    if bytes.is_empty() {
        return Err(TrainError::Format {
            path: path.to_owned(),
            format: "a CIFAR-10 binary batch",
            reason: "the file is empty".into(),
        });
    }
    if !bytes.len().is_multiple_of(RECORD) {
        let records = bytes.len().div_ceil(RECORD);
        return Err(TrainError::Truncated {
            path: path.to_owned(),
            expected: (records * RECORD) as u64,
            found: bytes.len() as u64,
        });
    }
    let count = bytes.len() / RECORD;
    let mut images = Vec::with_capacity(count * (RECORD - 1));
    let mut labels = Vec::with_capacity(count);
    for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if usize::from(label) >= CLASSES {
            return Err(TrainError::Mislabelled { path: path.to_owned(), index, label, classes: CLASSES });
        }
        labels.push(label);
        images.extend_from_slice(&record[1..]);
    }
    Ok(ImageSet { images, labels, channels: 3, height: SIDE, width: SIDE, classes: CLASSES })
}

/// Reads the training batches (in order, concatenated) and the test batch of `dir`.
pub fn read(dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let mut train = read_batch(&dir.join(TRAIN_FILES[0]))?;
    for name in &TRAIN_FILES[1..] {
        let more = read_batch(&dir.join(name))?;
        train.images.extend_from_slice(&more.images);
        train.labels.extend_from_slice(&more.labels);
    }
    let test = read_batch(&dir.join(TEST_FILE))?;
    Ok((train, test))
}

/// Writes `set` (3 × 32 × 32 images) as a batch file in the official format (used by tests).
///
/// # Panics
/// When the images are not 3 × 32 × 32.
pub fn write_batch(path: &Path, set: &ImageSet) -> std::io::Result<()> {
    assert_eq!((set.channels, set.height, set.width), (3, SIDE, SIDE), "CIFAR-10 images are 3×32×32");
    let mut out = Vec::with_capacity(set.len() * RECORD);
    for i in 0..set.len() {
        out.push(set.labels[i]);
        out.extend_from_slice(set.image(i));
    }
    std::fs::write(path, out)
}
