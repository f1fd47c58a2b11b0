//! Models that live across notebook cells.
//!
//! dfdx tells tensors apart by a number drawn from a counter (a `static` inside dfdx), and
//! a gradient is filed under its tensor's number. The Rust kernel (evcxr) compiles each
//! cell into its own shared library with its own copy of every dependency, dfdx included,
//! so each cell counts from 0 again: a model built in one cell holds numbers 0, 1, 2, ...,
//! and the next cell numbers its new tensors (the input, every intermediate result) 0, 1,
//! 2, ... as well. A backward pass in that cell then files an intermediate's gradient
//! under a weight's number: gradients mix up, or a shape mismatch panics. (Seen on
//! evcxr 0.22: a model's weight and bias numbered 0 and 1 in one cell, a new tensor in the
//! next cell numbered 0. Linking the dependencies dynamically, evcxr's
//! `:allow_static_linking 0`, would share one counter, but fails to build on current
//! toolchains.)
//!
//! [`renumber`] gives every tensor of a model a new number from the counter of the code
//! that runs it, so the model and the tensors of the next training step are numbered by
//! the same counter and cannot collide. A training entry point calls it first; a cell that
//! runs its own backward pass on a model built elsewhere calls it before `alloc_grads`.

use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
};
use dfdx::prelude::*;

/// Gives every tensor of `model` (weights, biases, batch-norm statistics) a fresh number
/// from this code's counter, keeping its values: a copy of each tensor replaces it.
/// Gradients allocated before (`model.alloc_grads()`) and the state of dfdx's own
/// optimizers, both filed by number, no longer match: allocate them after.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::seed_from_u64(0);
/// let mut model = dev.build_module::<Linear<3, 2>, f32>();
/// let before = model.weight.as_vec();
/// renumber(&mut model)?;
/// assert_eq!(model.weight.as_vec(), before); // same values, new identity
/// let grads = model.alloc_grads();
/// let loss = model.forward_mut(dev.ones::<Rank1<3>>().traced(grads)).sum();
/// let grads = loss.backward();
/// assert_eq!(grads.get(&model.bias).as_vec(), vec![1.0, 1.0]);
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// # Errors
/// A device failure while copying (out of memory).
pub fn renumber<M: TensorCollection<f32, D>, D: Device<f32>>(model: &mut M) -> crate::Result<()> {
    M::iter_tensors(&mut RecursiveWalker {
        m: model,
        f: &mut Renumber,
    })
    .map_err(|e| crate::Error::Device(format!("renumbering the model's tensors: {e:?}")))?;
    Ok(())
}

struct Renumber;

impl<D: Device<f32>> TensorVisitor<f32, D> for Renumber {
    type Viewer = ViewTensorMut;
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _opts: TensorOptions<S, f32, D>,
        t: &mut Tensor<S, f32, D>,
    ) -> Result<Option<Tensor<S, f32, D>>, D::Err> {
        let fresh = t.device().try_tensor_from_vec(t.as_vec(), *t.shape())?;
        *t = fresh;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::renumber;
    use crate::prelude::*;

    /// The number dfdx gave a tensor (its `Debug` output shows it).
    fn number<S: Shape>(t: &Tensor<S, f32, Cpu>) -> usize {
        let text = format!("{t:?}");
        let at = text.find("UniqueId(").expect("dfdx prints the id") + "UniqueId(".len();
        text[at..].split(')').next().unwrap().parse().unwrap()
    }

    #[test]
    fn renumbering_gives_new_numbers_from_this_counter_and_keeps_values() {
        let dev = Cpu::seed_from_u64(1);
        let mut model = dev.build_module::<(Linear<3, 4>, ReLU, Linear<4, 2>), f32>();
        let before = [number(&model.0.weight), number(&model.2.bias)];
        let values = (model.0.weight.as_vec(), model.2.bias.as_vec());
        let newest = number(&dev.zeros::<Rank0>());
        renumber(&mut model).unwrap();
        let after = [number(&model.0.weight), number(&model.2.bias)];
        assert!(after.iter().all(|&n| n > newest), "{before:?} -> {after:?}");
        assert_eq!((model.0.weight.as_vec(), model.2.bias.as_vec()), values);
        // Batch norm's running statistics, which are no parameters, are renumbered too.
        let mut bn = dev.build_module::<BatchNorm2D<2>, f32>();
        let old = number(&bn.running_var);
        renumber(&mut bn).unwrap();
        assert!(number(&bn.running_var) > old);
    }

    #[test]
    fn training_a_renumbered_model_equals_training_the_original() {
        use crate::train::{Optimizer, OptimizerKind};
        let dev = Cpu::seed_from_u64(2);
        type Small = (Linear<3, 5>, ReLU, Linear<5, 2>);
        type Built = <Small as BuildOnDevice<Cpu, f32>>::Built;
        let model = dev.build_module::<Small, f32>();
        let x: Tensor<Rank2<4, 3>, f32, _> = dev.sample_normal();
        let run = |mut m: Built, renumbered: bool| {
            if renumbered {
                renumber(&mut m).unwrap();
            }
            let mut opt = Optimizer::new(OptimizerKind::Sgd, 0.1, 0.9, 0.0);
            for _ in 0..3 {
                let grads = m.alloc_grads();
                let loss = m.forward_mut(x.clone().traced(grads)).square().mean();
                opt.step(&mut m, &loss.backward()).unwrap();
            }
            m
        };
        let (a, b) = (run(model.clone(), false), run(model, true));
        assert_eq!(a.0.weight.as_vec(), b.0.weight.as_vec());
        assert_eq!(a.2.bias.as_vec(), b.2.bias.as_vec());
    }
}
