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
/// its dimensions, and its values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub dims: Vec<usize>,
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
        let dims = t.shape().concrete().into_iter().collect();
        self.out.push(NamedTensor { name, dims, values });
        Ok(None)
    }
}

/// The `cifar` model built on the CPU, as `Cpu::default().build_module::<Cifar, f32>()` and
/// [`crate::train::checkpoint::load_model`] give it.
pub type CifarNet = <crate::model::Cifar as BuildOnDevice<Cpu, f32>>::Built;

type Image1<const C: usize, const S: usize> =
    Tensor<Rank4<1, C, S, S>, f32, Cpu, OwnedTape<f32, Cpu>>;

/// One `ConvBnRelu` block in **evaluation** mode on a traced input: the convolution, batch
/// norm with its running statistics (`x * a + c` per channel, as
/// [`crate::layers::BatchNorm2D::try_folded`] gives `a` and `c`), ReLU. The block's own
/// `forward` takes no tape, and its `forward_mut` is training (batch statistics).
fn block_eval<const I: usize, const O: usize, const S: usize>(
    block: &crate::model::ConvBnReluBlock<I, O, S, f32, Cpu>,
    x: Image1<I, S>,
) -> std::result::Result<Image1<O, S>, <Cpu as HasErr>::Err> {
    let y = block.0.try_forward(x)?;
    let (a, c) = block.1.try_folded()?;
    let (a, c) = (
        a.try_reshape_like(&(Const::<O>,))?,
        c.try_reshape_like(&(Const::<O>,))?,
    );
    let a = a.try_broadcast::<Rank4<1, O, S, S>, Axes3<0, 2, 3>>()?;
    let c = c.try_broadcast::<Rank4<1, O, S, S>, Axes3<0, 2, 3>>()?;
    y.try_mul(a)?.try_add(c)?.try_relu()
}

/// The score (logit) of class `class` for one image and its gradient with respect to the
/// image's `3 x 32 x 32` values (normalised, as the network takes them): the input
/// gradient that gradient saliency maps draw (Simonyan, Vedaldi and Zisserman, 2013).
///
/// The network runs in **evaluation** mode, as [`Module::forward`] runs it (batch norm with
/// its running statistics, dropout off), while the image carries the tape: the model's own
/// `forward` takes no tape and its `forward_mut` is training mode (batch norm with the
/// statistics of this one image, dropout on), so the layers are called one by one here. The
/// model is borrowed, not changed. The image is not registered as a value whose gradient
/// nothing reads (a training step's [`crate::layers::NoInputGradient`]), so the first
/// convolution computes it. It runs on a copy of the model whose tensors get fresh numbers
/// ([`crate::tensor_ids::renumber`]), so a notebook cell can call it on a model built in another cell.
///
/// # Errors
/// [`Error::Invalid`] when `image` is not 3,072 values or `class` is not below 10; a device
/// failure.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn input_gradient(model: &CifarNet, image: &[f32], class: usize) -> Result<(f32, Vec<f32>)> {
    if image.len() != 3 * 32 * 32 || class >= 10 {
        let why = format!(
            "{} values and class {class}: one 3x32x32 image (3072 values) and a class below 10",
            image.len()
        );
        return Err(Error::Invalid {
            what: "input gradient",
            why,
        });
    }
    // A copy of the model with fresh tensor numbers from this code's counter, so that in a
    // notebook cell the new tensors below cannot share a number with a weight
    // ([`crate::tensor_ids::renumber`] says why).
    let mut model = model.clone();
    crate::tensor_ids::renumber(&mut model)?;
    let model = &model;
    let dev = model.0 .0 .0.weight.device().clone();
    let device = |e: <Cpu as HasErr>::Err| Error::Device(format!("input gradient: {e:?}"));
    let x: Tensor<Rank4<1, 3, 32, 32>, f32, Cpu> = dev
        .try_tensor_from_vec(image.to_vec(), Default::default())
        .map_err(device)?;
    let run = || -> std::result::Result<(f32, Vec<f32>), <Cpu as HasErr>::Err> {
        let x_traced = x.clone().leaky_traced();
        let h = block_eval(&model.0 .0, x_traced)?;
        let h = model.0 .1.try_forward(h)?;
        let h = block_eval(&model.1 .0, h)?;
        let h = model.1 .1.try_forward(h)?;
        let h = block_eval(&model.2, h)?;
        let h = block_eval(&model.3, h)?;
        let h = block_eval(&model.4 .0, h)?;
        let h = model.4 .1.try_forward(h)?;
        let head = &model.5;
        // Dropout is the identity in evaluation mode: only the dense layers and ReLUs run.
        let h = head.0.try_forward(h)?;
        let h = head.1 .1.try_forward(h)?.try_relu()?;
        let h = head.2 .1.try_forward(h)?.try_relu()?;
        let logits = head.3.try_forward(h)?;
        let score = logits
            .try_reshape::<Rank1<10>>()?
            .try_select(dev.tensor(class))?;
        let value = score.retaped::<NoneTape>().array();
        let grads = score.try_backward()?;
        Ok((value, grads.get(&x).as_vec()))
    };
    run().map_err(device)
}
