//! Images as `ndarray` arrays, for plotting and for lessons that index pixels by hand.

use super::dataset::{Images, CHANNELS, IMAGE_SIZE, PIXELS};
use ndarray::{Array3, Array4};

impl Images {
    /// All images as bytes in `(N, 32, 32, 3)` (height, width, RGB): how image files and
    /// plotting libraries lay pixels out.
    pub fn to_hwc(&self) -> Array4<u8> {
        let n = self.len();
        Array4::from_shape_fn((n, IMAGE_SIZE, IMAGE_SIZE, CHANNELS), |(i, y, x, c)| {
            self.pixels[i * PIXELS + (c * IMAGE_SIZE + y) * IMAGE_SIZE + x]
        })
    }

    /// All images as floats in `[0, 1]` in `(N, 3, 32, 32)` (channels first): how the network
    /// reads them.
    pub fn to_chw_f32(&self) -> Array4<f32> {
        let n = self.len();
        let data = self.pixels.iter().map(|&p| p as f32 / 255.0).collect();
        Array4::from_shape_vec((n, CHANNELS, IMAGE_SIZE, IMAGE_SIZE), data).expect("N * 3072 bytes")
    }

    /// Image `i` as `(32, 32, 3)` bytes.
    pub fn image_hwc(&self, i: usize) -> Array3<u8> {
        let img = self.image(i);
        Array3::from_shape_fn((IMAGE_SIZE, IMAGE_SIZE, CHANNELS), |(y, x, c)| {
            img[(c * IMAGE_SIZE + y) * IMAGE_SIZE + x]
        })
    }
}
