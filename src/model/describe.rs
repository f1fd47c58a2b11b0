//! [`Describe`]: each layer type says what it does to a shape, how many parameters it
//! holds, how many multiply-adds it costs and how far it sees, from its type alone, so a
//! model's cost table needs no weights in memory.

use crate::layers::builders::{
    AvgPool2D, BatchNorm2D, Conv2D, Flatten, Linear, LocalResponseNorm, MaxPool2D,
};
use dfdx::nn::builders::{Dropout, ReLU, Tanh};

#[path = "cost.rs"]
mod cost;
pub(crate) use cost::{bytes, Geometry};

/// One row of a layer table: what the layer makes of one image, and what it costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRow {
    /// What the layer is, e.g. `Conv2D 96@11x11 stride 4`.
    pub layer: String,
    /// The output shape of one image, e.g. `[96, 55, 55]`.
    pub output: Vec<usize>,
    /// Trainable parameters (batch norm's running statistics are not trainable).
    pub params: usize,
    /// Multiply-adds for one image: every output of a convolution or dense layer is a sum of
    /// products, one per weight it uses. Pooling, normalisation, ReLU and dropout (a few
    /// operations per value, no weights) count 0 here.
    pub macs: usize,
    /// The side of the square of input pixels one output value depends on (its receptive
    /// field, padding included); `None` once the maps are flattened: from then on every
    /// value depends on the whole image.
    pub receptive_field: Option<usize>,
    /// Input pixels between neighbouring outputs: the product of the strides so far.
    pub jump: usize,
}

impl LayerRow {
    /// Values in this layer's output for one image.
    pub fn outputs(&self) -> usize {
        self.output.iter().product()
    }

    /// Bytes of this layer's output (`f32`) for a batch of `batch` images: what training
    /// keeps in memory for the backward pass.
    pub fn activation_bytes(&self, batch: usize) -> usize {
        4 * batch * self.outputs()
    }
}

/// A layer or a stack of layers that can describe itself to a table.
///
/// Any model type made of the crate's layers, ReLU and dropout (tuples of up to six) can:
/// ```
/// use alexnet_lab::prelude::*;
/// use alexnet_lab::model::Describe;
/// // An 11x11 stride-4 layer of 96 filters (AlexNet's first) on a 32x32 image, no padding:
/// // (32 - 11) / 4 + 1 = 6.
/// type Tiny = (builders::Conv2D<3, 96, 11, 4, 0, 6>, ReLU, MaxPool2D<3, 2, 2>);
/// let mut rows = Vec::new();
/// let out = Tiny::describe(&[3, 32, 32], &mut rows);
/// assert_eq!(out, vec![96, 2, 2]);
/// assert_eq!(rows[0].macs, 96 * 6 * 6 * 3 * 11 * 11);
/// assert_eq!(rows[2].receptive_field, Some(11 + 2 * 4)); // the pool sees 3 outputs 4 apart
/// ```
pub trait Describe {
    /// Appends this layer's rows for an input of shape `input` (one image, no batch axis)
    /// and returns the output shape. The receptive field continues from the last row of
    /// `rows` (pass an empty `rows` for a whole model).
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize>;
}

fn push(rows: &mut Vec<LayerRow>, layer: String, output: Vec<usize>, params: usize) -> Vec<usize> {
    push_cost(rows, layer, output, params, 0, None)
}

/// A row with its multiply-adds and, for a layer with a sliding window, its `(kernel, stride)`.
fn push_cost(
    rows: &mut Vec<LayerRow>,
    layer: String,
    output: Vec<usize>,
    params: usize,
    macs: usize,
    window: Option<(usize, usize)>,
) -> Vec<usize> {
    let before = Geometry::after(rows.last());
    let now = before.through(window, output.len() == 3);
    rows.push(LayerRow {
        layer,
        output: output.clone(),
        params,
        macs,
        receptive_field: now.receptive_field,
        jump: now.jump,
    });
    output
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
    > Describe for Conv2D<I, O, K, S, P, OS, G>
{
    fn describe(_: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        let mut name = format!("Conv2D {O}@{K}x{K}");
        for (what, value, default) in [("stride", S, 1), ("pad", P, 0), ("groups", G, 1)] {
            if value != default {
                name += &format!(" {what} {value}");
            }
        }
        // Each of the O * OS * OS outputs sums (I / G) * K * K products.
        let macs = O * OS * OS * (I / G) * K * K;
        let params = O * (I / G) * K * K + O;
        push_cost(rows, name, vec![O, OS, OS], params, macs, Some((K, S)))
    }
}

macro_rules! describe_pool {
    ($name:ident, $label:literal) => {
        impl<const K: usize, const S: usize, const OS: usize> Describe for $name<K, S, OS> {
            fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
                let name = format!(concat!($label, " {}x{} stride {}"), K, K, S);
                push_cost(rows, name, vec![input[0], OS, OS], 0, 0, Some((K, S)))
            }
        }
    };
}
describe_pool!(MaxPool2D, "MaxPool2D");
describe_pool!(AvgPool2D, "AvgPool2D");

impl<const N: usize> Describe for Flatten<N> {
    fn describe(_: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push(rows, "Flatten".into(), vec![N], 0)
    }
}

impl<const N: usize> Describe for LocalResponseNorm<N> {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push(rows, format!("LocalResponseNorm n={N}"), input.to_vec(), 0)
    }
}

impl<const C: usize> Describe for BatchNorm2D<C> {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push(rows, "BatchNorm2D".into(), input.to_vec(), 2 * C)
    }
}

impl Describe for ReLU {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push(rows, "ReLU".into(), input.to_vec(), 0)
    }
}

impl Describe for Tanh {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push(rows, "Tanh".into(), input.to_vec(), 0)
    }
}

impl Describe for Dropout {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        let p = Dropout::default().p;
        push(rows, format!("Dropout p={p}"), input.to_vec(), 0)
    }
}

impl<const I: usize, const O: usize> Describe for Linear<I, O> {
    fn describe(_: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push_cost(
            rows,
            format!("Linear {I} -> {O}"),
            vec![O],
            I * O + O,
            I * O,
            None,
        )
    }
}

macro_rules! describe_tuple {
    ($($m:ident),+) => {
        impl<$($m: Describe),+> Describe for ($($m,)+) {
            fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
                let shape = input.to_vec();
                $(let shape = $m::describe(&shape, rows);)+
                shape
            }
        }
    };
}
describe_tuple!(A);
describe_tuple!(A, B);
describe_tuple!(A, B, C);
describe_tuple!(A, B, C, D);
describe_tuple!(A, B, C, D, E);
describe_tuple!(A, B, C, D, E, F);
