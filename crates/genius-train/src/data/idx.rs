//! MNIST-format IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, …), plain or gzipped.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, the element type — `0x08` for unsigned bytes — and the number
//! of dimensions), one big-endian `u32` per dimension, then the elements in row-major order.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::ImageSet;
use crate::error::{Result, TrainError};

/// Reads a whole file, gunzipping it when it starts with the gzip magic bytes.
pub(crate) fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(|e| TrainError::Format {
            path: path.to_owned(),
            format: "a complete gzip file",
            reason: format!("{e} (the download was cut short or the file is damaged)"),
        })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// The dimensions and elements of an IDX file of unsigned bytes with `dims` dimensions.
fn parse(path: &Path, bytes: &[u8], dims: usize, format: &'static str) -> Result<(Vec<usize>, Vec<u8>)> {
    let bad = |reason: String| TrainError::Format { path: path.to_owned(), format, reason };
    let header = 4 + 4 * dims;
    let magic = &bytes[..bytes.len().min(4)];
    if magic.len() == 4 && magic != [0, 0, 0x08, dims as u8] {
        return Err(bad(format!(
            "its magic number is {magic:02x?}, expected [00, 00, 08, {dims:02x}] (unsigned bytes, {dims} dimensions)"
        )));
    }
    if bytes.len() < header {
        return Err(TrainError::Truncated {
            path: path.to_owned(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let shape: Vec<usize> = (0..dims)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().expect("4 bytes")) as usize)
        .collect();
    let count =
        shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n)).ok_or_else(|| bad("impossible size".into()))?;
    let body = &bytes[header..];
    if body.len() < count {
        return Err(TrainError::Truncated {
            path: path.to_owned(),
            expected: (header + count) as u64,
            found: bytes.len() as u64,
        });
    }
    if body.len() > count {
        return Err(bad(format!("{} bytes follow the {count} elements its header announces", body.len() - count)));
    }
    Ok((shape, body.to_vec()))
}

/// Reads an IDX image file (3 dimensions: count, rows, columns): `(count, rows, columns, pixels)`.
pub fn read_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let bytes = read_maybe_gzipped(path)?;
    let (shape, pixels) = parse(path, &bytes, 3, "an IDX image file")?;
    Ok((shape[0], shape[1], shape[2], pixels))
}

/// Reads an IDX label file (1 dimension).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_maybe_gzipped(path)?;
    Ok(parse(path, &bytes, 1, "an IDX label file")?.1)
}

/// `dir/name`, or `dir/name.gz` when only that exists; an error with `hint` when neither does.
pub(crate) fn find(dir: &Path, name: &str, hint: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if plain.is_file() {
        Ok(plain)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(TrainError::Missing { path: gz, hint: hint.to_owned() })
    }
}

/// Reads a pair of IDX files (images and their labels) of a dataset with `classes` classes, checking that they
/// belong together and that every label is a class.
pub fn read_pair(images: &Path, labels: &Path, classes: usize) -> Result<ImageSet> {
    let (count, rows, columns, pixels) = read_images(images)?;
    let label_values = read_labels(labels)?;
    if label_values.len() != count {
        return Err(TrainError::Mismatch {
            images: images.to_owned(),
            image_count: count,
            labels: labels.to_owned(),
            label_count: label_values.len(),
        });
    }
    if let Some((index, &label)) = label_values.iter().enumerate().find(|(_, l)| usize::from(**l) >= classes) {
        return Err(TrainError::Mislabelled { path: labels.to_owned(), index, label, classes });
    }
    Ok(ImageSet { images: pixels, labels: label_values, channels: 1, height: rows, width: columns, classes })
}

/// Writes an IDX file of unsigned bytes with shape `shape` (used by tests to make files in the official format).
pub fn write(path: &Path, shape: &[usize], elements: &[u8]) -> std::io::Result<()> {
    let mut out = vec![0, 0, 0x08, shape.len() as u8];
    for &d in shape {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(elements);
    std::fs::write(path, out)
}
