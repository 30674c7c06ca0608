//! The converted copy of a model file whose matrices candle multiplies with scalar code only (Q4_1, Q5_0, Q5_1 and
//! Q8_1 in candle 0.11: some 30 times slower than its SIMD formats), unless genius's own product
//! ([`super::qmatmul`]) multiplies them: Q4_1 in the forward passes written here (Llama, Qwen2, Qwen3, Gemma 3), so
//! the default SmolLM2 file needs no copy. Those matrices are requantized to Q8_0 (8.5 bits a weight: near-lossless
//! from 4 or 5 bits, and fast) once, and the weights are written as a GGUF file in the model directory's
//! `converted/` folder; every later load reads that copy like any model file, with no requantization and no second
//! copy of the weights in memory.
//!
//! A copy is named after its source file and a key of the source's full path, size and modification time, so that a
//! file downloaded again or edited is converted again (the copies of its older versions are removed then). It is
//! written to a temporary file and renamed into place, so that two processes loading the same file never read a
//! half-written copy. Where the folder cannot be written, the conversion happens in memory each time (the same
//! weights, a higher peak).

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use sha2::{Digest, Sha256};

/// Part of a copy's name that says what it holds; a change to the conversion changes it.
const FORMAT: &str = "q8_0-v2";

/// The formats of copies made by earlier versions, removed when a file is loaded.
const EARLIER_FORMATS: [&str; 1] = ["q8_0-v1"];

/// Whether weights of `dtype` are multiplied with SIMD on this CPU's kind (x86-64 with AVX2, ARM with NEON): by
/// candle, or, where `own_product` (the forward passes written here), by genius's own product too.
pub fn fast(dtype: GgmlDType, own_product: bool) -> bool {
    let ours = own_product && super::qmatmul::Format::of(dtype).is_some() && super::qmatmul::accelerated();
    ours || !matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1)
}

/// Whether the file described by `content` has matrices to convert (see [`fast`]).
pub fn needed(content: &gguf_file::Content, own_product: bool) -> bool {
    content.tensor_infos.values().any(|t| !fast(t.ggml_dtype, own_product))
}

/// The folder converted copies are kept in: `converted/` in [`super::model_dir`].
pub fn folder() -> PathBuf {
    super::model_dir().join("converted")
}

/// Where the converted copy of the model file `path` is kept (in [`folder`]).
pub fn path_of(path: &Path) -> std::io::Result<PathBuf> {
    let full = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&full)?;
    let modified = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let digest = Sha256::digest(format!("{}\n{}\n{modified}", full.display(), meta.len()).as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(folder().join(format!("{}.{key}.{FORMAT}.gguf", stem(path))))
}

/// The source file's name without `.gguf`.
fn stem(path: &Path) -> String {
    let name = path.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    name.strip_suffix(".gguf").map_or(name.clone(), str::to_owned)
}

/// The tensors of `content` (read from `file`) with the slow matrices requantized to Q8_0, and the metadata the
/// weights' loaders read (the tokenizer's lists are not among it).
fn convert(
    content: &gguf_file::Content,
    own_product: bool,
    file: &mut File,
    device: &Device,
) -> candle_core::Result<Vec<(String, QTensor)>> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(file, name, device)?;
        let tensor = if fast(tensor.dtype(), own_product) || tensor.shape().dims().last().is_none_or(|n| n % 32 != 0) {
            tensor
        } else {
            QTensor::quantize(&tensor.dequantize(device)?, GgmlDType::Q8_0)?
        };
        tensors.push((name.clone(), tensor));
    }
    Ok(tensors)
}

