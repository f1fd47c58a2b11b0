//! The CIFAR-10 binary format: where the data comes from, how a record is laid out, and a
//! loader that validates every byte it is given.
//!
//! Source: <https://www.cs.toronto.edu/~kriz/cifar.html>, "CIFAR-10 binary version".
//! `cifar-10-batches-bin/` holds `data_batch_1.bin` .. `data_batch_5.bin` (training) and
//! `test_batch.bin`, each a run of records of 1 label byte then 1024 red, 1024 green and
//! 1024 blue bytes (rows of 32, top to bottom), and `batches.meta.txt`, the class names.

use super::dataset::{Dataset, DatasetKind, Images, Source, NUM_CLASSES, PIXELS};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Bytes of one record: the label byte and the pixels.
pub const RECORD_BYTES: usize = 1 + PIXELS;
/// The folder the archive unpacks to.
pub const FOLDER: &str = "cifar-10-batches-bin";
/// The training files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class names, one a line.
pub const META_FILE: &str = "batches.meta.txt";

/// Parses records from `bytes` (read from `path`, named in errors).
///
/// # Errors
/// A length that is not a whole number of 3,073-byte records, or a label above 9.
pub fn parse_records(bytes: &[u8], path: &Path) -> Result<Images> {
    if bytes.len() % RECORD_BYTES != 0 {
        let what = format!(
            "{} bytes is not a whole number of {RECORD_BYTES}-byte records ({} records and {} bytes over): \
             the file is truncated or not CIFAR-10; download it again",
            bytes.len(),
            bytes.len() / RECORD_BYTES,
            bytes.len() % RECORD_BYTES
        );
        return Err(Error::data(path, what));
    }
    let n = bytes.len() / RECORD_BYTES;
    let mut images = Images {
        pixels: Vec::with_capacity(n * PIXELS),
        labels: Vec::with_capacity(n),
    };
    for (i, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        if record[0] as usize >= NUM_CLASSES {
            let what = format!(
                "record {i} has label {}, but labels are 0 to 9: the file is damaged",
                record[0]
            );
            return Err(Error::data(path, what));
        }
        images.push(&record[1..], record[0])?;
    }
    Ok(images)
}

/// The records of `images` in the binary layout.
pub fn encode_records(images: &Images) -> Vec<u8> {
    let mut out = Vec::with_capacity(images.len() * RECORD_BYTES);
    for i in 0..images.len() {
        out.push(images.labels[i]);
        out.extend_from_slice(images.image(i));
    }
    out
}

/// Reads and parses one batch file.
pub fn read_batch_file(path: &Path) -> Result<Images> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_records(&bytes, path)
}

/// Reads `batches.meta.txt`: ten class names, one a line (blank lines ignored).
pub fn read_class_names(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != NUM_CLASSES {
        let what = format!(
            "has {} class names, expected {NUM_CLASSES}, one a line",
            names.len()
        );
        return Err(Error::data(path, what));
    }
    Ok(names)
}

/// The folder holding the batch files: `dir/cifar-10-batches-bin`, or `dir` itself.
pub fn locate(dir: &Path) -> Option<PathBuf> {
    [dir.join(FOLDER), dir.to_path_buf()]
        .into_iter()
        .find(|d| d.join(TRAIN_FILES[0]).is_file())
}

impl Dataset {
    /// Loads CIFAR-10 from `dir/cifar-10-batches-bin/` (or `dir` if it is that folder); a
    /// synthetic set written in this layout loads too, and its source says so.
    ///
    /// # Errors
    /// No data there (with what to do), or any file missing or malformed (naming it).
    pub fn load_cifar10(dir: &Path) -> Result<Dataset> {
        let folder = locate(dir).ok_or_else(|| {
            Error::data(
                dir,
                format!(
                    "no CIFAR-10 here (looked for {FOLDER}/{first} and {first}): download it into this \
                     folder, or use the synthetic set",
                    first = TRAIN_FILES[0],
                ),
            )
        })?;
        let mut train = Images::default();
        for name in TRAIN_FILES {
            train.extend(&read_batch_file(&folder.join(name))?);
        }
        let test = read_batch_file(&folder.join(TEST_FILE))?;
        let classes = read_class_names(&folder.join(META_FILE))?;
        // The synthetic set written to disk (`alexnet data synth`) has this layout too; its
        // class names say it is not CIFAR-10.
        let kind = match DatasetKind::from_classes(&classes) {
            Some(DatasetKind::Synthetic) => DatasetKind::Synthetic,
            _ => DatasetKind::Cifar10,
        };
        Ok(Dataset {
            train,
            test,
            classes,
            source: Source::Files { kind, folder },
        })
    }

    /// Writes the set in CIFAR-10's binary layout into `dir/cifar-10-batches-bin/`, training
    /// images spread over the five batch files; returns that folder.
    pub fn write_cifar10(&self, dir: &Path) -> Result<PathBuf> {
        let folder = dir.join(FOLDER);
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let per_file = self.train.len().div_ceil(TRAIN_FILES.len());
        for (k, name) in TRAIN_FILES.iter().enumerate() {
            let range =
                (k * per_file).min(self.train.len())..((k + 1) * per_file).min(self.train.len());
            write_file(
                &folder.join(name),
                &encode_records(&self.train.slice(range)),
            )?;
        }
        write_file(&folder.join(TEST_FILE), &encode_records(&self.test))?;
        write_file(
            &folder.join(META_FILE),
            (self.classes.join("\n") + "\n").as_bytes(),
        )?;
        Ok(folder)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}
