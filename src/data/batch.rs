//! Mini-batches: seeded shuffling, augmentation, normalisation, and dfdx tensors whose
//! channel and spatial sizes are in the type (`(usize, Const<3>, Const<S>, Const<S>)`; the
//! batch axis is a run-time size so the last partial batch fits the same type).
//!
//! The policy for a last partial batch: training drops it (`drop_last`, so batch norm never
//! sees a batch of one and every step has the same size); evaluation keeps it, so every
//! image is scored once.

use super::cifar10::{Images, CHANNELS, IMAGE_SIZE, PIXELS};
use super::transform::{random_crop_flip, resize_bilinear, Normalization};
use dfdx::prelude::*;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// A batch of images shaped for a model with `S x S` input, and their labels.
pub type BatchImages<const S: usize, D> =
    Tensor<(usize, Const<CHANNELS>, Const<S>, Const<S>), f32, D>;

/// How to cut a set into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    pub batch_size: usize,
    /// Visit the images in a random order (seeded).
    pub shuffle: bool,
    /// Random crop with 4-pixel padding and horizontal flip (training only).
    pub augment: bool,
    /// Leave out a last batch smaller than `batch_size`.
    pub drop_last: bool,
    pub seed: u64,
}

impl BatchConfig {
    /// Training: shuffled, optionally augmented, last partial batch dropped.
    pub fn train(batch_size: usize, augment: bool, seed: u64) -> Self {
        BatchConfig {
            batch_size,
            shuffle: true,
            augment,
            drop_last: true,
            seed,
        }
    }
    /// Evaluation: in order, no augmentation, every image once.
    pub fn eval(batch_size: usize) -> Self {
        BatchConfig {
            batch_size,
            shuffle: false,
            augment: false,
            drop_last: false,
            seed: 0,
        }
    }
}

/// One batch: `images [n, 3, S, S]` normalised, and `labels[n]`.
pub struct Batch<const S: usize, D: Storage<f32>> {
    pub images: BatchImages<S, D>,
    pub labels: Vec<usize>,
}

/// An iterator of [`Batch`]es over a set; a training loop and a notebook cell use the same.
///
/// ```
/// use alexnet_lab::data::{synthetic, BatchConfig, Batches, Normalization};
/// use dfdx::prelude::*;
/// let data = synthetic::generate(10, 2, 1);
/// let norm = Normalization::from_images(&data.train);
/// let dev = Cpu::default();
/// let batches = Batches::<32, _>::new(&data.train, norm, BatchConfig::train(16, true, 0), dev);
/// assert_eq!(batches.len(), 6); // 100 images: six full batches of 16, four left out
/// ```
pub struct Batches<'a, const S: usize, D: Device<f32>> {
    images: &'a Images,
    norm: Normalization,
    cfg: BatchConfig,
    order: Vec<usize>,
    next: usize,
    rng: StdRng,
    dev: D,
}

impl<'a, const S: usize, D: Device<f32>> Batches<'a, S, D> {
    /// Batches over `images`, normalised with `norm`, made on `dev`.
    ///
    /// # Panics
    /// If `cfg.batch_size` is 0.
    pub fn new(images: &'a Images, norm: Normalization, cfg: BatchConfig, dev: D) -> Self {
        assert!(cfg.batch_size > 0, "batch_size must be at least 1");
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut order: Vec<usize> = (0..images.len()).collect();
        if cfg.shuffle {
            order.shuffle(&mut rng);
        }
        Batches {
            images,
            norm,
            cfg,
            order,
            next: 0,
            rng,
            dev,
        }
    }

    /// How many batches this pass yields.
    pub fn len(&self) -> usize {
        let n = self.order.len();
        if self.cfg.drop_last {
            n / self.cfg.batch_size
        } else {
            n.div_ceil(self.cfg.batch_size)
        }
    }

    /// True if it yields none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<const S: usize, D: Device<f32>> Iterator for Batches<'_, S, D> {
    type Item = Batch<S, D>;

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.order.len() - self.next;
        if left == 0 || (self.cfg.drop_last && left < self.cfg.batch_size) {
            return None;
        }
        let n = left.min(self.cfg.batch_size);
        let ids = &self.order[self.next..self.next + n];
        self.next += n;
        let mut data = Vec::with_capacity(n * CHANNELS * S * S);
        let mut scaled = vec![0f32; PIXELS];
        for &i in ids {
            let img = self.images.image(i);
            let img = if self.cfg.augment {
                random_crop_flip(img, 4, &mut self.rng)
            } else {
                img.to_vec()
            };
            self.norm.apply(&img, &mut scaled);
            if S == IMAGE_SIZE {
                data.extend_from_slice(&scaled);
            } else {
                data.extend(resize_bilinear(&scaled, CHANNELS, IMAGE_SIZE, S));
            }
        }
        let labels = ids
            .iter()
            .map(|&i| self.images.labels[i] as usize)
            .collect();
        let images = self.dev.tensor_from_vec(data, (n, Const, Const, Const));
        Some(Batch { images, labels })
    }
}

/// Labels as one-hot rows `[n, NC]`, the target of the cross-entropy loss.
pub fn one_hot<const NC: usize, D: Device<f32>>(
    labels: &[usize],
    dev: &D,
) -> Tensor<(usize, Const<NC>), f32, D> {
    let mut data = vec![0f32; labels.len() * NC];
    for (row, &l) in labels.iter().enumerate() {
        data[row * NC + l] = 1.0;
    }
    dev.tensor_from_vec(data, (labels.len(), Const))
}
