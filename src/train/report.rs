//! A run folder's report, written the same way by the command line and by a notebook:
//! `metrics.json` (the test figures), `curves.png` (loss and accuracy by epoch) and
//! `confusion.png` (the confusion matrix above the per-class accuracy).

use super::checkpoint::write_atomic;
use super::metrics::Metrics;
use crate::history::History;
use crate::model::ModelName;
use crate::{plot, Error, Result};
use std::path::Path;

/// The metrics file of a run folder.
pub const METRICS_FILE: &str = "metrics.json";

/// `metrics.json`: `model`, `epochs`, `test_accuracy`, `test_loss`, `per_class_accuracy`
/// (by class name), `classes` and `confusion` (`[true][predicted]` counts).
pub fn metrics_json(
    model: ModelName,
    epochs: usize,
    classes: &[String],
    m: &Metrics,
) -> serde_json::Value {
    let per_class: serde_json::Map<String, serde_json::Value> = classes
        .iter()
        .cloned()
        .zip(m.per_class_accuracy.iter().map(|&a| serde_json::json!(a)))
        .collect();
    serde_json::json!({
        "model": model,
        "epochs": epochs,
        "test_accuracy": m.accuracy,
        "test_loss": m.loss,
        "per_class_accuracy": per_class,
        "classes": classes,
        "confusion": m.confusion,
    })
}

/// Writes `metrics.json`, `curves.png` and `confusion.png` into `dir` (made if missing).
///
/// # Errors
/// A file that cannot be written, a figure that cannot be drawn.
pub fn write_report(
    dir: &Path,
    model: ModelName,
    history: &History,
    classes: &[String],
    m: &Metrics,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = metrics_json(model, history.epochs.len(), classes, m);
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Plot(e.to_string()))?;
    write_atomic(&dir.join(METRICS_FILE), text.as_bytes())?;
    plot::curves(history)?.save(dir.join("curves.png"))?;
    let confusion = plot::confusion(&m.confusion, classes)?;
    let bars = plot::per_class_accuracy(&m.per_class_accuracy, classes)?;
    plot::Figure::stack(&[confusion, bars]).save(dir.join("confusion.png"))
}
