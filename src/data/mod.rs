//! The data half of the course: CIFAR-10 and Fashion-MNIST (download, verify, load), the
//! article's splits, transforms (with the paper's PCA colour augmentation and its ten
//! test-time views), mini-batches, and a synthetic set for offline work and tests.
//!
//! Taught in `notebooks/01-cifar10.ipynb`.

mod batch;
mod cifar10;
mod dataset;
#[cfg(feature = "download")]
pub mod download;
pub mod fashion_mnist;
mod lighting;
mod picture;
mod split;
pub mod synthetic;
mod transform;
mod view;

pub use batch::{one_hot, one_hot_rows, Batch, BatchConfig, BatchImages, Batches, HostBatches};
pub use cifar10::{
    encode_records, locate, parse_records, read_batch_file, read_class_names, FOLDER, META_FILE,
    RECORD_BYTES, TEST_FILE, TRAIN_FILES,
};
pub use dataset::{
    Dataset, DatasetKind, Images, Source, CHANNELS, IMAGE_SIZE, NUM_CLASSES, PIXELS,
};
pub use lighting::{symmetric_eigen, PcaLighting, PCA_ALPHA_STD};
pub use picture::{read_image, read_png_as_image, rgb_to_image};
pub use split::{default_val_size, Splits, DEFAULT_VAL_SIZE};
pub use transform::{
    random_crop_flip, resize_bilinear, resize_planes, ten_crops, Normalization, CROP_PAD,
};

use crate::{Error, Result};
use std::path::{Path, PathBuf};

// The random streams drawn from one seed, all in one place. The batches' order, crops and
// flips draw from the seed itself; every other use of randomness mixes its own constant
// into the seed (`seed ^ STREAM`), so that no two share a sequence and turning one on leaves
// the others' draws as they were.

/// The stream of the PCA colour shifts ([`HostBatches::with_lighting`]), mixed into the
/// batches' seed.
pub const LIGHTING_STREAM: u64 = 0x5043_415f_4c49_4748; // "PCA_LIGH"

/// The stream of a fresh run's initial weights (the paper's Gaussian rule), mixed into the
/// run's seed: without it, the weights would be drawn from the same sequence as the first
/// epoch's shuffle (whose seed, for seed 0, is 0 too).
pub const INIT_STREAM: u64 = 0x494e_4954_5745_4947; // "INITWEIG"

/// The real data sets in `dir`, best first (CIFAR-10, then Fashion-MNIST): the ones whose
/// first file is there (the loader checks the rest).
pub fn present(dir: &Path) -> Vec<DatasetKind> {
    let mut kinds = Vec::new();
    if locate(dir).is_some() {
        kinds.push(DatasetKind::Cifar10);
    }
    if fashion_mnist::locate(dir).is_some() {
        kinds.push(DatasetKind::FashionMnist);
    }
    kinds
}

/// Loads data set `kind` from `dir` (the synthetic set: drawn, `per_class` training images
/// per class and a fifth of that for testing, from `seed`; `dir` unused).
///
/// # Errors
/// The files not there (with what to do) or damaged.
pub fn load(kind: DatasetKind, dir: &Path, per_class: usize, seed: u64) -> Result<Dataset> {
    match kind {
        DatasetKind::Cifar10 => Dataset::load_cifar10(dir),
        DatasetKind::FashionMnist => Dataset::load_fashion_mnist(dir),
        DatasetKind::Synthetic => Ok(synthetic::generate(
            per_class,
            test_per_class(per_class),
            seed,
        )),
    }
}

/// The best data in `dir`, at the size a lesson asks for: CIFAR-10 if it is there, else
/// Fashion-MNIST, else the synthetic set; `per_class` training images of each class and a
/// fifth of that (at least one) for testing, whichever set it is (the first ones of a real
/// set; the synthetic set drawn from `seed`). [`Dataset::source`] says which.
///
/// # Errors
/// Files that are there but damaged: those are never silently replaced.
pub fn load_or_synthetic(dir: &Path, per_class: usize, seed: u64) -> Result<Dataset> {
    let best = present(dir)
        .first()
        .copied()
        .unwrap_or(DatasetKind::Synthetic);
    Ok(load(best, dir, per_class, seed)?.per_class(per_class, test_per_class(per_class)))
}

/// Test images per class for `per_class` training images per class, wherever a set is drawn
/// or sliced to a size: a fifth (CIFAR-10's ratio, 50,000 to 10,000), at least one.
pub fn test_per_class(per_class: usize) -> usize {
    (per_class / 5).max(1)
}

/// The variable that names the data folder when no folder is given explicitly.
pub const DATA_DIR_VAR: &str = "ALEXNET_LAB_DATA";

/// Where the data lives: `cli` (`--data-dir`), else `$ALEXNET_LAB_DATA`, else `data/` in the
/// repository.
pub fn data_dir(cli: Option<&Path>) -> PathBuf {
    named_data_dir(cli).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("data"))
}

/// The data folder the user named: `explicit` (a command-line flag), else
/// `$ALEXNET_LAB_DATA`; `None` when they named none.
pub fn named_data_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    match (explicit, std::env::var_os(DATA_DIR_VAR)) {
        (Some(dir), _) => Some(dir.to_path_buf()),
        (None, Some(dir)) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => None,
    }
}

/// Data as a user asks for it, with a note to show them when it is not what they might
/// expect. `kind` names a data set (it must be there, except the synthetic one, which is
/// drawn); without it, the best real set in the folder. A folder they named (`explicit`, else
/// `$ALEXNET_LAB_DATA`) must hold one; only the default location (`data/` in the repository)
/// falls back to the synthetic set (`per_class` training images per class, seeded), and the
/// note says so.
///
/// # Errors
/// A data set asked for that is not in the folder, a named folder with none, or files that
/// are there but damaged.
pub fn load_dataset(
    kind: Option<DatasetKind>,
    explicit: Option<&Path>,
    per_class: usize,
    seed: u64,
) -> Result<(Dataset, Option<String>)> {
    let named = named_data_dir(explicit);
    let dir = data_dir(explicit);
    if let Some(kind) = kind {
        return Ok((load(kind, &dir, per_class, seed)?, None));
    }
    if let Some(&best) = present(&dir).first() {
        return Ok((load(best, &dir, per_class, seed)?, None));
    }
    if named.is_some() {
        let what = format!(
            "holds neither CIFAR-10 ({FOLDER}/ with {} .. {TEST_FILE}) nor Fashion-MNIST \
             ({}/ with its four .gz files), nor is it one of those folders: check the path, or \
             download one into it (`alexnet data download`)",
            TRAIN_FILES[0],
            fashion_mnist::FOLDER
        );
        return Err(Error::data(dir, what));
    }
    let note = format!(
        "no CIFAR-10 or Fashion-MNIST in the default data folder {} (`alexnet data download` \
         fetches them there): using the synthetic set",
        dir.display()
    );
    Ok((
        load(DatasetKind::Synthetic, &dir, per_class, seed)?,
        Some(note),
    ))
}
