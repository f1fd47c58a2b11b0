//! Grids of captioned images: the network's mistakes, augmentations of one image, and the
//! nearest neighbours of a few images in a layer's feature space.

use super::figure::{font, plot_err, text_width, Figure};
use super::images::check_image;
use crate::data::{random_crop_flip, Images, IMAGE_SIZE};
use crate::{Error, Result};
use plotters::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Pixels per image pixel in a captioned grid.
pub const TILE_SCALE: u32 = 4;
const TILE: u32 = IMAGE_SIZE as u32 * TILE_SCALE;
const CAPTION_H: u32 = 22;
const GAP: u32 = 10;
const LABEL_W: u32 = 190;
const TITLE_H: u32 = 70;

/// Where the image of row `row`, column `col` of a captioned grid ([`mistakes`],
/// [`augmentations`], [`neighbours`]) starts; its caption is drawn just below it.
pub fn tile_origin(row: u32, col: u32) -> (u32, u32) {
    (
        LABEL_W + col * (TILE + GAP),
        TITLE_H + row * (TILE + CAPTION_H + GAP),
    )
}

/// One row of a captioned grid: a label on the left, then `(image, caption)` tiles.
struct Row<'a> {
    label: String,
    tiles: Vec<(&'a [u8], String)>,
}

/// `title`: a heading, and a line in smaller type under it.
fn captioned_grid((title, subtitle): (&str, &str), rows: &[Row]) -> Result<Figure> {
    let cols = rows.iter().map(|r| r.tiles.len()).max().unwrap_or(0).max(1) as u32;
    let (w, h) = tile_origin(rows.len() as u32, cols);
    let width = w.max(text_width(title, 24)).max(text_width(subtitle, 18));
    let mut fig = Figure::draw(width, h + 4, |root| {
        root.draw(&Text::new(title.to_string(), (10, 8), font(24)))
            .map_err(plot_err)?;
        root.draw(&Text::new(subtitle.to_string(), (10, 40), font(18)))
            .map_err(plot_err)?;
        for (r, row) in rows.iter().enumerate() {
            let (_, y) = tile_origin(r as u32, 0);
            // The row's label, on two lines when it is long.
            let (first, second) = row.label.split_once(' ').unwrap_or((&row.label, ""));
            for (k, line) in [first, second].iter().enumerate() {
                let pos = (10, (y + TILE / 2 - 20 + 22 * k as u32) as i32);
                root.draw(&Text::new(line.to_string(), pos, font(18)))
                    .map_err(plot_err)?;
            }
            for (c, (_, caption)) in row.tiles.iter().enumerate() {
                let (x, y) = tile_origin(r as u32, c as u32);
                let pos = (x as i32, (y + TILE + 3) as i32);
                root.draw(&Text::new(caption.clone(), pos, font(14)))
                    .map_err(plot_err)?;
            }
        }
        Ok(())
    })?;
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    for (r, row) in rows.iter().enumerate() {
        for (c, (img, _)) in row.tiles.iter().enumerate() {
            let size = IMAGE_SIZE as u32;
            fig.blit(
                tile_origin(r as u32, c as u32),
                (size, size),
                TILE_SCALE,
                |x, y| {
                    let i = y as usize * IMAGE_SIZE + x as usize;
                    [img[i], img[plane + i], img[2 * plane + i]]
                },
            );
        }
    }
    Ok(fig)
}

fn class_name(classes: &[String], k: usize) -> String {
    classes
        .get(k)
        .cloned()
        .unwrap_or_else(|| format!("class {k}"))
}

