//! Reading a PNG of any size as a 32x32 image for the network ("try your own image").

use super::cifar10::{CHANNELS, IMAGE_SIZE, PIXELS};
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
    // Planes of floats, then a bilinear resize of each (non-square images are stretched).
    let mut planes = vec![0f32; CHANNELS * w * h];
    for (p, px) in buf[..w * h * step].chunks_exact(step).enumerate() {
        for c in 0..CHANNELS {
            let v = if step >= 3 { px[c] } else { px[0] };
            planes[c * w * h + p] = v as f32;
        }
    }
    let mut out = vec![0u8; PIXELS];
    for c in 0..CHANNELS {
        let plane = &planes[c * w * h..(c + 1) * w * h];
        for y in 0..IMAGE_SIZE {
            for x in 0..IMAGE_SIZE {
                let sy = ((y as f32 + 0.5) * h as f32 / IMAGE_SIZE as f32 - 0.5)
                    .clamp(0.0, (h - 1) as f32);
                let sx = ((x as f32 + 0.5) * w as f32 / IMAGE_SIZE as f32 - 0.5)
                    .clamp(0.0, (w - 1) as f32);
                let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
                let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
                let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
                let top = plane[y0 * w + x0] * (1.0 - fx) + plane[y0 * w + x1] * fx;
                let bottom = plane[y1 * w + x0] * (1.0 - fx) + plane[y1 * w + x1] * fx;
                out[(c * IMAGE_SIZE + y) * IMAGE_SIZE + x] =
                    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(out)
}
