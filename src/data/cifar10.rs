//! The CIFAR-10 binary format: where the data comes from, how a record is laid out, and a
//! loader that validates every byte it is given.
//!
//! Source: <https://www.cs.toronto.edu/~kriz/cifar.html>, "CIFAR-10 binary version".
//! `cifar-10-batches-bin/` holds `data_batch_1.bin` .. `data_batch_5.bin` (training) and
//! `test_batch.bin`, each a run of records of 1 label byte then 1024 red, 1024 green and
//! 1024 blue bytes (rows of 32, top to bottom), and `batches.meta.txt`, the class names.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Height and width of a CIFAR-10 image.
pub const IMAGE_SIZE: usize = 32;
/// Colour channels (red, green, blue).
pub const CHANNELS: usize = 3;
/// Bytes of pixels in one image: `32 * 32 * 3`.
pub const PIXELS: usize = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
/// Bytes of one record: the label byte and the pixels.
pub const RECORD_BYTES: usize = 1 + PIXELS;
/// The number of classes.
pub const NUM_CLASSES: usize = 10;
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

/// Images kept as bytes (the full set is 180 MB; floats would be 720 MB) with their labels.
/// Image `i` is `pixels[i * PIXELS..(i + 1) * PIXELS]`, channel-major (CHW) as in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Images {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Images {
    /// How many images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// The CHW bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }
    /// Adds one image (CHW bytes) with its label.
    ///
    /// # Errors
    /// An image that is not 3072 bytes, or a label that is not a class (0 to 9).
    pub fn push(&mut self, chw: &[u8], label: u8) -> Result<()> {
        if chw.len() != PIXELS || label as usize >= NUM_CLASSES {
            let why = format!(
                "an image is {PIXELS} bytes (3 planes of 32x32) with a label from 0 to {}; got {} bytes, label {label}",
                NUM_CLASSES - 1,
                chw.len()
            );
            return Err(Error::Invalid { what: "image", why });
        }
        self.pixels.extend_from_slice(chw);
        self.labels.push(label);
        Ok(())
    }
    /// Images `range` as a new set.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Images {
        Images {
            pixels: self.pixels[range.start * PIXELS..range.end * PIXELS].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }
    /// Appends every image of `other`.
    pub fn extend(&mut self, other: &Images) {
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
    }
    /// Images per class.
    pub fn class_counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

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

/// Where the data came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Files in this folder.
    Files(PathBuf),
    /// Drawn by [`crate::data::synthetic`] with this seed.
    Synthetic { seed: u64 },
}

/// A whole data set: training and test images with the class names.
#[derive(Clone, Debug)]
pub struct Cifar10 {
    pub train: Images,
    pub test: Images,
    pub classes: Vec<String>,
    pub source: Source,
}

/// The folder holding the batch files: `dir/cifar-10-batches-bin`, or `dir` itself.
pub fn locate(dir: &Path) -> Option<PathBuf> {
    [dir.join(FOLDER), dir.to_path_buf()]
        .into_iter()
        .find(|d| d.join(TRAIN_FILES[0]).is_file())
}

impl Cifar10 {
    /// Loads `dir/cifar-10-batches-bin/` (or `dir` if it is that folder).
    ///
    /// # Errors
    /// No data there (with what to do), or any file missing or malformed (naming it).
    pub fn load(dir: &Path) -> Result<Cifar10> {
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
        Ok(Cifar10 {
            train,
            test,
            classes,
            source: Source::Files(folder),
        })
    }

    /// Writes the set in the binary layout into `dir/cifar-10-batches-bin/`, training images
    /// spread over the five batch files; returns that folder.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
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

/// Where the data lives: `cli` (`--data-dir`), else `$ALEXNET_LAB_DATA`, else `data/` in the repo.
pub fn data_dir(cli: Option<&Path>) -> PathBuf {
    if let Some(dir) = cli {
        return dir.to_path_buf();
    }
    match std::env::var_os("ALEXNET_LAB_DATA") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("data"),
    }
}
