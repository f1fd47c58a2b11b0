//! The data half of the course: CIFAR-10 (download, verify, load), the article's splits,
//! transforms, mini-batches, and a synthetic twin for offline work and tests.
//!
//! Taught in `notebooks/01-cifar10.ipynb`.

mod batch;
mod cifar10;
#[cfg(feature = "download")]
pub mod download;
mod png_image;
mod split;
pub mod synthetic;
mod transform;
mod view;

pub use batch::{one_hot, Batch, BatchConfig, BatchImages, Batches};
pub use cifar10::{
    data_dir, encode_records, locate, parse_records, read_batch_file, read_class_names, Cifar10,
    Images, Source, CHANNELS, FOLDER, IMAGE_SIZE, META_FILE, NUM_CLASSES, PIXELS, RECORD_BYTES,
    TEST_FILE, TRAIN_FILES,
};
pub use png_image::read_png_as_image;
pub use split::{Splits, DEFAULT_VAL_SIZE};
pub use transform::{random_crop_flip, resize_bilinear, Normalization};

use crate::Result;
use std::path::Path;

/// CIFAR-10 from `dir` if it is there; otherwise the synthetic set (`per_class` training
/// images per class, seeded), said out loud in the returned [`Source`].
///
/// # Errors
/// CIFAR-10 files that are there but damaged: those are never silently replaced.
pub fn load_or_synthetic(dir: &Path, per_class: usize, seed: u64) -> Result<Cifar10> {
    match locate(dir) {
        Some(_) => Cifar10::load(dir),
        None => Ok(synthetic::generate(per_class, (per_class / 5).max(1), seed)),
    }
}
