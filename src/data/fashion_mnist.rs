//! Fashion-MNIST: Zalando's 70,000 grey 28x28 photos of ten kinds of clothing (MIT licence),
//! in the IDX format it is published in, read into the crate's 32x32 three-channel images.
//!
//! Source: <https://github.com/zalandoresearch/fashion-mnist>. Four gzipped files:
//! `train-images-idx3-ubyte.gz` (60,000 images), `train-labels-idx1-ubyte.gz`,
//! `t10k-images-idx3-ubyte.gz` (10,000) and `t10k-labels-idx1-ubyte.gz`. An IDX file is two
//! zero bytes, a type byte (`0x08`: unsigned bytes), the number of dimensions, each dimension
//! as a big-endian `u32`, then the values, row-major.
//!
//! Each photo is padded by 2 black pixels on every side (28 + 4 = 32; the background of a
//! Fashion-MNIST photo is black, 0) and its grey value copied to the three channels. Padding
//! keeps every pixel as photographed, where resizing would blur it; three equal channels let
//! every model, transform and plot of the course take the photos unchanged. The cost is the
//! first convolution's: it reads three identical planes instead of one.

use super::dataset::{Dataset, DatasetKind, Images, Source, IMAGE_SIZE, NUM_CLASSES, PIXELS};
use crate::{Error, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The folder the four files live in, under the data folder.
pub const FOLDER: &str = "fashion-mnist";
/// The training images.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
/// The training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
/// The test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// The test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";
/// The four files with the MD5 of each, as the official repository publishes them.
pub const FILES: [(&str, &str); 4] = [
    (TRAIN_IMAGES, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    (TRAIN_LABELS, "25c81989df183df01b3e8a0aad5dffbe"),
    (TEST_IMAGES, "bef4ecab320f06d8554ea6380940ec79"),
    (TEST_LABELS, "bb300cfdad3c16e7a12a480ee83cd310"),
];
/// The classes, in label order.
pub const CLASS_NAMES: [&str; NUM_CLASSES] = DatasetKind::FashionMnist.classes();
/// Height and width of a photo as published.
pub const SIDE: usize = 28;
/// Bytes of one photo as published.
pub const GREY_PIXELS: usize = SIDE * SIDE;
/// Black pixels added on each side to make 32x32.
pub const PAD: usize = (IMAGE_SIZE - SIDE) / 2;

/// The folder holding the four files: `dir/fashion-mnist`, or `dir` itself.
pub fn locate(dir: &Path) -> Option<PathBuf> {
    [dir.join(FOLDER), dir.to_path_buf()]
        .into_iter()
        .find(|d| d.join(TRAIN_IMAGES).is_file())
}

/// One published 28x28 grey photo as the crate's image: padded to 32x32 with black, the grey
/// value on all three channels (CHW).
///
/// ```
/// use alexnet_lab::data::fashion_mnist::{grey_to_image, GREY_PIXELS};
/// let mut grey = [0u8; GREY_PIXELS];
/// grey[0] = 200; // the top-left pixel of the photo
/// let image = grey_to_image(&grey);
/// // It lands 2 rows down and 2 columns in, on each of the three planes of 32x32.
/// assert_eq!([image[2 * 32 + 2], image[1024 + 2 * 32 + 2], image[2048 + 2 * 32 + 2]], [200; 3]);
/// assert_eq!(image.iter().map(|&p| p as u32).sum::<u32>(), 600);
/// ```
pub fn grey_to_image(grey: &[u8; GREY_PIXELS]) -> [u8; PIXELS] {
    let mut out = [0u8; PIXELS];
    for y in 0..SIDE {
        let row = &grey[y * SIDE..(y + 1) * SIDE];
        for c in 0..3 {
            let at = c * IMAGE_SIZE * IMAGE_SIZE + (y + PAD) * IMAGE_SIZE + PAD;
            out[at..at + SIDE].copy_from_slice(row);
        }
    }
    out
}

/// The dimensions and values of an IDX file of unsigned bytes with `ndims` dimensions.
///
/// # Errors
/// Too short for its header, a wrong magic number (not IDX, or not bytes, or another number
/// of dimensions), or values that are fewer or more than the dimensions say.
pub fn parse_idx<'a>(bytes: &'a [u8], ndims: usize, path: &Path) -> Result<(Vec<usize>, &'a [u8])> {
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        let what = format!(
            "{} bytes is shorter than an IDX header ({header} bytes): the file is truncated; download it again",
            bytes.len()
        );
        return Err(Error::data(path, what));
    }
    if bytes[0..3] != [0, 0, 0x08] || bytes[3] as usize != ndims {
        let what = format!(
            "magic number {:02x} {:02x} {:02x} {:02x}, expected 00 00 08 {ndims:02x} (IDX, unsigned bytes, \
             {ndims} dimensions): not a Fashion-MNIST file of this kind; check the file name",
            bytes[0], bytes[1], bytes[2], bytes[3]
        );
        return Err(Error::data(path, what));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let values = &bytes[header..];
    if expected != Some(values.len()) {
        let what = format!(
            "the header says {dims:?} ({} values) but {} follow: the file is truncated or damaged; download it again",
            expected.map_or("too many".to_string(), |e| e.to_string()),
            values.len()
        );
        return Err(Error::data(path, what));
    }
    Ok((dims, values))
}

/// The photos of an images file: `n` runs of 784 bytes.
///
/// # Errors
/// Anything [`parse_idx`] refuses, or photos that are not 28x28.
pub fn parse_images<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a [u8]> {
    let (dims, values) = parse_idx(bytes, 3, path)?;
    if dims[1..] != [SIDE, SIDE] {
        let what = format!(
            "photos of {}x{}, expected {SIDE}x{SIDE}: not Fashion-MNIST",
            dims[1], dims[2]
        );
        return Err(Error::data(path, what));
    }
    Ok(values)
}

/// The labels of a labels file.
///
/// # Errors
/// Anything [`parse_idx`] refuses, or a label that is not a class (0 to 9).
pub fn parse_labels<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a [u8]> {
    let (_, labels) = parse_idx(bytes, 1, path)?;
    if let Some(i) = labels.iter().position(|&l| l as usize >= NUM_CLASSES) {
        let what = format!(
            "label {i} is {}, but labels are 0 to 9: the file is damaged; download it again",
            labels[i]
        );
        return Err(Error::data(path, what));
    }
    Ok(labels)
}

/// An images file's bytes: the IDX header and the photos (`grey.len()` a multiple of 784).
pub fn encode_images(grey: &[u8]) -> Vec<u8> {
    let n = (grey.len() / GREY_PIXELS) as u32;
    let mut out = vec![0, 0, 0x08, 3];
    for d in [n, SIDE as u32, SIDE as u32] {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(grey);
    out
}

/// A labels file's bytes.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, 1];
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// The published photos and labels of one split, as the IDX files hold them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GreySplit {
    /// `labels.len()` photos of 784 bytes, row by row.
    pub grey: Vec<u8>,
    pub labels: Vec<u8>,
}

impl GreySplit {
    /// The crate's images (padded, three channels).
    pub fn to_images(&self) -> Images {
        let mut images = Images {
            pixels: Vec::with_capacity(self.labels.len() * PIXELS),
            labels: self.labels.clone(),
        };
        for photo in self.grey.chunks_exact(GREY_PIXELS) {
            let photo: &[u8; GREY_PIXELS] = photo.try_into().expect("chunks of 784");
            images.pixels.extend_from_slice(&grey_to_image(photo));
        }
        images
    }
}

/// Writes the four gzipped files into `folder` (created), training and test split as given.
pub fn write_files(folder: &Path, train: &GreySplit, test: &GreySplit) -> Result<()> {
    std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
    for (name, bytes) in [
        (TRAIN_IMAGES, encode_images(&train.grey)),
        (TRAIN_LABELS, encode_labels(&train.labels)),
        (TEST_IMAGES, encode_images(&test.grey)),
        (TEST_LABELS, encode_labels(&test.labels)),
    ] {
        let path = folder.join(name);
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        gz.write_all(&bytes)
            .and_then(|()| gz.finish())
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// A gzipped file's contents.
fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Error::data(
                path,
                format!(
                    "cannot decompress ({e}): the file is truncated or not gzip; download it again"
                ),
            )
        })?;
    Ok(bytes)
}

