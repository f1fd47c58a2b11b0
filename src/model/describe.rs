//! [`Describe`]: each layer type says what it does to a shape and how many parameters it
//! holds, from its type alone, so a model's table needs no weights in memory.

use crate::layers::builders::{
    AvgPool2D, BatchNorm2D, Conv2D, Flatten, Linear, LocalResponseNorm, MaxPool2D,
};
use dfdx::nn::builders::{Dropout, ReLU};

/// One row of a layer table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRow {
    /// What the layer is, e.g. `Conv2D 96@11x11 stride 4`.
    pub layer: String,
    /// The output shape of one image, e.g. `[96, 55, 55]`.
    pub output: Vec<usize>,
    /// Trainable parameters (batch norm's running statistics are not trainable).
    pub params: usize,
}

/// A layer or a stack of layers that can describe itself to a table.
pub trait Describe {
    /// Appends this layer's rows for an input of shape `input` (one image, no batch axis)
    /// and returns the output shape.
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize>;
}

fn push(rows: &mut Vec<LayerRow>, layer: String, output: Vec<usize>, params: usize) -> Vec<usize> {
    rows.push(LayerRow {
        layer,
        output: output.clone(),
        params,
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
        push(rows, name, vec![O, OS, OS], O * (I / G) * K * K + O)
    }
}

macro_rules! describe_pool {
    ($name:ident, $label:literal) => {
        impl<const K: usize, const S: usize, const OS: usize> Describe for $name<K, S, OS> {
            fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
                let name = format!(concat!($label, " {}x{} stride {}"), K, K, S);
                push(rows, name, vec![input[0], OS, OS], 0)
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

impl Describe for Dropout {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        let p = Dropout::default().p;
        push(rows, format!("Dropout p={p}"), input.to_vec(), 0)
    }
}

impl<const I: usize, const O: usize> Describe for Linear<I, O> {
    fn describe(_: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        push(rows, format!("Linear {I} -> {O}"), vec![O], I * O + O)
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
