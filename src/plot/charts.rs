//! Charts: training curves, the confusion matrix, per-class accuracy, histograms, function
//! plots and bar charts (softmax probabilities, top-k guesses). Sized for a projector.

use super::figure::{font, plot_err, viridis, Area, Figure, FONT_FAMILY, PALETTE};
use crate::history::History;
use crate::{Error, Result};
use plotters::prelude::*;

const W: u32 = 900;
const H: u32 = 560;

fn finite_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }
}

/// A tick label for a whole-number axis (epochs): `3` at 3.0, nothing between whole numbers.
pub(crate) fn whole_number_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

/// One panel of lines over a shared x axis; `markers` also marks each point and, for
/// epochs, labels the x axis with whole numbers only.
fn line_panel(
    area: &Area,
    title: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[(&str, Vec<(f64, f64)>)],
    markers: bool,
) -> Result<()> {
    let xs = finite_range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let ys = finite_range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT_FAMILY, 28))
        .margin(15)
        .x_label_area_size(55)
        .y_label_area_size(75)
        .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
        .map_err(plot_err)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT_FAMILY, 22))
        .label_style((FONT_FAMILY, 18));
    let whole = |x: &f64| whole_number_label(*x);
    if markers {
        // One tick per whole number when there are few, else plotters' choice (still whole).
        let span = (xs.1 - xs.0).ceil() as usize;
        mesh.x_labels(span.clamp(2, 12) + 1)
            .x_label_formatter(&whole);
    }
    mesh.draw().map_err(plot_err)?;
    for (k, (name, points)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<_> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(plot_err)?
            .label(name.to_string())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
        if markers {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .map_err(plot_err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT_FAMILY, 20))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

/// Loss and accuracy by epoch, training and validation, side by side; the epochs on the x
/// axis are whole numbers.
///
/// Taught in `notebooks/09-training.ipynb`.
pub fn curves(history: &History) -> Result<Figure> {
    // One series: (epoch, scale * field) for every epoch.
    let series = |f: fn(&crate::history::EpochStats) -> f64, scale: f64| {
        let points = history
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, scale * f(e)));
        points.collect::<Vec<_>>()
    };
    Figure::draw(2 * W, H, |root| {
        let (left, right) = root.split_horizontally(W);
        let loss = [
            ("training", series(|e| e.train_loss, 1.0)),
            ("validation", series(|e| e.val_loss, 1.0)),
        ];
        line_panel(&left, "Loss", ("epoch", "cross-entropy"), &loss, true)?;
        let acc = [
            ("training", series(|e| e.train_acc, 100.0)),
            ("validation", series(|e| e.val_acc, 100.0)),
        ];
        line_panel(&right, "Accuracy", ("epoch", "accuracy (%)"), &acc, true)
    })
}

/// Layout of [`confusion`]: the cell side and the top-left corner of cell (0, 0).
pub fn confusion_layout(n: usize) -> (u32, (u32, u32)) {
    ((560 / n.max(1) as u32).max(8), (230, 70))
}

/// The confusion matrix as a heatmap: rows are true classes, columns predictions, each
/// cell coloured by the fraction of its row and labelled with its count.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn confusion(matrix: &[Vec<usize>], classes: &[String]) -> Result<Figure> {
    let n = matrix.len();
    if n == 0 || matrix.iter().any(|r| r.len() != n) || classes.len() != n {
        return Err(Error::Invalid {
            what: "confusion matrix",
            why: format!("{n} rows, {} class names; it must be square", classes.len()),
        });
    }
    let (cell, (x0, y0)) = confusion_layout(n);
    let (width, height) = (x0 + n as u32 * cell + 40, y0 + n as u32 * cell + 200);
    let at = |i: usize, j: usize| ((x0 + j as u32 * cell) as i32, (y0 + i as u32 * cell) as i32);
    Figure::draw(width, height, |root| {
        let title = "Confusion matrix (rows: true class, columns: predicted)";
        root.draw(&Text::new(title, (10, 15), font(24)))
            .map_err(plot_err)?;
        for (i, name) in classes.iter().enumerate() {
            let (x, y) = at(i, i);
            root.draw(&Text::new(
                name.clone(),
                (10, y + cell as i32 / 2 - 9),
                font(18),
            ))
            .map_err(plot_err)?;
            let style = font(18).transform(FontTransform::Rotate90);
            let below = (y0 + n as u32 * cell + 8) as i32;
            root.draw(&Text::new(
                name.clone(),
                (x + cell as i32 / 2 + 6, below),
                style,
            ))
            .map_err(plot_err)?;
        }
        for (i, row) in matrix.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f32;
            for (j, &count) in row.iter().enumerate() {
                let fraction = count as f32 / total;
                let [r, g, b] = viridis(fraction);
                let (x, y) = at(i, j);
                let corner = (x + cell as i32 - 2, y + cell as i32 - 2);
                root.draw(&Rectangle::new(
                    [(x, y), corner],
                    RGBColor(r, g, b).filled(),
                ))
                .map_err(plot_err)?;
                // Dark text on light cells, light on dark.
                let ink = if fraction > 0.6 { &BLACK } else { &WHITE };
                let style = font((cell / 3).clamp(10, 18)).color(ink);
                let pos = (x + cell as i32 / 5, y + cell as i32 / 3);
                root.draw(&Text::new(count.to_string(), pos, style))
                    .map_err(plot_err)?;
            }
        }
        Ok(())
    })
}