/// Reads one split's two files from `folder`.
fn read_split(folder: &Path, images_file: &str, labels_file: &str) -> Result<GreySplit> {
    let (ipath, lpath) = (folder.join(images_file), folder.join(labels_file));
    let ibytes = read_gz(&ipath)?;
    let lbytes = read_gz(&lpath)?;
    let grey = parse_images(&ibytes, &ipath)?;
    let labels = parse_labels(&lbytes, &lpath)?;
    if grey.len() / GREY_PIXELS != labels.len() {
        let what = format!(
            "holds {} photos but {labels_file} has {} labels: the two files are from different sets; \
             download them again",
            grey.len() / GREY_PIXELS,
            labels.len()
        );
        return Err(Error::data(&ipath, what));
    }
    Ok(GreySplit {
        grey: grey.to_vec(),
        labels: labels.to_vec(),
    })
}

/// The published training and test splits in `folder` (the four files).
///
/// # Errors
/// A file missing, truncated, not gzip, not IDX, of the wrong shape, or not matching its pair.
pub fn read_files(folder: &Path) -> Result<(GreySplit, GreySplit)> {
    Ok((
        read_split(folder, TRAIN_IMAGES, TRAIN_LABELS)?,
        read_split(folder, TEST_IMAGES, TEST_LABELS)?,
    ))
}

impl Dataset {
    /// Loads Fashion-MNIST from `dir/fashion-mnist/` (or `dir` if it holds the four files).
    ///
    /// # Errors
    /// No data there (with what to do), or any file missing or malformed (naming it).
    pub fn load_fashion_mnist(dir: &Path) -> Result<Dataset> {
        let folder = locate(dir).ok_or_else(|| {
            Error::data(
                dir,
                format!(
                    "no Fashion-MNIST here (looked for {FOLDER}/{TRAIN_IMAGES} and {TRAIN_IMAGES}): \
                     run `alexnet data download --dataset fashion-mnist`"
                ),
            )
        })?;
        let (train, test) = read_files(&folder)?;
        Ok(Dataset {
            train: train.to_images(),
            test: test.to_images(),
            classes: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
            source: Source::Files {
                kind: DatasetKind::FashionMnist,
                folder,
            },
        })
    }
}
