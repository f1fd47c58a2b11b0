//! A model's trainable tensors by name, with their values or their gradients, for the
//! checks a practitioner runs before trusting a training run: a gradient check against
//! finite differences, and the size of each update against the size of the weights.
//!
//! Taught in `notebooks/09-training.ipynb`.

use crate::{Error, Result};
use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut, ViewTensorName,
    ViewTensorRef,
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

/// Sets every trainable tensor of `model`, in [`parameters`]' order, to the values
/// `values(index, name, dims)` gives: weights made elsewhere (another framework, a formula)
/// loaded by position. Batch norm's running statistics are left alone.
///
/// ```
/// use alexnet_lab::prelude::*;
/// use alexnet_lab::train::set_parameters;
/// let mut model = Cpu::default().build_module::<Linear<3, 2>, f32>();
/// set_parameters(&mut model, |i, _name, dims| vec![i as f32; dims.iter().product()])?;
/// assert_eq!(model.weight.as_vec(), [0.0; 6]);
/// assert_eq!(model.bias.as_vec(), [1.0; 2]);
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// # Errors
/// [`Error::Invalid`] when `values` gives a tensor the wrong number of values.
pub fn set_parameters<M, D, F>(model: &mut M, values: F) -> Result<()>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
    F: FnMut(usize, &str, &[usize]) -> Vec<f32>,
{
    let mut visitor = Fill {
        values,
        index: 0,
        wrong: None,
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (model, String::new()),
        f: &mut visitor,
    })
    .map_err(|e| Error::Device(format!("writing the model's tensors: {e:?}")))?;
    match visitor.wrong {
        Some(why) => Err(Error::Invalid {
            what: "parameter values",
            why,
        }),
        None => Ok(()),
    }
}

struct Fill<F> {
    values: F,
    index: usize,
    wrong: Option<String>,
}

impl<D: Device<f32>, F: FnMut(usize, &str, &[usize]) -> Vec<f32>> TensorVisitor<f32, D>
    for Fill<F>
{
    type Viewer = (ViewTensorMut, ViewTensorName);
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        (t, name): (&mut Tensor<S, f32, D>, String),
    ) -> std::result::Result<Option<Tensor<S, f32, D>>, D::Err> {
        if !opts.do_gradient_update || self.wrong.is_some() {
            return Ok(None);
        }
        let dims = t.shape().concrete().into_iter().collect::<Vec<usize>>();
        let v = (self.values)(self.index, &name, &dims);
        if v.len() != t.shape().num_elements() {
            self.wrong = Some(format!(
                "{name} holds {} values ({dims:?}); {} were given",
                t.shape().num_elements(),
                v.len()
            ));
        } else {
            t.copy_from(&v);
            self.index += 1;
        }
        Ok(None)
    }
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
