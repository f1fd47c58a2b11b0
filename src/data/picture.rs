//! Reading a picture of any size (PNG, and JPEG with the `jpeg` feature) as a 32x32 image for
//! the network ("try your own image").

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
    decode_png(&std::fs::read(path).map_err(|e| Error::io(path, e))?, path)
}

/// [`read_png_as_image`] on the file's bytes, already read; `path` names it in errors.
fn decode_png(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::data(
            path,
            format!("cannot read this PNG ({e}); save the picture as PNG and try again"),
        )
    };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
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

/// Reads a picture file as a 32x32 image (CHW bytes): PNG always, and JPEG (baseline or
/// progressive, colour or grey) with the `jpeg` feature (the `alexnet` tool has it). The kind
/// is read from the file's first bytes, not its name.
///
/// # Errors
/// An unreadable file or one that is not a PNG or JPEG picture, named with what to do.
pub fn read_image(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    #[cfg(feature = "jpeg")]
    {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return decode_jpeg(&bytes, path);
        }
        if !bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            return Err(Error::data(
                path,
                "this is neither a PNG nor a JPEG picture (its first bytes say so); save it as PNG or JPEG and try again",
            ));
        }
    }
    decode_png(&bytes, path)
}

/// Decodes the JPEG whose bytes were read from `path` (zune-jpeg: baseline or progressive;
/// grey, YCbCr or CMYK, all turned into RGB) and resizes it to 32x32 as [`read_png_as_image`]
/// does.
#[cfg(feature = "jpeg")]
fn decode_jpeg(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    use zune_jpeg::zune_core::{
        bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
    };
    let bad = |e: &dyn std::fmt::Display| {
        // The decoder's messages may span lines; the error is one.
        let e = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Error::data(
            path,
            format!(
                "cannot read this JPEG ({e}); save the picture again as PNG or JPEG and try again"
            ),
        )
    };
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| bad(&format!("{e:?}")))?;
    let info = decoder.info().ok_or_else(|| bad(&"no image header"))?;
    let (w, h) = (info.width as usize, info.height as usize);
    if w == 0 || h == 0 {
        return Err(bad(&"it has no pixels"));
    }
    let rgb = decoder.decode().map_err(|e| bad(&format!("{e:?}")))?;
    if rgb.len() < w * h * CHANNELS {
        return Err(bad(&"it ends early"));
    }
    Ok(rgb_to_image(&rgb[..w * h * CHANNELS], w, h))
}
