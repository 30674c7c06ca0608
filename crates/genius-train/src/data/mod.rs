//! Image classification data: readers for the standard files, a seeded train/validation split, proxy subsets,
//! resizing, normalization and augmentation (random crop with padding, horizontal flip), and batches as `f32`
//! tensors' contents in NCHW order.

pub mod cifar;
pub mod idx;
pub mod sources;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use genius_core::rng::{derive_seed, seeded};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Images of one size with their labels, stored as bytes: image `i` is `channels × height × width` bytes, channel
/// planes one after another, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// The pixels of every image, one image after another.
    pub images: Vec<u8>,
    /// The label of every image.
    pub labels: Vec<u8>,
    /// Channels per image (1 for grayscale, 3 for RGB).
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// The number of classes of the dataset.
    pub classes: usize,
}

impl ImageSet {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        ImageSet { images, labels: indices.iter().map(|&i| self.labels[i]).collect(), ..self.empty_like() }
    }

    fn empty_like(&self) -> ImageSet {
        ImageSet { images: Vec::new(), labels: Vec::new(), ..*self }
    }

    /// Every image resized to `size × size` by bilinear interpolation (pixel centres aligned as PyTorch's
    /// `interpolate(..., align_corners=False)` does); the set itself when it already has that size.
    pub fn resized(&self, size: usize) -> ImageSet {
        if self.height == size && self.width == size {
            return self.clone();
        }
        let taps = |from: usize| -> Vec<(usize, usize, f32)> {
            let scale = from as f32 / size as f32;
            (0..size)
                .map(|o| {
                    let src = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
                    let lo = (src.floor() as usize).min(from - 1);
                    let hi = (lo + 1).min(from - 1);
                    (lo, hi, src - lo as f32)
                })
                .collect()
        };
        let (ys, xs) = (taps(self.height), taps(self.width));
        let mut images = Vec::with_capacity(self.len() * self.channels * size * size);
        for i in 0..self.len() {
            let image = self.image(i);
            for c in 0..self.channels {
                let plane = &image[c * self.height * self.width..(c + 1) * self.height * self.width];
                for &(y0, y1, fy) in &ys {
                    for &(x0, x1, fx) in &xs {
                        let p = |y: usize, x: usize| f32::from(plane[y * self.width + x]);
                        let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
                        let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
                        images.push((top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8);
                    }
                }
            }
        }
        ImageSet { images, labels: self.labels.clone(), height: size, width: size, ..self.empty_like() }
    }

    /// The mean and standard deviation of every channel over all pixels, on the 0–1 scale.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let plane = self.height * self.width;
        let mut sum = vec![0f64; self.channels];
        let mut sq = vec![0f64; self.channels];
        for i in 0..self.len() {
            for (c, chunk) in self.image(i).chunks_exact(plane).enumerate() {
                for &p in chunk {
                    let v = f64::from(p) / 255.0;
                    sum[c] += v;
                    sq[c] += v * v;
                }
            }
        }
        let n = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq.iter().zip(&mean).map(|(s, m)| ((s / n - m * m).max(1e-12)).sqrt() as f32).collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }
}

/// The datasets genius can train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Fashion-MNIST: 60,000 + 10,000 grayscale 28×28 images of clothing, 10 classes (IDX files).
    FashionMnist,
    /// MNIST: 60,000 + 10,000 grayscale 28×28 handwritten digits, 10 classes (IDX files).
    Mnist,
    /// CIFAR-10: 50,000 + 10,000 colour 32×32 images, 10 classes (binary batches).
    Cifar10,
}

