//! A model's trainable tensors by name, with their values or their gradients, for the
//! checks a practitioner runs before trusting a training run: a gradient check against
//! finite differences, and the size of each update against the size of the weights.
//!
//! Taught in `notebooks/09-training.ipynb`.

use crate::{Error, Result};
use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorName, ViewTensorRef,
};
use dfdx::prelude::*;

/// One trainable tensor of a model, copied to the host: its name (the one it has in the
/// model's safetensors file, such as `0.0.0.weight` for the first convolution's weights)
/// and its values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub values: Vec<f32>,
}

/// Every trainable tensor of `model` (weights and biases, batch norm's scale and shift; not
/// batch norm's running statistics), in the model's order, with its values.
///
/// ```
/// use alexnet_lab::prelude::*;
/// use alexnet_lab::train::parameters;
/// let model = Cpu::seed_from_u64(0).build_module::<(Linear<3, 2>, ReLU, Linear<2, 1>), f32>();
/// let params = parameters(&model)?;
/// let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// assert_eq!(params[0].values, model.0.weight.as_vec());
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// # Errors
/// A device failure while copying.
pub fn parameters<M: TensorCollection<f32, D>, D: Device<f32>>(
    model: &M,
) -> Result<Vec<NamedTensor>> {
    walk(model, None)
}

/// The gradient `grads` holds for every trainable tensor of `model`, named and ordered as
/// [`parameters`] does.
///
/// ```
/// use alexnet_lab::prelude::*;
/// use alexnet_lab::train::gradients;
/// let dev = Cpu::seed_from_u64(0);
/// let model = dev.build_module::<Linear<3, 2>, f32>();
/// let x: Tensor<Rank1<3>, f32, _> = dev.tensor([1.0, 2.0, 3.0]);
/// let grads = model.forward(x.leaky_trace()).sum().backward();
/// let named = gradients(&model, &grads)?;
/// assert_eq!(named[0].values, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]); // d(sum)/dW = x, each row
/// assert_eq!(named[1].values, [1.0, 1.0]);
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// # Errors
/// A device failure while copying.
///
/// # Panics
/// When a trainable tensor of `model` has no gradient in `grads`, as dfdx's
/// `Gradients::get` does. Gradients made from `model.alloc_grads()` hold one for every
/// trainable tensor.
pub fn gradients<M: TensorCollection<f32, D>, D: Device<f32>>(
    model: &M,
    grads: &Gradients<f32, D>,
) -> Result<Vec<NamedTensor>> {
    walk(model, Some(grads))
}

fn walk<M: TensorCollection<f32, D>, D: Device<f32>>(
    model: &M,
    grads: Option<&Gradients<f32, D>>,
) -> Result<Vec<NamedTensor>> {
    let mut visitor = Collect {
        grads,
        out: Vec::new(),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut visitor,
    })
    .map_err(|e| Error::Device(format!("reading the model's tensors: {e:?}")))?;
    Ok(visitor.out)
}

struct Collect<'g, D: Device<f32>> {
    grads: Option<&'g Gradients<f32, D>>,
    out: Vec<NamedTensor>,
}

impl<D: Device<f32>> TensorVisitor<f32, D> for Collect<'_, D> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        (t, name): (&Tensor<S, f32, D>, String),
    ) -> std::result::Result<Option<Tensor<S, f32, D>>, D::Err> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        let values = match self.grads {
            None => t.as_vec(),
            Some(g) => g.get(t).as_vec(),
        };
        self.out.push(NamedTensor { name, values });
        Ok(None)
    }
}
