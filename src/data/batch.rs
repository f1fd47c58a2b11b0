//! Mini-batches: seeded shuffling, augmentation (crops and flips, and optionally the
//! paper's PCA colour shift), normalisation, and dfdx tensors whose
//! channel and spatial sizes are in the type (`(usize, Const<3>, Const<S>, Const<S>)`; the
//! batch axis is a run-time size so the last partial batch fits the same type).
//!
//! The policy for a last partial batch: training drops it (`drop_last`, so batch norm never
//! sees a batch of one and every step has the same size); evaluation keeps it, so every
//! image is scored once.

use super::dataset::{Images, CHANNELS, IMAGE_SIZE, PIXELS};
use super::lighting::PcaLighting;
use super::transform::{random_crop_flip, resize_bilinear, Normalization, CROP_PAD};
use super::LIGHTING_STREAM;
use crate::{Error, Result};
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

/// The host half of [`Batches`]: the same order, augmentation and normalisation, yielding
/// each batch's row-major values (`[n, 3, side, side]`) and labels, for code that makes the
/// tensor itself (the training pipeline, generic over the image size).
pub struct HostBatches<'a> {
    images: &'a Images,
    norm: Normalization,
    cfg: BatchConfig,
    side: usize,
    order: Vec<usize>,
    next: usize,
    rng: StdRng,
    lighting: Option<(PcaLighting, StdRng)>,
}

impl<'a> HostBatches<'a> {
    /// Batches over `images`, normalised with `norm`, resized to `side x side`.
    ///
    /// # Errors
    /// A batch size of 0.
    pub fn new(
        images: &'a Images,
        norm: Normalization,
        cfg: BatchConfig,
        side: usize,
    ) -> Result<Self> {
        if cfg.batch_size == 0 || side == 0 {
            return Err(Error::Invalid {
                what: "batch size",
                why: "a batch holds at least one image".into(),
            });
        }
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut order: Vec<usize> = (0..images.len()).collect();
        if cfg.shuffle {
            order.shuffle(&mut rng);
        }
        Ok(HostBatches {
            images,
            norm,
            cfg,
            side,
            order,
            next: 0,
            rng,
            lighting: None,
        })
    }

    /// The same batches with the paper's colour augmentation: each image gets its own
    /// coefficients ([`PcaLighting::sample_alphas`], drawn from a stream seeded by the
    /// batches' seed, apart from the crops' so they stay the same), and its normalised
    /// channel `c` moves by `shift[c] / std[c]` (the offset [`PcaLighting::shift`] gives in
    /// `[0, 1]` pixel units, in the normalised domain). Every value of the image moves, the
    /// zero padding of a random crop included. For training batches only: a pass without
    /// it (validation, test) sees the images unshifted.
    pub fn with_lighting(mut self, lighting: PcaLighting) -> Self {
        let rng = StdRng::seed_from_u64(self.cfg.seed ^ LIGHTING_STREAM);
        self.lighting = Some((lighting, rng));
        self
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

impl Iterator for HostBatches<'_> {
    /// The values `[n, 3, side, side]` and the `n` labels.
    type Item = (Vec<f32>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.order.len() - self.next;
        if left == 0 || (self.cfg.drop_last && left < self.cfg.batch_size) {
            return None;
        }
        let n = left.min(self.cfg.batch_size);
        let ids = &self.order[self.next..self.next + n];
        self.next += n;
        let side = self.side;
        let mut data = Vec::with_capacity(n * CHANNELS * side * side);
        let mut scaled = vec![0f32; PIXELS];
        for &i in ids {
            let img = self.images.image(i);
            let img = if self.cfg.augment {
                random_crop_flip(img, CROP_PAD, &mut self.rng)
            } else {
                img.to_vec()
            };
            self.norm.apply(&img, &mut scaled);
            if let Some((lighting, rng)) = &mut self.lighting {
                let shift = lighting.shift(PcaLighting::sample_alphas(rng));
                for (c, plane) in scaled.chunks_exact_mut(IMAGE_SIZE * IMAGE_SIZE).enumerate() {
                    let by = shift[c] / self.norm.std[c];
                    plane.iter_mut().for_each(|v| *v += by);
                }
            }
            if side == IMAGE_SIZE {
                data.extend_from_slice(&scaled);
            } else {
                data.extend(resize_bilinear(&scaled, CHANNELS, IMAGE_SIZE, side));
            }
        }
        let labels = ids
            .iter()
            .map(|&i| self.images.labels[i] as usize)
            .collect();
        Some((data, labels))
    }
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
    host: HostBatches<'a>,
    dev: D,
}

impl<'a, const S: usize, D: Device<f32>> Batches<'a, S, D> {
    /// Batches over `images`, normalised with `norm`, made on `dev`.
    ///
    /// # Panics
    /// If `cfg.batch_size` is 0.
    pub fn new(images: &'a Images, norm: Normalization, cfg: BatchConfig, dev: D) -> Self {
        assert!(cfg.batch_size > 0, "batch_size must be at least 1");
        match HostBatches::new(images, norm, cfg, S) {
            Ok(host) => Batches { host, dev },
            Err(e) => panic!("{e}"),
        }
    }

    /// The same batches with the paper's colour augmentation (see
    /// [`HostBatches::with_lighting`]). For training batches only.
    pub fn with_lighting(self, lighting: PcaLighting) -> Self {
        Batches {
            host: self.host.with_lighting(lighting),
            dev: self.dev,
        }
    }

    /// How many batches this pass yields.
    pub fn len(&self) -> usize {
        self.host.len()
    }

    /// True if it yields none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<const S: usize, D: Device<f32>> Iterator for Batches<'_, S, D> {
    type Item = Batch<S, D>;

    fn next(&mut self) -> Option<Self::Item> {
        let (data, labels) = self.host.next()?;
        let n = labels.len();
        let images = self.dev.tensor_from_vec(data, (n, Const, Const, Const));
        Some(Batch { images, labels })
    }
}

/// Labels as one-hot rows of `classes` values, row-major.
///
/// # Errors
/// A label at or above `classes` (it would mark the next row).
pub fn one_hot_rows(labels: &[usize], classes: usize) -> Result<Vec<f32>> {
    let mut data = vec![0f32; labels.len() * classes];
    for (row, &l) in labels.iter().enumerate() {
        if l >= classes {
            return Err(Error::Invalid {
                what: "label",
                why: format!(
                    "label {l} (image {row} of the batch) is not below the {classes} classes"
                ),
            });
        }
        data[row * classes + l] = 1.0;
    }
    Ok(data)
}

/// Labels as one-hot rows `[n, NC]`, the target of the cross-entropy loss.
///
/// # Errors
/// A label at or above `NC`, or a device failure.
pub fn one_hot<const NC: usize, D: Device<f32>>(
    labels: &[usize],
    dev: &D,
) -> Result<Tensor<(usize, Const<NC>), f32, D>>
where
    Error: From<D::Err>,
{
    let data = one_hot_rows(labels, NC)?;
    Ok(dev.try_tensor_from_vec(data, (labels.len(), Const))?)
}
