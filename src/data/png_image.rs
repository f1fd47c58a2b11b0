//! Reading a PNG of any size as a 32x32 image for the network ("try your own image").

use super::dataset::{CHANNELS, IMAGE_SIZE};
use super::transform::resize_planes;
use crate::{Error, Result};
use std::path::Path;

/// Decodes the PNG at `path` (8- or 16-bit; grey, grey with alpha, RGB or RGBA; alpha is
/// dropped) and resizes it to 32x32 with bilinear filtering; returns CHW bytes, the layout
/// of a CIFAR-10 record.
///
/// # Errors
/// An unreadable file or one that is not a PNG, named with what to do.
pub fn read_png_as_image(path: &Path) -> Result<Vec<u8>> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::data(
            path,
            format!("cannot read this PNG ({e}); save the picture as PNG and try again"),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let step = info.color_type.samples();
    if w == 0 || h == 0 {
        return Err(bad(&"it has no pixels"));
    }
    let mut rgb = Vec::with_capacity(w * h * CHANNELS);
    for px in buf[..w * h * step].chunks_exact(step) {
        for c in 0..CHANNELS {
            rgb.push(if step >= 3 { px[c] } else { px[0] });
        }
    }
    Ok(rgb_to_image(&rgb, w, h))
}

/// Interleaved RGB bytes of a `w x h` picture to CHW bytes resized to 32x32 with the crate's
/// bilinear resize ([`resize_planes`]; a non-square picture is stretched).
pub fn rgb_to_image(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut planes = vec![0f32; CHANNELS * w * h];
    for (p, px) in rgb.chunks_exact(CHANNELS).enumerate() {
        for c in 0..CHANNELS {
            planes[c * w * h + p] = px[c] as f32;
        }
    }
    resize_planes(&planes, CHANNELS, (h, w), (IMAGE_SIZE, IMAGE_SIZE))
        .into_iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Reads a picture file as a 32x32 image (CHW bytes): PNG always, and JPEG and the other
/// formats of the `image` crate with the `jpeg` feature (the `alexnet` tool has it).
///
/// # Errors
/// An unreadable file or one that is not a picture, named with what to do.
pub fn read_image(path: &Path) -> Result<Vec<u8>> {
    #[cfg(feature = "jpeg")]
    {
        let img = image::open(path).map_err(|e| {
            Error::data(
                path,
                format!("cannot read the image ({e}); use a PNG or JPEG file"),
            )
        })?;
        let rgb = img.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        if w == 0 || h == 0 {
            return Err(Error::data(path, "the image has no pixels"));
        }
        Ok(rgb_to_image(rgb.as_raw(), w, h))
    }
    #[cfg(not(feature = "jpeg"))]
    {
        read_png_as_image(path)
    }
}
