//! One training step, written once and generic over the device: forward in training mode
//! (batch statistics, dropout on), cross-entropy loss, backward, the optimizer's update,
//! zeroing the gradients. [`super::fit`] runs it on every batch and [`crate::bench`] times
//! it, so the benchmark measures exactly what training does.
//!
//! Only the figures that get printed cross to the host: the batch's logits (`[B, classes]`,
//! for its loss and accuracy). Images, targets, parameters, gradients and the optimizer's
//! state stay on the device.

use super::optim::Optimizer;
use super::scores::loss_and_correct;
use crate::layers::{LabDevice, OnDevice};
use crate::model::Network;
use crate::{Error, Result};
use dfdx::nn::{LoadFromSafetensors, SaveToSafetensors};
use dfdx::prelude::*;
use std::marker::PhantomData;

/// The device a model lives on.
pub type Dev<M> = <M as OnDevice>::Device;

/// A batch of images for network `N` on device `D`: `[B, 3, side, side]`.
pub type ImagesOf<N, D, T = NoneTape> =
    Tensor<(usize, Const<3>, <N as Network>::Side, <N as Network>::Side), f32, D, T>;

/// The logits network `N` gives: `[B, classes]`.
pub type LogitsOf<N, D, T = NoneTape> = Tensor<(usize, <N as Network>::Classes), f32, D, T>;

/// A built model of network `N` that can be trained here, on whatever device it lives on:
/// both modes, parameters, checkpoints.
pub trait Trainable<N: Network>:
    OnDevice
    + Module<
        ImagesOf<N, Dev<Self>>,
        Output = LogitsOf<N, Dev<Self>>,
        Error = <Dev<Self> as HasErr>::Err,
    > + ModuleMut<
        ImagesOf<N, Dev<Self>, OwnedTape<f32, Dev<Self>>>,
        Output = LogitsOf<N, Dev<Self>, OwnedTape<f32, Dev<Self>>>,
        Error = <Dev<Self> as HasErr>::Err,
    > + TensorCollection<f32, Dev<Self>>
    + SaveToSafetensors<f32, Dev<Self>>
    + LoadFromSafetensors<f32, Dev<Self>>
{
}

impl<N: Network, M> Trainable<N> for M where
    M: OnDevice
        + Module<ImagesOf<N, Dev<M>>, Output = LogitsOf<N, Dev<M>>, Error = <Dev<M> as HasErr>::Err>
        + ModuleMut<
            ImagesOf<N, Dev<M>, OwnedTape<f32, Dev<M>>>,
            Output = LogitsOf<N, Dev<M>, OwnedTape<f32, Dev<M>>>,
            Error = <Dev<M> as HasErr>::Err,
        > + TensorCollection<f32, Dev<M>>
        + SaveToSafetensors<f32, Dev<M>>
        + LoadFromSafetensors<f32, Dev<M>>
{
}

/// `n` images of network `N`'s size, row-major values, as a tensor on `dev`.
///
/// # Errors
/// A device failure.
pub fn images_on<N: Network, D: LabDevice>(
    dev: &D,
    values: Vec<f32>,
    n: usize,
) -> Result<ImagesOf<N, D>> {
    let side = N::Side::default();
    Ok(dev.try_tensor_from_vec(values, (n, Const, side, side))?)
}

/// Labels as one-hot rows `[n, classes]` on `dev`, the target of the cross-entropy loss.
///
/// # Errors
/// A label at or above the number of classes, or a device failure.
pub fn targets_on<N: Network, D: LabDevice>(dev: &D, labels: &[usize]) -> Result<LogitsOf<N, D>> {
    let rows = crate::data::one_hot_rows(labels, N::NUM_CLASSES)?;
    Ok(dev.try_tensor_from_vec(rows, (labels.len(), N::Classes::default()))?)
}

/// Mean cross-entropy of softmax(logits) against one-hot targets (dfdx's
/// `cross_entropy_with_logits_loss`, with its fallible ops).
fn cross_entropy<N: Network, D: LabDevice>(
    logits: LogitsOf<N, D, OwnedTape<f32, D>>,
    targets: LogitsOf<N, D>,
) -> Result<Tensor<Rank0, f32, D, OwnedTape<f32, D>>> {
    Ok(logits
        .try_log_softmax::<Axis<1>>()?
        .try_mul(targets)?
        .try_mean()?
        .try_negate()?
        .try_mul(N::NUM_CLASSES as f32)?)
}

/// What one step measured: the batch's mean loss (before the update) and how many it got
/// right. A loss that is not finite means the step did not update the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepFigures {
    pub loss: f64,
    pub correct: usize,
    pub images: usize,
}

/// The optimizer and the gradient buffers of a model being trained: `step` is the one
/// training step of the crate.
pub struct Trainer<N: Network, M: Trainable<N>> {
    pub opt: Optimizer<Dev<M>>,
    grads: Option<Gradients<f32, Dev<M>>>,
    network: PhantomData<N>,
}

impl<N: Network, M: Trainable<N>> Trainer<N, M> {
    /// A trainer of `model` with `opt`.
    ///
    /// # Errors
    /// A device failure (allocating the gradients).
    pub fn new(model: &M, opt: Optimizer<Dev<M>>) -> Result<Self> {
        Ok(Trainer {
            opt,
            grads: Some(model.try_alloc_grads()?),
            network: PhantomData,
        })
    }

    /// One training step on `images` with `labels`. If the loss is not finite the model is
    /// left as it was and the figures say so.
    ///
    /// # Errors
    /// A label out of range, saved optimizer state that does not fit, a device failure.
    pub fn step(
        &mut self,
        model: &mut M,
        images: ImagesOf<N, Dev<M>>,
        labels: &[usize],
    ) -> Result<StepFigures> {
        let n = labels.len();
        if images.shape().0 != n {
            let why = format!("{} images but {n} labels", images.shape().0);
            return Err(Error::Invalid { what: "batch", why });
        }
        let targets = targets_on::<N, _>(images.device(), labels)?;
        let grads = match self.grads.take() {
            Some(g) => g,
            None => model.try_alloc_grads()?,
        };
        // Only the parameters' gradients are wanted, not the images'.
        let unread = <Dev<M> as LabDevice>::try_no_input_gradient(&images)?;
        let logits = model.try_forward_mut(images.traced(grads))?;
        drop(unread);
        let host = logits.retaped::<NoneTape>().as_vec(); // the printed figures
        let (loss, correct) = loss_and_correct(&host, labels, N::NUM_CLASSES);
        let figures = StepFigures {
            loss,
            correct,
            images: n,
        };
        if !loss.is_finite() {
            return Ok(figures);
        }
        let mut grads = cross_entropy::<N, _>(logits, targets)?.try_backward()?;
        self.opt.update(model, &mut grads)?;
        model.try_zero_grads(&mut grads)?;
        self.grads = Some(grads);
        Ok(figures)
    }
}
