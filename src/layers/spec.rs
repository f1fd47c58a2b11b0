//! Plain-number descriptions of one layer call, shared by every device's kernels.
//!
//! The layer types carry their sizes as const generics; a kernel gets them as these
//! structs, so one kernel serves every model.

/// The sizes of one 2-D convolution over a batch (NCHW, weights `[out, in / groups, k, k]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    pub groups: usize,
}

impl ConvSpec {
    /// Output positions per image (`out_h * out_w`).
    pub fn out_len(&self) -> usize {
        self.out_h * self.out_w
    }
    /// Rows of one group's patch matrix: `in_channels / groups * kernel * kernel`.
    pub fn group_patch_len(&self) -> usize {
        self.in_channels / self.groups * self.kernel * self.kernel
    }
}

/// Which reduction a pooling window applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// The largest value in the window (AlexNet's choice).
    Max,
    /// The mean of the window.
    Avg,
}

/// The sizes of one 2-D pooling over a batch (NCHW, no padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    pub kind: PoolKind,
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: usize,
    pub stride: usize,
}

/// Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3):
/// `b[c] = a[c] / (k + alpha * sum_{c' within n/2 of c} a[c']^2)^beta`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrnSpec {
    pub batch: usize,
    pub channels: usize,
    /// Pixels per channel map (`h * w`).
    pub plane: usize,
    pub size: usize,
    pub alpha: f32,
    pub beta: f32,
    pub k: f32,
}

/// Batch normalisation over a batch `[batch, channels, plane]`: statistics per channel over
/// the batch and the plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BnSpec {
    pub batch: usize,
    pub channels: usize,
    pub plane: usize,
    pub epsilon: f32,
}

/// What an evaluation-mode convolution does to each output `v = conv(x) + bias` of channel
/// `o` before it is written (see `LabDevice::try_conv2d_eval`): the activation and the
/// evaluation-mode batch norm that follow it in a model, folded into the one pass that writes
/// the output. Each is computed with the same operations, in the same order, as the separate
/// layers compute it, so the results are the same.
///
/// `V` holds the per-channel numbers: a device tensor where a model hands the epilogue to its
/// device (so they never leave it), a `Vec<f32>` in the CPU kernels.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Epilogue<V = Vec<f32>> {
    /// `v` (a plain convolution).
    #[default]
    Identity,
    /// `max(v, 0)`: convolution, ReLU.
    Relu,
    /// `max(v * a[o] + c[o], 0)`: convolution, batch norm, ReLU (the `cifar` model's order).
    AffineRelu { a: V, c: V },
    /// `max(v, 0) * a[o] + c[o]`: convolution, ReLU, batch norm (the `article` model's order).
    ReluAffine { a: V, c: V },
}

impl<V> Epilogue<V> {
    /// The same epilogue with its per-channel numbers converted by `f` (for example, read
    /// from a device tensor into a `Vec`).
    pub fn try_map<W, E>(&self, mut f: impl FnMut(&V) -> Result<W, E>) -> Result<Epilogue<W>, E> {
        Ok(match self {
            Epilogue::Identity => Epilogue::Identity,
            Epilogue::Relu => Epilogue::Relu,
            Epilogue::AffineRelu { a, c } => Epilogue::AffineRelu { a: f(a)?, c: f(c)? },
            Epilogue::ReluAffine { a, c } => Epilogue::ReluAffine { a: f(a)?, c: f(c)? },
        })
    }
}

impl Epilogue {
    /// The output of channel `o` for the convolution's value `v`.
    #[inline(always)]
    pub fn apply(&self, o: usize, v: f32) -> f32 {
        match self {
            Epilogue::Identity => v,
            Epilogue::Relu => v.max(0.0),
            Epilogue::AffineRelu { a, c } => (v * a[o] + c[o]).max(0.0),
            Epilogue::ReluAffine { a, c } => v.max(0.0) * a[o] + c[o],
        }
    }
}