impl DatasetKind {
    /// Every dataset.
    pub const ALL: [DatasetKind; 3] = [DatasetKind::FashionMnist, DatasetKind::Mnist, DatasetKind::Cifar10];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::FashionMnist => "fashion-mnist",
            Self::Mnist => "mnist",
            Self::Cifar10 => "cifar10",
        }
    }

    /// The number of classes.
    pub fn classes(self) -> usize {
        10
    }

    /// Where the dataset is looked for when no directory is given: Debian's `dataset-fashion-mnist` package for
    /// Fashion-MNIST where it is installed, else `<root>/<name>` with `root` the datasets' directory
    /// ([`sources::cache_root`], e.g. `~/.cache/genius/datasets/cifar10`), where `genius data fetch NAME` puts it.
    pub fn default_dir(self, root: &Path) -> PathBuf {
        match self.debian_dir() {
            Some(debian) if self.present_in(debian) => debian.to_owned(),
            _ => self.dir_in(root),
        }
    }

    /// The augmentation that fits the images: random crops padded by 4 pixels and horizontal flips for CIFAR-10
    /// and Fashion-MNIST (clothes mirror well), crops padded by 2 without flips for MNIST (digits do not).
    pub fn augmentation(self) -> Augmentation {
        match self {
            Self::Cifar10 | Self::FashionMnist => Augmentation { crop_padding: 4, flip: true },
            Self::Mnist => Augmentation { crop_padding: 2, flip: false },
        }
    }

    /// Reads the training and test sets from `dir`.
    pub fn read(self, dir: &Path) -> Result<(ImageSet, ImageSet)> {
        match self {
            Self::Cifar10 => cifar::read(dir),
            Self::FashionMnist | Self::Mnist => {
                let hint = format!(
                    "fetch the dataset with `{}` (needs internet){}, or pass the directory holding its IDX files \
                     (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], \
                     t10k-labels-idx1-ubyte[.gz]) with --dataset-dir",
                    sources::fetch_command(self),
                    if self == Self::FashionMnist {
                        ", or install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
                    } else {
                        ""
                    }
                );
                let file = |name: &str| idx::find(dir, name, &hint);
                let train = idx::read_pair(&file("train-images-idx3-ubyte")?, &file("train-labels-idx1-ubyte")?, 10)?;
                let test = idx::read_pair(&file("t10k-images-idx3-ubyte")?, &file("t10k-labels-idx1-ubyte")?, 10)?;
                Ok((train, test))
            }
        }
    }
}

impl FromStr for DatasetKind {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            TrainError::settings(
                "dataset",
                format!("unknown dataset `{s}`; known datasets: {}", Self::ALL.map(DatasetKind::name).join(", ")),
            )
        })
    }
}

/// Training-time augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Augmentation {
    /// Pad every side by this many zero pixels, then crop a random window of the original size (0: no crop).
    pub crop_padding: usize,
    /// Mirror left-right with probability one half.
    pub flip: bool,
}

impl Augmentation {
    /// No augmentation.
    pub const NONE: Augmentation = Augmentation { crop_padding: 0, flip: false };
}

/// How to cut a dataset into the sets a training evaluator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitSpec {
    /// Images held out of the training set for validation.
    pub validation: usize,
    /// Training images used (after the validation images are set aside); `None` for all of them.
    pub subset: Option<usize>,
    /// Test images evaluated; `None` for all of them.
    pub test_subset: Option<usize>,
    /// Side of the square images the network sees.
    pub resolution: usize,
    /// Seed of the permutation that picks the validation, training and test images.
    pub seed: u64,
}

/// A dataset cut into training, validation and test sets at the training resolution, with the normalization of
/// the training set and the augmentation that fits it.
#[derive(Debug, Clone)]
pub struct Splits {
    /// The dataset's name.
    pub name: String,
    /// Training images.
    pub train: ImageSet,
    /// Validation images (held out of the training set).
    pub val: ImageSet,
    /// Test images (never used for any decision).
    pub test: ImageSet,
    /// Per-channel mean of the training images, 0–1 scale.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of the training images, 0–1 scale.
    pub std: Vec<f32>,
    /// Training-time augmentation.
    pub augmentation: Augmentation,
}

