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

pub use batch::{one_hot, one_hot_rows, Batch, BatchConfig, BatchImages, Batches, HostBatches};
pub use cifar10::{
    data_dir, encode_records, locate, parse_records, read_batch_file, read_class_names, Cifar10,
    Images, Source, CHANNELS, FOLDER, IMAGE_SIZE, META_FILE, NUM_CLASSES, PIXELS, RECORD_BYTES,
    TEST_FILE, TRAIN_FILES,
};
pub use png_image::{read_image, read_png_as_image, rgb_to_image};
pub use split::{default_val_size, Splits, DEFAULT_VAL_SIZE};
pub use transform::{random_crop_flip, resize_bilinear, resize_planes, Normalization};

use crate::{Error, Result};
use std::path::{Path, PathBuf};

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

/// The variable that names the data folder when no folder is given explicitly.
pub const DATA_DIR_VAR: &str = "ALEXNET_LAB_DATA";

/// The data folder the user named: `explicit` (a command-line flag), else
/// `$ALEXNET_LAB_DATA`; `None` when they named none.
pub fn named_data_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    match (explicit, std::env::var_os(DATA_DIR_VAR)) {
        (Some(dir), _) => Some(dir.to_path_buf()),
        (None, Some(dir)) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => None,
    }
}

/// CIFAR-10 as a user asks for it, with a note to show them when it is not what they might
/// expect. A folder they named (`explicit`, else `$ALEXNET_LAB_DATA`) must hold CIFAR-10;
/// only the default location (`data/` in the repository) falls back to the synthetic set
/// (`per_class` training images per class, seeded), and the note says so.
///
/// # Errors
/// A named folder without CIFAR-10, or CIFAR-10 files that are there but damaged.
pub fn load_dataset(
    explicit: Option<&Path>,
    per_class: usize,
    seed: u64,
) -> Result<(Cifar10, Option<String>)> {
    if let Some(dir) = named_data_dir(explicit) {
        if locate(&dir).is_none() {
            let what = format!(
                "holds no CIFAR-10 (it should contain {FOLDER}/ with {} .. {TEST_FILE}, or be that folder): \
                 check the path, or download CIFAR-10 into it",
                TRAIN_FILES[0]
            );
            return Err(Error::data(dir, what));
        }
        return Ok((Cifar10::load(&dir)?, None));
    }
    let dir = data_dir(None);
    if locate(&dir).is_some() {
        return Ok((Cifar10::load(&dir)?, None));
    }
    let note = format!(
        "no CIFAR-10 in the default data folder {} (download it there, or name a folder): using the synthetic set",
        dir.display()
    );
    Ok((
        synthetic::generate(per_class, (per_class / 5).max(1), seed),
        Some(note),
    ))
}
