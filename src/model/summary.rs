//! A model's cost table: per layer its output shape, parameters, multiply-adds, activation
//! memory and receptive field; as text and as inline HTML.

use super::describe::{bytes, Describe, LayerRow};
use super::ModelName;
use std::fmt;

/// The cost table of one model, computed from its type: for each layer the output shape,
/// the trainable parameters, the multiply-adds for one image, the memory its output takes
/// for a batch of 1 and of 64 (`f32`) and its receptive field. Prints as text; displays as
/// an HTML table in a notebook.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let table = summary(ModelName::Paper);
/// assert_eq!(table.total_params(), 60_965_224); // the paper's "60 million parameters"
/// let conv1 = &table.rows[0];
/// assert_eq!(conv1.output, vec![96, 55, 55]); // 290,400 values
/// assert_eq!(conv1.params, 34_944); // 96 filters of 3 * 11 * 11 weights, plus 96 biases
/// assert_eq!(conv1.macs, 105_415_200); // 290,400 outputs, 363 products each
/// assert_eq!(conv1.receptive_field, Some(11));
/// // Where the memory goes: activations early, parameters late.
/// assert!(table.rows[0].activation_bytes(1) > table.rows[15].activation_bytes(1));
/// ```
///
/// Taught in `notebooks/08-alexnet.ipynb`.
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
    super::with_network!(model, N => N::describe(&input, &mut rows));
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

    /// Multiply-adds of one image's forward pass (the convolutions and dense layers).
    pub fn total_macs(&self) -> usize {
        self.rows.iter().map(|r| r.macs).sum()
    }

    /// Multiply-adds of the convolutions alone, for one image.
    pub fn conv_macs(&self) -> usize {
        let convs = self.rows.iter().filter(|r| r.layer.starts_with("Conv2D"));
        convs.map(|r| r.macs).sum()
    }

    /// Bytes of every layer's output for a batch of `batch` (`f32`): what a training step
    /// keeps for its backward pass.
    pub fn activation_bytes(&self, batch: usize) -> usize {
        self.rows.iter().map(|r| r.activation_bytes(batch)).sum()
    }

    /// Bytes of the trainable parameters (`f32`).
    pub fn param_bytes(&self) -> usize {
        4 * self.total_params()
    }

    /// The totals line: multiply-adds per image, parameter and activation memory.
    fn totals(&self) -> String {
        format!(
            "multiply-adds per image: {} ({} in convolutions); parameters: {}; \
             activations: {} at batch 1, {} at batch 64",
            thousands(self.total_macs()),
            thousands(self.conv_macs()),
            bytes(self.param_bytes()),
            bytes(self.activation_bytes(1)),
            bytes(self.activation_bytes(64)),
        )
    }

    /// The table as an HTML `<table>`.
    pub fn to_html(&self) -> String {
        let right = "style=\"text-align:right\"";
        let mut html = format!(
            "<table><caption>{} model, input {}</caption>\
             <tr><th>#</th><th>layer</th><th>output shape</th><th>parameters</th>\
             <th>multiply-adds</th><th>activations, batch 1</th><th>batch 64</th>\
             <th>receptive field</th></tr>",
            self.model,
            shape(&self.input)
        );
        for (i, r) in self.rows.iter().enumerate() {
            html += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td {right}>{}</td><td {right}>{}</td>\
                 <td {right}>{}</td><td {right}>{}</td><td {right}>{}</td></tr>",
                i + 1,
                r.layer,
                shape(&r.output),
                thousands(r.params),
                thousands(r.macs),
                bytes(r.activation_bytes(1)),
                bytes(r.activation_bytes(64)),
                field(r)
            );
        }
        html + &format!(
            "<tr><th></th><th>total</th><th></th><th {right}>{}</th><th {right}>{}</th>\
             <th {right}>{}</th><th {right}>{}</th><th></th></tr></table>",
            thousands(self.total_params()),
            thousands(self.total_macs()),
            bytes(self.activation_bytes(1)),
            bytes(self.activation_bytes(64)),
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

/// A receptive field as `11x11`, or `all` once every value sees the whole image.
fn field(r: &LayerRow) -> String {
    match r.receptive_field {
        Some(n) => format!("{n}x{n}"),
        None => "all".into(),
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
            "{:>3}  {:<width$}  {:<16}  {:>12}  {:>13}  {:>10}  {:>10}  {:>10}",
            "#",
            "layer",
            "output shape",
            "parameters",
            "mult-adds",
            "act. b=1",
            "act. b=64",
            "rec. field"
        )?;
        for (i, r) in self.rows.iter().enumerate() {
            writeln!(
                f,
                "{:>3}  {:<width$}  {:<16}  {:>12}  {:>13}  {:>10}  {:>10}  {:>10}",
                i + 1,
                r.layer,
                shape(&r.output),
                thousands(r.params),
                thousands(r.macs),
                bytes(r.activation_bytes(1)),
                bytes(r.activation_bytes(64)),
                field(r),
            )?;
        }
        writeln!(f, "{}", self.totals())?;
        let total = self.total_params();
        write!(
            f,
            "total params: {total} ({:.2} million)",
            total as f64 / 1e6
        )
    }
}