/// Writes `content`'s metadata (less the tokenizer's) and `tensors` as GGUF to `out`.
fn write<W: Write + Seek>(
    out: &mut W,
    content: &gguf_file::Content,
    tensors: &[(String, QTensor)],
) -> candle_core::Result<()> {
    let metadata: Vec<(&str, &gguf_file::Value)> =
        content.metadata.iter().filter(|(k, _)| !k.starts_with("tokenizer.")).map(|(k, v)| (k.as_str(), v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(out, &metadata, &refs)
}

/// The converted copy of the model file `path` (its `content` read from `file`): the one kept in [`folder`] when it
/// is there, else made now and kept there. `None` where the folder cannot be written (the caller converts in memory).
pub fn kept(
    path: &Path,
    content: &gguf_file::Content,
    own_product: bool,
    file: &mut File,
    device: &Device,
) -> candle_core::Result<Option<PathBuf>> {
    let Ok(copy) = path_of(path) else { return Ok(None) };
    if copy.is_file() {
        return Ok(Some(copy));
    }
    let dir = folder();
    if std::fs::create_dir_all(&dir).is_err() {
        return Ok(None);
    }
    let Ok(temporary) = tempfile::NamedTempFile::new_in(&dir) else { return Ok(None) };
    let tensors = convert(content, own_product, file, device)?;
    {
        let mut out = BufWriter::new(temporary.as_file());
        if write(&mut out, content, &tensors).is_err() || out.flush().is_err() {
            return Ok(None);
        }
    }
    drop(tensors);
    // Another process may have put the same copy in place meanwhile: either is whole, the rename is atomic.
    if temporary.persist(&copy).is_err() {
        return Ok(copy.is_file().then_some(copy));
    }
    remove_older_copies(path, Some(&copy));
    Ok(Some(copy))
}

/// Removes the copies of the file `path` besides `current`: those of its earlier versions (the same name, another
/// key) and those made by earlier versions of genius (another format), or all of them where the file needs no copy
/// (`current` is `None`).
pub fn remove_older_copies(path: &Path, current: Option<&Path>) {
    let prefix = format!("{}.", stem(path));
    let Ok(entries) = std::fs::read_dir(folder()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = name.strip_prefix(&prefix).and_then(|rest| {
            let rest = rest.strip_suffix(".gguf")?;
            let (key, format) = rest.split_once('.')?;
            (format == FORMAT || EARLIER_FORMATS.contains(&format)).then_some(key)
        });
        // Only `<stem>.<16 hex digits>.<format>.gguf`: another file whose name merely starts alike is left alone.
        let ours = key.is_some_and(|k| k.len() == 16 && k.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours && current.is_none_or(|c| entry.path() != c) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The converted weights of `content` (read from `file`) as an in-memory GGUF file, for where no copy can be kept.
/// The converted tensors are freed before the caller reads the weights back from it.
pub fn in_memory(
    content: &gguf_file::Content,
    own_product: bool,
    file: &mut File,
    device: &Device,
) -> candle_core::Result<std::io::Cursor<Vec<u8>>> {
    let tensors = convert(content, own_product, file, device)?;
    let mut copy = std::io::Cursor::new(Vec::new());
    write(&mut copy, content, &tensors)?;
    drop(tensors);
    copy.set_position(0);
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_named_after_its_source_and_keyed_by_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("SmolLM2-135M-Instruct.Q4_1.gguf");
        std::fs::write(&file, b"one").unwrap();
        let first = path_of(&file).unwrap();
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("SmolLM2-135M-Instruct.Q4_1."), "{name}");
        assert!(name.ends_with(".q8_0-v2.gguf"), "{name}");
        assert_eq!(first, path_of(&file).unwrap(), "the same file, the same copy");
        // Another size is another version of the file.
        std::fs::write(&file, b"three").unwrap();
        assert_ne!(first, path_of(&file).unwrap());
    }

    #[test]
    fn q4_1_needs_no_copy_where_genius_multiplies_it() {
        assert_eq!(fast(GgmlDType::Q4_1, true), super::super::qmatmul::accelerated());
        assert!(!fast(GgmlDType::Q4_1, false));
        assert!(!fast(GgmlDType::Q5_0, true) && !fast(GgmlDType::Q5_0, false));
        assert!(fast(GgmlDType::Q8_0, false) && fast(GgmlDType::Q4K, false));
    }
}