/// The network's mistakes: one row per class it **guessed** wrongly at least once (in class
/// order), holding up to `per_class` images it got wrong with that guess, each captioned
/// with its **true** class.
/// `guesses[i]` is the guess for `images` image `i`.
///
/// # Errors
/// When there is not one guess per image.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn mistakes(
    images: &Images,
    guesses: &[usize],
    classes: &[String],
    per_class: usize,
) -> Result<Figure> {
    if guesses.len() != images.len() {
        let why = format!("{} guesses for {} images", guesses.len(), images.len());
        return Err(Error::Invalid {
            what: "mistakes",
            why,
        });
    }
    let mut rows: Vec<Row> = (0..classes.len())
        .map(|k| Row {
            label: format!("guessed {}", class_name(classes, k)),
            tiles: Vec::new(),
        })
        .collect();
    for (i, &guess) in guesses.iter().enumerate() {
        let truth = images.labels[i] as usize;
        if guess != truth && guess < rows.len() && rows[guess].tiles.len() < per_class {
            let caption = format!("is {}", class_name(classes, truth));
            rows[guess].tiles.push((images.image(i), caption));
        }
    }
    let wrong = guesses
        .iter()
        .zip(&images.labels)
        .filter(|(&g, &t)| g != t as usize)
        .count();
    rows.retain(|r| !r.tiles.is_empty());
    let title = format!("Mistakes: {wrong} of {} images wrong", images.len());
    let subtitle = "each row: what the network guessed; under each image: what it really is";
    captioned_grid((&title, subtitle), &rows)
}

/// One image and `n` augmentations of it: random `32 x 32` crops of the image padded with
/// `pad` zero pixels, each flipped left-right half the time (what `--augment` trains on).
/// The first tile is the original; the same `seed` draws the same crops.
///
/// Taught in `notebooks/09-training.ipynb`.
pub fn augmentations(image: &[u8], pad: usize, n: usize, seed: u64) -> Result<Figure> {
    check_image(image, "augmentations")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let variants: Vec<Vec<u8>> = (0..n)
        .map(|_| random_crop_flip(image, pad, &mut rng))
        .collect();
    let mut tiles = vec![(image, "original".to_string())];
    tiles.extend(
        variants
            .iter()
            .enumerate()
            .map(|(k, v)| (v.as_slice(), format!("crop {}", k + 1))),
    );
    let rows = [Row {
        label: String::new(),
        tiles,
    }];
    let title = format!("One image, {n} augmentations of it");
    let subtitle = format!(
        "random 32x32 crops of the image padded by {pad}, each flipped with probability 1/2"
    );
    captioned_grid((&title, &subtitle), &rows)
}

/// The `k` images nearest to image `query` by Euclidean distance between their feature
/// vectors (`features` holds one row of `dim` values per image), nearest first, the query
/// itself left out.
pub fn nearest(features: &[f32], dim: usize, query: usize, k: usize) -> Vec<usize> {
    let n = features.len().checked_div(dim).unwrap_or(0);
    if query >= n {
        return Vec::new();
    }
    let q = &features[query * dim..(query + 1) * dim];
    let rows = features
        .chunks_exact(dim)
        .enumerate()
        .filter(|&(i, _)| i != query);
    by_distance(rows, q)
        .into_iter()
        .take(k)
        .map(|(_, i)| i)
        .collect()
}

