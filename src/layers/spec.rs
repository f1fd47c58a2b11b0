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
