//! The errors of this crate.

use std::path::PathBuf;

/// Why data could not be read, settings could not be used, or a network could not be trained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A data file is not where it should be.
    #[error("{path}: no such file; {hint}")]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// A data file does not match its pinned size and SHA-256: damaged, cut short, or another version.
    #[error("{path} is damaged or another version: {reason}; {command}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
        /// How to get it again.
        command: String,
    },
    /// A data file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A data file is shorter than its header (or format) says.
    #[error("{path} is truncated: expected {expected} bytes, found {found}; download it again")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header (or the format) promises.
        expected: u64,
        /// Bytes present (after decompression).
        found: u64,
    },
    /// A data file is not in the expected format.
    #[error("{path} is not {format}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The format expected, e.g. `an IDX image file`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A label outside the dataset's classes.
    #[error(
        "{path}: record {index} has label {label}, but the dataset has classes 0..{classes}; the file is mislabelled or not this dataset"
    )]
    Mislabelled {
        /// The file.
        path: PathBuf,
        /// The record.
        index: usize,
        /// Its label.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// Image and label files that do not belong together.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels; they are not a pair")]
    Mismatch {
        /// The image file.
        images: PathBuf,
        /// Its number of images.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Its number of labels.
        label_count: usize,
    },
    /// Settings that cannot be used.
    #[error("invalid training setting `{field}`: {reason}")]
    Settings {
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// Settings of the latency evaluator that cannot be used (the message names the setting).
    #[error("latency: {0}")]
    Latency(String),
    /// A backend or device this build or machine does not have.
    #[error("{0}")]
    Backend(String),
    /// A network the backend cannot build or run.
    #[error("{0}")]
    Network(String),
    /// Training produced a non-finite loss.
    #[error("training diverged: the loss became {loss} at epoch {epoch}, step {step}; lower the learning rate")]
    Diverged {
        /// The epoch (0-based).
        epoch: usize,
        /// The step within the epoch.
        step: usize,
        /// The loss value.
        loss: f64,
    },
}

/// The result type of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn settings(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Settings { field, reason: reason.into() }
    }
}