impl Splits {
    /// Cuts `train` and `test` as `spec` says: a seeded permutation of the training set gives the first
    /// `validation` images to validation and the next `subset` to training; a seeded permutation of the test set
    /// gives its first `test_subset`. Every set is then resized to the resolution.
    pub fn new(
        name: &str,
        train: &ImageSet,
        test: &ImageSet,
        spec: SplitSpec,
        augmentation: Augmentation,
    ) -> Result<Self> {
        if spec.validation == 0 || spec.validation >= train.len() {
            return Err(TrainError::settings(
                "validation",
                format!(
                    "{} validation images cannot be held out of {} training images; use 1 to {}",
                    spec.validation,
                    train.len(),
                    train.len().saturating_sub(1)
                ),
            ));
        }
        let available = train.len() - spec.validation;
        let used = spec.subset.unwrap_or(available);
        if used == 0 || used > available {
            return Err(TrainError::settings(
                "subset",
                format!(
                    "{used} training images requested, but {available} remain after validation; use 1 to {available}"
                ),
            ));
        }
        let tested = spec.test_subset.unwrap_or(test.len());
        if tested == 0 || tested > test.len() {
            return Err(TrainError::settings(
                "test_subset",
                format!("{tested} test images requested, but the test set holds {}", test.len()),
            ));
        }
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut seeded(derive_seed(spec.seed, 1)));
        let val = train.select(&order[..spec.validation]).resized(spec.resolution);
        let training = train.select(&order[spec.validation..spec.validation + used]).resized(spec.resolution);
        let mut test_order: Vec<usize> = (0..test.len()).collect();
        if tested < test.len() {
            test_order.shuffle(&mut seeded(derive_seed(spec.seed, 2)));
            test_order.truncate(tested);
        }
        let test = test.select(&test_order).resized(spec.resolution);
        let (mean, std) = training.channel_stats();
        Ok(Self { name: name.to_owned(), train: training, val, test, mean, std, augmentation })
    }
}

/// One batch: images as `batch × channels × size × size` normalized floats, and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The pixel values, NCHW.
    pub images: Vec<f32>,
    /// The label of every image.
    pub labels: Vec<i64>,
    /// Images in the batch.
    pub len: usize,
    /// Channels per image.
    pub channels: usize,
    /// Image side.
    pub size: usize,
}

