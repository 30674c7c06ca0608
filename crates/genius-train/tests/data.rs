//! The dataset readers: CIFAR-10 batches and IDX files written by the test in the official formats, bad files, and
//! the real Fashion-MNIST of Debian's `dataset-fashion-mnist` package.

use std::io::Write;
use std::path::Path;

use genius_train::data::{ImageSet, cifar, idx};
use genius_train::{DatasetKind, TrainError};

fn images(n: usize, channels: usize, side: usize, seed: u8) -> ImageSet {
    ImageSet {
        images: (0..n * channels * side * side).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect(),
        labels: (0..n).map(|i| ((i + seed as usize) % 10) as u8).collect(),
        channels,
        height: side,
        width: side,
        classes: 10,
    }
}

fn gzip(path: &Path, bytes: &[u8]) {
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn cifar10_batches_read_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let batches: Vec<ImageSet> = (0..5).map(|b| images(3 + b, 3, 32, b as u8)).collect();
    for (name, set) in cifar::TRAIN_FILES.iter().zip(&batches) {
        cifar::write_batch(&dir.path().join(name), set).unwrap();
    }
    let test = images(4, 3, 32, 9);
    cifar::write_batch(&dir.path().join(cifar::TEST_FILE), &test).unwrap();
    // The official layout: the label byte, then 1024 red, 1024 green, 1024 blue bytes.
    let raw = std::fs::read(dir.path().join(cifar::TEST_FILE)).unwrap();
    assert_eq!(raw.len(), 4 * 3073);
    assert_eq!(raw[3073], test.labels[1]);
    assert_eq!(raw[3073 + 1 + 1024], test.image(1)[1024], "the green plane follows the red one");

    let (train, read_test) = DatasetKind::Cifar10.read(dir.path()).unwrap();
    assert_eq!(read_test, test);
    assert_eq!(train.len(), 3 + 4 + 5 + 6 + 7);
    assert_eq!(train.image(3), batches[1].image(0), "batches are concatenated in order");
    assert_eq!((train.channels, train.height, train.classes), (3, 32, 10));
}

#[test]
fn bad_cifar10_files_are_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    let e = cifar::read_batch(&path).unwrap_err();
    assert!(matches!(e, TrainError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("data_batch_1.bin: no such file") && e.to_string().contains("--dataset-dir"), "{e}");

    cifar::write_batch(&path, &images(2, 3, 32, 0)).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(3073 + 1000);
    std::fs::write(&path, &bytes).unwrap();
    let e = cifar::read_batch(&path).unwrap_err();
    assert!(e.to_string().contains("is truncated: expected 6146 bytes, found 4073"), "{e}");

    bytes.truncate(3073);
    bytes[0] = 10;
    std::fs::write(&path, &bytes).unwrap();
    let e = cifar::read_batch(&path).unwrap_err();
    assert!(e.to_string().contains("record 0 has label 10") && e.to_string().contains("classes 0..10"), "{e}");

    std::fs::write(&path, b"").unwrap();
    assert!(cifar::read_batch(&path).unwrap_err().to_string().contains("the file is empty"));
}

#[test]
fn idx_files_read_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let set = images(5, 1, 6, 1);
    idx::write(&dir.path().join("train-images-idx3-ubyte"), &[5, 6, 6], &set.images).unwrap();
    let mut labels = Vec::new();
    idx::write(&dir.path().join("labels.tmp"), &[5], &set.labels).unwrap();
    labels.extend(std::fs::read(dir.path().join("labels.tmp")).unwrap());
    gzip(&dir.path().join("train-labels-idx1-ubyte.gz"), &labels);
    let test = images(2, 1, 6, 3);
    let mut raw = Vec::new();
    idx::write(&dir.path().join("t.tmp"), &[2, 6, 6], &test.images).unwrap();
    raw.extend(std::fs::read(dir.path().join("t.tmp")).unwrap());
    gzip(&dir.path().join("t10k-images-idx3-ubyte.gz"), &raw);
    idx::write(&dir.path().join("t10k-labels-idx1-ubyte"), &[2], &test.labels).unwrap();

    let (train, read_test) = DatasetKind::Mnist.read(dir.path()).unwrap();
    assert_eq!(train, set);
    assert_eq!(read_test, test);
}

#[test]
fn bad_idx_files_are_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let images_path = dir.path().join("imgs");
    let labels_path = dir.path().join("lbls");
    idx::write(&images_path, &[3, 2, 2], &[7; 12]).unwrap();
    idx::write(&labels_path, &[4], &[1, 2, 3, 4]).unwrap();
    let e = idx::read_pair(&images_path, &labels_path, 10).unwrap_err();
    assert!(e.to_string().contains("holds 3 images but") && e.to_string().contains("holds 4 labels"), "{e}");

    idx::write(&labels_path, &[3], &[1, 12, 3]).unwrap();
    let e = idx::read_pair(&images_path, &labels_path, 10).unwrap_err();
    assert!(e.to_string().contains("record 1 has label 12"), "{e}");

    let mut truncated = std::fs::read(&images_path).unwrap();
    truncated.truncate(truncated.len() - 5);
    std::fs::write(&images_path, &truncated).unwrap();
    let e = idx::read_images(&images_path).unwrap_err();
    assert!(e.to_string().contains("is truncated: expected 28 bytes, found 23"), "{e}");

    let e = idx::read_images(&labels_path).unwrap_err();
    assert!(e.to_string().contains("is not an IDX image file: its magic number is [00, 00, 08, 01]"), "{e}");

    let gz = dir.path().join("cut.gz");
    gzip(&gz, &[0u8; 4000]);
    let mut bytes = std::fs::read(&gz).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&gz, &bytes).unwrap();
    let e = idx::read_labels(&gz).unwrap_err();
    assert!(e.to_string().contains("is not a complete gzip file"), "{e}");

    let e = DatasetKind::FashionMnist.read(dir.path()).unwrap_err();
    assert!(e.to_string().contains("train-images-idx3-ubyte.gz: no such file"), "{e}");
    assert!(e.to_string().contains("apt-get install dataset-fashion-mnist"), "{e}");
}

#[test]
fn the_real_fashion_mnist_is_read_whole_and_balanced() {
    let dir = DatasetKind::FashionMnist.default_dir(&genius_train::data::sources::cache_root());
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "this test needs Fashion-MNIST: run the tests with scripts/test.sh (it fetches it), or `genius data fetch fashion-mnist`"
    );
    let (train, test) = DatasetKind::FashionMnist.read(&dir).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!((train.channels, train.height, train.width), (1, 28, 28));
    for class in 0..10u8 {
        assert_eq!(train.labels.iter().filter(|&&l| l == class).count(), 6000, "class {class}");
        assert_eq!(test.labels.iter().filter(|&&l| l == class).count(), 1000, "class {class}");
    }
    let (mean, std) = train.channel_stats();
    // The usual Fashion-MNIST normalization constants.
    assert!((mean[0] - 0.2860).abs() < 1e-3 && (std[0] - 0.3530).abs() < 1e-3, "{mean:?} {std:?}");
}