/// Vertical bars, one per label (softmax probabilities, per-class accuracy, top-k guesses).
///
/// Taught in `notebooks/03-relu-and-softmax.ipynb`.
pub fn bars(title: &str, labels: &[String], values: &[f32], y_desc: &str) -> Result<Figure> {
    let n = labels.len().min(values.len());
    let top = values.iter().take(n).fold(0f32, |m, &v| m.max(v)).max(1e-6) as f64 * 1.1;
    let bottom = values.iter().take(n).fold(0f32, |m, &v| m.min(v)) as f64;
    Figure::draw(W, H, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT_FAMILY, 28))
            .margin(15)
            .x_label_area_size(150)
            .y_label_area_size(75)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, bottom..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(y_desc)
            .axis_desc_style((FONT_FAMILY, 22))
            .label_style((FONT_FAMILY, 18))
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series((0..n).map(|i| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.38, 0.0), (x + 0.38, values[i] as f64)],
                    PALETTE[0].filled(),
                )
            }))
            .map_err(plot_err)?;
        // Class names under the bars, turned to read upwards.
        for (i, label) in labels.iter().take(n).enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64, bottom));
            let style = font(18).transform(FontTransform::Rotate90);
            root.draw(&Text::new(label.clone(), (x + 8, y + 8), style))
                .map_err(plot_err)?;
        }
        Ok(())
    })
}

/// The `k` most probable classes, most probable first: a network's guesses on one image.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn top_k(classes: &[String], probabilities: &[f32], k: usize) -> Result<Figure> {
    let mut order: Vec<usize> = (0..probabilities.len().min(classes.len())).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    order.truncate(k.max(1));
    let labels: Vec<String> = order.iter().map(|&i| classes[i].clone()).collect();
    let values: Vec<f32> = order.iter().map(|&i| probabilities[i]).collect();
    bars(
        &format!("Top {} guesses", labels.len()),
        &labels,
        &values,
        "probability",
    )
}

/// Per-class accuracy as bars (in percent).
pub fn per_class_accuracy(accuracy: &[f64], classes: &[String]) -> Result<Figure> {
    let pct: Vec<f32> = accuracy.iter().map(|&a| 100.0 * a as f32).collect();
    bars("Accuracy per class", classes, &pct, "accuracy (%)")
}

/// Histograms of several sets of values on one axis (e.g. activations before and after
/// batch norm), `bins` bins over their joint range.
///
/// Taught in `notebooks/06-batch-normalization.ipynb`.
pub fn histogram(
    title: &str,
    x_desc: &str,
    series: &[(&str, &[f32])],
    bins: usize,
) -> Result<Figure> {
    let bins = bins.max(1);
    let (lo, hi) = finite_range(series.iter().flat_map(|(_, v)| v.iter().map(|&x| x as f64)));
    let width = (hi - lo) / bins as f64;
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|(_, v)| {
            let mut c = vec![0; bins];
            for &x in v.iter().filter(|x| x.is_finite()) {
                c[(((x as f64 - lo) / width) as usize).min(bins - 1)] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    Figure::draw(W, H, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT_FAMILY, 28))
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(lo..hi, 0f64..top)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("count")
            .axis_desc_style((FONT_FAMILY, 22))
            .label_style((FONT_FAMILY, 18))
            .draw()
            .map_err(plot_err)?;
        for (k, ((name, _), c)) in series.iter().zip(&counts).enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            chart
                .draw_series(c.iter().enumerate().map(|(b, &n)| {
                    let x = lo + b as f64 * width;
                    Rectangle::new([(x, 0.0), (x + width, n as f64)], color.mix(0.55).filled())
                }))
                .map_err(plot_err)?
                .label(name.to_string())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT_FAMILY, 20))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        Ok(())
    })
}

