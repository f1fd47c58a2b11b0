//! A model's layer table: layer, output shape, parameters; as text and as inline HTML.

use super::describe::{Describe, LayerRow};
use super::{Article, Cifar, ModelName, Paper};
use std::fmt;

/// The layer table of one model. Prints as text; displays as an HTML table in a notebook.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let table = summary(ModelName::Paper);
/// assert_eq!(table.total_params(), 60_965_224); // the paper's "60 million parameters"
/// assert_eq!(table.rows[0].output, vec![96, 55, 55]);
/// ```
///
/// Taught in `notebooks/07-alexnet.ipynb`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub model: ModelName,
    /// One image's input shape `[channels, height, width]`.
    pub input: Vec<usize>,
    pub rows: Vec<LayerRow>,
}

/// The layer table of a model, computed from its type (no weights are allocated).
pub fn summary(model: ModelName) -> Summary {
    let input = vec![3, model.input_size(), model.input_size()];
    let mut rows = Vec::new();
    match model {
        ModelName::Paper => Paper::describe(&input, &mut rows),
        ModelName::Article => Article::describe(&input, &mut rows),
        ModelName::Cifar => Cifar::describe(&input, &mut rows),
    };
    Summary { model, input, rows }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn shape(s: &[usize]) -> String {
    s.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" x ")
}

impl Summary {
    /// The sum of the trainable parameters of every layer.
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }

    /// The table as an HTML `<table>`.
    pub fn to_html(&self) -> String {
        let mut html = format!(
            "<table><caption>{} model, input {}</caption>\
             <tr><th>#</th><th>layer</th><th>output shape</th><th>parameters</th></tr>",
            self.model,
            shape(&self.input)
        );
        for (i, r) in self.rows.iter().enumerate() {
            html += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:right\">{}</td></tr>",
                i + 1,
                r.layer,
                shape(&r.output),
                thousands(r.params)
            );
        }
        html + &format!(
            "<tr><th></th><th>total</th><th></th><th style=\"text-align:right\">{}</th></tr></table>",
            thousands(self.total_params())
        )
    }

    /// Shows the table inline in a notebook on the Rust kernel (evcxr calls this).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(|r| r.layer.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(f, "{} model, input {}", self.model, shape(&self.input))?;
        writeln!(
            f,
            "{:>3}  {:<width$}  {:<16}  {:>12}",
            "#", "layer", "output shape", "parameters"
        )?;
        for (i, r) in self.rows.iter().enumerate() {
            let out = shape(&r.output);
            let params = thousands(r.params);
            writeln!(
                f,
                "{:>3}  {:<width$}  {out:<16}  {params:>12}",
                i + 1,
                r.layer
            )?;
        }
        let total = self.total_params();
        write!(
            f,
            "total params: {total} ({:.2} million)",
            total as f64 / 1e6
        )
    }
}
