//! Pictures of the data: a grid of images per class, and one image with its channels.

use super::figure::{font, plot_err, Figure};
use crate::data::{Images, IMAGE_SIZE, NUM_CLASSES};
use crate::{Error, Result};
use plotters::prelude::*;

/// Pixels per image pixel in the grid.
pub const GRID_SCALE: u32 = 3;
const TILE: u32 = IMAGE_SIZE as u32 * GRID_SCALE;
const GAP: u32 = 6;
const LABEL_W: u32 = 200;
const TITLE_H: u32 = 50;

/// Where the tile of row `row`, column `col` of [`image_grid`] starts.
pub fn grid_tile_origin(row: u32, col: u32) -> (u32, u32) {
    (LABEL_W + col * (TILE + GAP), TITLE_H + row * (TILE + GAP))
}

/// The colour of pixel `(x, y)` of a CHW image.
fn rgb(img: &[u8], x: u32, y: u32) -> [u8; 3] {
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    let i = y as usize * IMAGE_SIZE + x as usize;
    [img[i], img[plane + i], img[2 * plane + i]]
}

/// An error unless `image` holds one 3x32x32 image (CHW bytes); `what` names the figure.
pub(super) fn check_image(image: &[u8], what: &'static str) -> Result<()> {
    if image.len() != 3 * IMAGE_SIZE * IMAGE_SIZE {
        let why = format!("{} bytes: a 3x32x32 image has 3072", image.len());
        return Err(Error::Invalid { what, why });
    }
    Ok(())
}

/// The first `per_class` images of every class, one row per class, named on the left.
///
/// Taught in `notebooks/01-cifar10.ipynb`.
pub fn image_grid(images: &Images, classes: &[String], per_class: usize) -> Result<Figure> {
    let cols = per_class.max(1) as u32;
    let (w, h) = grid_tile_origin(NUM_CLASSES as u32, cols);
    let mut fig = Figure::draw(w, h, |root| {
        let title = format!("{per_class} images of each class");
        root.draw(&Text::new(title, (10, 10), font(28)))
            .map_err(plot_err)?;
        for (row, name) in classes.iter().enumerate().take(NUM_CLASSES) {
            let (_, y) = grid_tile_origin(row as u32, 0);
            root.draw(&Text::new(
                name.clone(),
                (10, (y + TILE / 2 - 10) as i32),
                font(22),
            ))
            .map_err(plot_err)?;
        }
        Ok(())
    })?;
    let mut next = [0u32; NUM_CLASSES];
    for i in 0..images.len() {
        let class = images.labels[i] as usize;
        if next[class] < cols {
            let img = images.image(i);
            fig.blit(
                grid_tile_origin(class as u32, next[class]),
                (32, 32),
                GRID_SCALE,
                |x, y| rgb(img, x, y),
            );
            next[class] += 1;
        }
    }
    Ok(fig)
}

/// Image `i` enlarged, beside its red, green and blue channels (each as intensity).
///
/// Taught in `notebooks/01-cifar10.ipynb`.
pub fn image_channels(images: &Images, i: usize, classes: &[String]) -> Result<Figure> {
    const SCALE: u32 = 6;
    const SIDE: u32 = 32 * SCALE;
    let img = images.image(i);
    let name = classes
        .get(images.labels[i] as usize)
        .cloned()
        .unwrap_or_default();
    let mut fig = Figure::draw(4 * (SIDE + 20) + 20, SIDE + 100, |root| {
        root.draw(&Text::new(format!("image {i}: {name}"), (20, 10), font(28)))
            .map_err(plot_err)?;
        for (k, label) in ["RGB", "red", "green", "blue"].iter().enumerate() {
            let x = 20 + k as i32 * (SIDE + 20) as i32;
            root.draw(&Text::new(
                label.to_string(),
                (x, SIDE as i32 + 65),
                font(22),
            ))
            .map_err(plot_err)?;
        }
        Ok(())
    })?;
    fig.blit((20, 55), (32, 32), SCALE, |x, y| rgb(img, x, y));
    for c in 0..3 {
        let x0 = 20 + (c as u32 + 1) * (SIDE + 20);
        fig.blit((x0, 55), (32, 32), SCALE, |x, y| {
            let v = rgb(img, x, y)[c];
            std::array::from_fn(|k| if k == c { v } else { v / 3 })
        });
    }
    Ok(fig)
}