/// Series of values drawn as lines against their index (0, 1, 2, ...), with both axes named:
/// a loss at each training step, one line per learning rate. Values that are not finite
/// (a diverged run) are left out of the line.
///
/// ```
/// use alexnet_lab::plot;
/// let diverged = [2.3, 4.0, f32::NAN];
/// let figure = plot::lines("loss", ("step", "loss"), &[("lr 0.01", &[2.3, 2.1, 1.9]), ("lr 1", &diverged)])?;
/// assert!(figure.width > 0 && figure.height > 0);
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// Taught in `notebooks/09-training.ipynb`.
pub fn lines(title: &str, axes: (&str, &str), series: &[(&str, &[f32])]) -> Result<Figure> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, values)| {
            let pts = values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v as f64));
            (*name, pts.collect())
        })
        .collect();
    Figure::draw(W, H, |root| line_panel(root, title, axes, &series, false))
}

/// Functions of one variable over `[x0, x1]` (ReLU, sigmoid, ...).
///
/// Taught in `notebooks/03-relu-and-softmax.ipynb`.
pub fn function_plot(
    title: &str,
    (x0, x1): (f32, f32),
    functions: &[(&str, &dyn Fn(f32) -> f32)],
) -> Result<Figure> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = functions
        .iter()
        .map(|(name, f)| {
            let pts = (0..=200).map(|i| {
                let x = x0 + (x1 - x0) * i as f32 / 200.0;
                (x as f64, f(x) as f64)
            });
            (*name, pts.collect())
        })
        .collect();
    Figure::draw(W, H, |root| {
        line_panel(root, title, ("x", "f(x)"), &series, false)
    })
}

/// Ten colours told apart easily (matplotlib's `tab10`), one per class in [`scatter`].
pub const CLASS_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Points in two dimensions (e.g. [`crate::plot::pca_2d`]'s), each a dot coloured by its
/// class (`labels[i]` indexes `classes` and [`CLASS_COLOURS`], repeating after ten), with a
/// legend of the classes.
///
/// # Errors
/// When there is not one label per point, a label is not below `classes.len()`, or there
/// are no points.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn scatter(
    title: &str,
    axes: (&str, &str),
    points: &[[f32; 2]],
    labels: &[usize],
    classes: &[String],
) -> Result<Figure> {
    if points.is_empty()
        || labels.len() != points.len()
        || labels.iter().any(|&l| l >= classes.len())
    {
        let why = format!(
            "{} points, {} labels, {} classes: one label per point, each below the classes",
            points.len(),
            labels.len(),
            classes.len()
        );
        return Err(Error::Invalid {
            what: "scatter",
            why,
        });
    }
    let xs = finite_range(points.iter().map(|p| p[0] as f64));
    let ys = finite_range(points.iter().map(|p| p[1] as f64));
    // Room on the right for the legend.
    let xs = (xs.0, xs.1 + (xs.1 - xs.0) * 0.35);
    Figure::draw(W, H + 100, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT_FAMILY, 26))
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .axis_desc_style((FONT_FAMILY, 22))
            .label_style((FONT_FAMILY, 18))
            .draw()
            .map_err(plot_err)?;
        for (k, name) in classes.iter().enumerate() {
            let colour = CLASS_COLOURS[k % CLASS_COLOURS.len()];
            let mine = points
                .iter()
                .zip(labels)
                .filter(|(p, &l)| l == k && p[0].is_finite() && p[1].is_finite())
                .map(|(p, _)| Circle::new((p[0] as f64, p[1] as f64), 4, colour.filled()));
            chart
                .draw_series(mine)
                .map_err(plot_err)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT_FAMILY, 18))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn epochs_are_labelled_with_whole_numbers_only() {
        assert_eq!(super::whole_number_label(3.0), "3");
        assert_eq!(super::whole_number_label(2.999_999_9), "3");
        assert_eq!(super::whole_number_label(2.5), "");
        assert_eq!(super::whole_number_label(0.2), "");
    }
}
