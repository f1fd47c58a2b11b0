//! The crate's image type and a whole data set: 32x32 images on three channels as bytes,
//! their labels, the class names and where they came from. Every data set the course uses
//! (CIFAR-10, Fashion-MNIST, the synthetic set) arrives in this form, so every model, transform
//! and plot takes any of them.

use crate::{Error, Result};
use std::fmt;
use std::path::PathBuf;

/// Height and width of an image.
pub const IMAGE_SIZE: usize = 32;
/// Channels (red, green, blue; a grey image has the same value on all three).
pub const CHANNELS: usize = 3;
/// Bytes of pixels in one image: `32 * 32 * 3`.
pub const PIXELS: usize = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
/// The number of classes.
pub const NUM_CLASSES: usize = 10;

/// Images kept as bytes (CIFAR-10's 60,000 are 180 MB; floats would be 720 MB) with their labels.
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
    /// At most `n` images of each class: the first ones, in order.
    pub fn per_class(&self, n: usize) -> Images {
        let mut counts = [0usize; NUM_CLASSES];
        let mut out = Images::default();
        for i in 0..self.len() {
            let label = self.labels[i];
            // A label outside the classes (possible only by writing the fields directly) is
            // not a class to keep.
            if counts.get(label as usize).is_some_and(|&c| c < n) {
                counts[label as usize] += 1;
                out.pixels.extend_from_slice(self.image(i));
                out.labels.push(label);
            }
        }
        out
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

/// Which data set: the article's CIFAR-10, Fashion-MNIST (real photos, grey), or the
/// synthetic shapes. Parsed from `cifar10`, `fashion-mnist` and `synthetic`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    Cifar10,
    FashionMnist,
    Synthetic,
}

impl DatasetKind {
    /// All three, best first: the order in which the course looks for data.
    pub const ALL: [DatasetKind; 3] = [
        DatasetKind::Cifar10,
        DatasetKind::FashionMnist,
        DatasetKind::Synthetic,
    ];
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Synthetic => "synthetic",
        }
    }
    /// The class names, in label order.
    pub const fn classes(self) -> [&'static str; NUM_CLASSES] {
        match self {
            // As CIFAR-10's `batches.meta.txt` lists them.
            DatasetKind::Cifar10 => [
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
            DatasetKind::FashionMnist => [
                "T-shirt/top",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "sneaker",
                "bag",
                "ankle boot",
            ],
            DatasetKind::Synthetic => [
                "disc",
                "square",
                "triangle",
                "ring",
                "cross",
                "horizontal stripes",
                "vertical stripes",
                "diagonal stripes",
                "checkerboard",
                "two blobs",
            ],
        }
    }
    /// The data set whose class names these are (a checkpoint keeps its classes, so this
    /// says what it was trained on).
    pub fn from_classes(classes: &[String]) -> Option<DatasetKind> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| classes.iter().map(String::as_str).eq(k.classes()))
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatasetKind::Cifar10 => "CIFAR-10",
            DatasetKind::FashionMnist => "Fashion-MNIST",
            DatasetKind::Synthetic => "the synthetic set",
        })
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        DatasetKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Invalid {
                what: "data set",
                why: format!("'{s}': choose one of cifar10, fashion-mnist, synthetic"),
            })
    }
}

/// Where the data came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Files in this folder: CIFAR-10's, Fashion-MNIST's, or the synthetic set written in
    /// CIFAR-10's layout.
    Files { kind: DatasetKind, folder: PathBuf },
    /// Drawn by [`crate::data::synthetic`] with this seed.
    Synthetic { seed: u64 },
}

impl Source {
    /// Which data set.
    pub fn kind(&self) -> DatasetKind {
        match self {
            Source::Files { kind, .. } => *kind,
            Source::Synthetic { .. } => DatasetKind::Synthetic,
        }
    }
}

impl fmt::Display for Source {
    /// "CIFAR-10 from data/cifar-10-batches-bin", "the synthetic set (seed 0)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Files { kind, folder } => write!(f, "{kind} from {}", folder.display()),
            Source::Synthetic { seed } => write!(f, "the synthetic set (seed {seed})"),
        }
    }
}

/// A whole data set: training and test images with the class names.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub train: Images,
    pub test: Images,
    pub classes: Vec<String>,
    pub source: Source,
}

impl Dataset {
    /// Which data set this is.
    pub fn kind(&self) -> DatasetKind {
        self.source.kind()
    }

    /// True for grey photos (Fashion-MNIST), whose three channels hold the same value.
    pub fn is_grey(&self) -> bool {
        self.kind() == DatasetKind::FashionMnist
    }

    /// At most `train` training and `test` test images of each class, the first of each in
    /// the order of the set (which keeps a set whose classes are interleaved interleaved).
    /// The course's quick budget trains on a slice of a real set this way.
    ///
    /// ```
    /// use alexnet_lab::data::synthetic;
    /// let small = synthetic::generate(20, 4, 7).per_class(5, 2);
    /// assert_eq!((small.train.len(), small.test.len()), (50, 20));
    /// assert_eq!(small.train.class_counts(), [5; 10]);
    /// ```
    pub fn per_class(self, train: usize, test: usize) -> Dataset {
        Dataset {
            train: self.train.per_class(train),
            test: self.test.per_class(test),
            ..self
        }
    }
}