/// Each of `rows` (index, feature vector) with its squared Euclidean distance to `query`,
/// nearest first (ties by index).
fn by_distance<'a>(
    rows: impl Iterator<Item = (usize, &'a [f32])>,
    query: &[f32],
) -> Vec<(f32, usize)> {
    let mut order: Vec<(f32, usize)> = rows
        .map(|(i, row)| {
            let d2: f32 = row.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
            (d2, i)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    order
}

/// Nearest neighbours in a layer's feature space (cs231n): one row per query image, the
/// query first, then its `k` nearest images by [`nearest`], each captioned with its class.
/// Neighbours of the same class in the last hidden layer mean that layer separates the
/// classes, even where the pixels differ.
///
/// # Errors
/// When `features` is not `dim` values per image, or a query is out of range.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn neighbours(
    images: &Images,
    features: &[f32],
    dim: usize,
    queries: &[usize],
    k: usize,
    classes: &[String],
) -> Result<Figure> {
    if dim == 0 || features.len() != dim * images.len() {
        let why = format!(
            "{} feature values for {} images of {dim} features",
            features.len(),
            images.len()
        );
        return Err(Error::Invalid {
            what: "nearest neighbours",
            why,
        });
    }
    if let Some(&q) = queries.iter().find(|&&q| q >= images.len()) {
        let why = format!("query {q}, but there are {} images", images.len());
        return Err(Error::Invalid {
            what: "nearest neighbours",
            why,
        });
    }
    let caption = |i: usize| class_name(classes, images.labels[i] as usize);
    let rows: Vec<Row> = queries
        .iter()
        .map(|&q| {
            let mut tiles = vec![(images.image(q), caption(q))];
            let near = nearest(features, dim, q, k);
            tiles.extend(near.into_iter().map(|i| (images.image(i), caption(i))));
            Row {
                label: format!("image {q}"),
                tiles,
            }
        })
        .collect();
    let title = format!("Nearest neighbours: each image, then the {k} closest to it");
    let subtitle = format!("closest by the distance between their {dim} features");
    captioned_grid((&title, &subtitle), &rows)
}

/// The `k` rows of `base` (`dim` values each) nearest to `query` (`dim` values) by
/// Euclidean distance, nearest first, each with its distance; ties go to the lower index.
/// Nothing is left out: `query` is usually not one of `base`'s rows (a test image against
/// the training images).
///
/// # Errors
/// When `query` is not `dim` values, `base` is not whole rows of `dim`, or `k` is 0 or
/// larger than the number of rows.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn nearest_in(base: &[f32], dim: usize, query: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
    let rows = base.len().checked_div(dim).unwrap_or(0);
    if dim == 0 || query.len() != dim || base.len() != rows * dim || k == 0 || k > rows {
        let why = format!(
            "a query of {} values, {} values in the set, dim {dim}, k {k}: the query must be \
             dim values, the set whole rows of dim, and k between 1 and its {rows} rows",
            query.len(),
            base.len()
        );
        return Err(Error::Invalid {
            what: "nearest in a set",
            why,
        });
    }
    Ok(by_distance(base.chunks_exact(dim).enumerate(), query)
        .into_iter()
        .take(k)
        .map(|(d2, i)| (i, d2.sqrt()))
        .collect())
}

/// Nearest neighbours from another set, as in the AlexNet paper's Figure 4: one row per
/// query image of `queries` (with its features in `query_features`, `dim` per image), the
/// query first, then the `k` images of `base` nearest to it by [`nearest_in`] (their
/// features in `base_features`), each captioned with its class and its distance.
///
/// # Errors
/// When either set's features are not `dim` values per image, a query is out of range, or
/// `k` is 0 or larger than `base`.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn neighbours_from(
    (queries, query_features): (&Images, &[f32]),
    (base, base_features): (&Images, &[f32]),
    dim: usize,
    which: &[usize],
    k: usize,
    classes: &[String],
) -> Result<Figure> {
    let fits = |set: &Images, f: &[f32]| dim > 0 && f.len() == dim * set.len();
    if !fits(queries, query_features) || !fits(base, base_features) {
        let why = format!(
            "{} and {} feature values for {} and {} images of {dim} features",
            query_features.len(),
            base_features.len(),
            queries.len(),
            base.len()
        );
        return Err(Error::Invalid {
            what: "neighbours from a set",
            why,
        });
    }
    if let Some(&q) = which.iter().find(|&&q| q >= queries.len()) {
        let why = format!("query {q}, but there are {} query images", queries.len());
        return Err(Error::Invalid {
            what: "neighbours from a set",
            why,
        });
    }
    let mut rows = Vec::with_capacity(which.len());
    for &q in which {
        let feature = &query_features[q * dim..(q + 1) * dim];
        let truth = class_name(classes, queries.labels[q] as usize);
        let mut tiles = vec![(queries.image(q), truth)];
        for (i, d) in nearest_in(base_features, dim, feature, k)? {
            let caption = format!("{} {d:.1}", class_name(classes, base.labels[i] as usize));
            tiles.push((base.image(i), caption));
        }
        rows.push(Row {
            label: format!("test {q}"),
            tiles,
        });
    }
    let title = format!(
        "Each test image, then the {k} nearest of {} training images",
        base.len()
    );
    let subtitle =
        format!("by the distance between their {dim} features (under each: class, distance)");
    captioned_grid((&title, &subtitle), &rows)
}