/// Builds the batch of images `indices` of `set` for a network of `channels` input channels (grayscale images are
/// repeated over the channels), normalized by `mean`/`std`, augmented by `augmentation` drawing from `rng`.
pub fn batch(
    set: &ImageSet,
    indices: &[usize],
    channels: usize,
    mean: &[f32],
    std: &[f32],
    augmentation: Augmentation,
    rng: &mut genius_core::SearchRng,
) -> Batch {
    let size = set.height;
    debug_assert_eq!(set.height, set.width, "images are square at the training resolution");
    let plane = size * size;
    let mut images = vec![0f32; indices.len() * channels * plane];
    let pad = augmentation.crop_padding as isize;
    for (b, &i) in indices.iter().enumerate() {
        let (dy, dx) = if pad > 0 {
            (rng.random_range(-pad as i64..=pad as i64) as isize, rng.random_range(-pad as i64..=pad as i64) as isize)
        } else {
            (0, 0)
        };
        let flip = augmentation.flip && rng.random_bool(0.5);
        let image = set.image(i);
        for c in 0..channels {
            let src_c = if set.channels == 1 { 0 } else { c };
            let (m, s) = (mean[src_c], std[src_c]);
            let src = &image[src_c * plane..(src_c + 1) * plane];
            let dst = &mut images[(b * channels + c) * plane..(b * channels + c + 1) * plane];
            let zero = (0.0 - m) / s;
            for y in 0..size {
                let sy = y as isize + dy;
                for x in 0..size {
                    let xx = if flip { size - 1 - x } else { x };
                    let sx = xx as isize + dx;
                    dst[y * size + x] = if sy < 0 || sx < 0 || sy >= size as isize || sx >= size as isize {
                        zero
                    } else {
                        (f32::from(src[sy as usize * size + sx as usize]) / 255.0 - m) / s
                    };
                }
            }
        }
    }
    Batch {
        images,
        labels: indices.iter().map(|&i| i64::from(set.labels[i])).collect(),
        len: indices.len(),
        channels,
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize, channels: usize, side: usize) -> ImageSet {
        let images = (0..n * channels * side * side).map(|i| (i * 7 % 251) as u8).collect();
        ImageSet {
            images,
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
            channels,
            height: side,
            width: side,
            classes: 10,
        }
    }

    #[test]
    fn splits_are_seeded_disjoint_and_sized() {
        let train = set(100, 1, 4);
        let test = set(30, 1, 4);
        let spec = SplitSpec { validation: 20, subset: Some(50), test_subset: Some(10), resolution: 8, seed: 3 };
        let a = Splits::new("t", &train, &test, spec, Augmentation::NONE).unwrap();
        let b = Splits::new("t", &train, &test, spec, Augmentation::NONE).unwrap();
        assert_eq!((a.train.len(), a.val.len(), a.test.len()), (50, 20, 10));
        assert_eq!(a.train, b.train);
        assert_eq!(a.train.height, 8);
        let c = Splits::new("t", &train, &test, SplitSpec { seed: 4, ..spec }, Augmentation::NONE).unwrap();
        assert_ne!(a.val, c.val);
        let e =
            Splits::new("t", &train, &test, SplitSpec { subset: Some(81), ..spec }, Augmentation::NONE).unwrap_err();
        assert!(e.to_string().contains("80 remain after validation"), "{e}");
        let e = Splits::new("t", &train, &test, SplitSpec { validation: 100, ..spec }, Augmentation::NONE).unwrap_err();
        assert!(e.to_string().contains("`validation`"), "{e}");
    }

    #[test]
    fn resizing_keeps_constant_images_and_interpolates() {
        let flat =
            ImageSet { images: vec![9; 2 * 16], labels: vec![1, 2], channels: 1, height: 4, width: 4, classes: 10 };
        let big = flat.resized(7);
        assert_eq!((big.height, big.images.len()), (7, 2 * 49));
        assert!(big.images.iter().all(|&p| p == 9));
        let ramp =
            ImageSet { images: vec![0, 100, 0, 100], labels: vec![0], channels: 1, height: 2, width: 2, classes: 10 };
        let up = ramp.resized(4);
        assert_eq!(&up.images[..4], &[0, 25, 75, 100]);
    }

    #[test]
    fn batches_normalize_repeat_gray_and_augment() {
        let s = set(4, 1, 4);
        let (mean, std) = (vec![0.5], vec![0.25]);
        let mut rng = seeded(0);
        let plain = batch(&s, &[2, 0], 3, &mean, &std, Augmentation::NONE, &mut rng);
        assert_eq!(plain.images.len(), 2 * 3 * 16);
        assert_eq!(plain.labels, vec![2, 0]);
        let first = (f32::from(s.image(2)[0]) / 255.0 - 0.5) / 0.25;
        assert_eq!(plain.images[0], first);
        assert_eq!(plain.images[16], first, "the gray channel is repeated");
        let flipped = batch(&s, &[2], 1, &mean, &std, Augmentation { crop_padding: 0, flip: true }, &mut seeded(1));
        let flipped2 = batch(&s, &[2], 1, &mean, &std, Augmentation { crop_padding: 0, flip: true }, &mut seeded(1));
        assert_eq!(flipped, flipped2, "augmentation is seeded");
        let mut crops = std::collections::HashSet::new();
        let mut rng = seeded(5);
        for _ in 0..50 {
            let b = batch(&s, &[1], 1, &mean, &std, Augmentation { crop_padding: 2, flip: false }, &mut rng);
            crops.insert(b.images.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        assert!(crops.len() > 5, "random crops differ");
    }

    #[test]
    fn channel_stats_are_per_channel() {
        let s = ImageSet {
            images: vec![0, 0, 255, 255, 51, 51, 51, 51],
            labels: vec![0],
            channels: 2,
            height: 2,
            width: 2,
            classes: 10,
        };
        let (mean, std) = s.channel_stats();
        assert!((mean[0] - 0.5).abs() < 1e-6 && (std[0] - 0.5).abs() < 1e-6);
        assert!((mean[1] - 0.2).abs() < 1e-6 && std[1] < 1e-3);
    }
}
