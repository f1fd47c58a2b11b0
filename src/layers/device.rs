//! [`LabDevice`]: the dfdx devices the crate's layers run on, and the CPU's fast path.
//!
//! A layer hands its sizes to the device as a [`ConvSpec`], [`PoolSpec`] or [`LrnSpec`] and
//! gets a tensor back with the backward pass recorded on the tape. `Cpu` uses the im2col +
//! gemm kernels of [`super::cpu`]; every other device (CUDA) uses [`super::generic`], which is
//! built from dfdx's own differentiable ops and so runs wherever dfdx does.

use super::cpu;
use super::spec::{BnSpec, ConvSpec, LrnSpec, PoolSpec};
use dfdx::prelude::*;

/// A training-mode batch norm's output with the batch's per-channel mean and biased variance.
pub type BnOutput<S, D, T> = (Tensor<S, f32, D, T>, Vec<f32>, Vec<f32>);

/// A dfdx device with convolution, pooling and local response normalisation.
///
/// Implemented for `Cpu` (fast native kernels) and, with the `cuda` feature, `Cuda`.
pub trait LabDevice: Device<f32> {
    /// `x [B, C, H, W]`, `w [O, C / groups, K, K]`, `b [O]` to `[B, O, OH, OW]`.
    fn try_conv2d<Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self, T>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err>;

    /// `x [B, C, H, W]` to `[B, C, OH, OW]`.
    fn try_pool2d<Si: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: PoolSpec,
        x: Tensor<Si, f32, Self, T>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err>;

    /// `x [B, C, H, W]` to the same shape.
    fn try_lrn<S: Shape, T: Tape<f32, Self>>(
        spec: LrnSpec,
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err>;

    /// Training-mode batch norm of `x [B, C, H, W]` with the batch's statistics; also returns
    /// them (mean, biased variance) for the running averages.
    fn try_batch_norm_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<BnOutput<S, Self, T>, Self::Err>;

    /// `y = x * a[c] + b[c]` per channel (evaluation-mode batch norm, folded).
    fn try_channel_affine<S: Shape>(
        spec: BnSpec,
        x: Tensor<S, f32, Self>,
        a: Vec<f32>,
        b: Vec<f32>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err>;
}

impl LabDevice for Cpu {
    fn try_conv2d<Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self, T>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err> {
        let (x, mut tape) = x.split_tape();
        if cpu::winograd::applies(&spec) {
            let (out, saved) =
                cpu::winograd::forward(&spec, &x.as_vec(), &w.as_vec(), &b.as_vec(), T::OWNS_TAPE);
            let out = x.device().try_tensor_from_vec(out, out_shape)?;
            if let Some(saved) = saved {
                let (xg, wg, bg, og) = (x.ghost(), w.ghost(), b.ghost(), out.ghost());
                tape.add_backward_op(move |grads| {
                    let gout = grads.get_or_alloc_mut(&og)?.to_vec();
                    let mut gw = std::mem::take(&mut **grads.get_or_alloc_mut(&wg)?);
                    let mut gb = std::mem::take(&mut **grads.get_or_alloc_mut(&bg)?);
                    let gx = grads.get_or_alloc_mut(&xg)?;
                    cpu::winograd::backward(&spec, &saved, &gout, (gx, &mut gw, &mut gb));
                    **grads.get_or_alloc_mut(&wg)? = gw;
                    **grads.get_or_alloc_mut(&bg)? = gb;
                    Ok(())
                });
            }
            return Ok(out.put_tape(tape));
        }
        let (xv, wv) = (x.as_vec(), w.as_vec());
        let out = cpu::conv::forward(&spec, &xv, &wv, &b.as_vec());
        let out = x.device().try_tensor_from_vec(out, out_shape)?;
        if T::OWNS_TAPE {
            let (xg, wg, bg, og) = (x.ghost(), w.ghost(), b.ghost(), out.ghost());
            tape.add_backward_op(move |grads| {
                let gout = grads.get_or_alloc_mut(&og)?.to_vec();
                // Three gradients are written at once: lift two out of `grads`, then return them.
                let mut gw = std::mem::take(&mut **grads.get_or_alloc_mut(&wg)?);
                let mut gb = std::mem::take(&mut **grads.get_or_alloc_mut(&bg)?);
                let gx = grads.get_or_alloc_mut(&xg)?;
                cpu::conv::backward(&spec, (&xv, &wv), &gout, (gx, &mut gw, &mut gb));
                **grads.get_or_alloc_mut(&wg)? = gw;
                **grads.get_or_alloc_mut(&bg)? = gb;
                Ok(())
            });
        }
        Ok(out.put_tape(tape))
    }

    fn try_pool2d<Si: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: PoolSpec,
        x: Tensor<Si, f32, Self, T>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err> {
        let (x, mut tape) = x.split_tape();
        let (out, argmax) = cpu::pool::forward(&spec, &x.as_vec());
        let out = x.device().try_tensor_from_vec(out, out_shape)?;
        if T::OWNS_TAPE {
            let (xg, og) = (x.ghost(), out.ghost());
            tape.add_backward_op(move |grads| {
                let gout = grads.get_or_alloc_mut(&og)?.to_vec();
                cpu::pool::backward(&spec, &argmax, &gout, grads.get_or_alloc_mut(&xg)?);
                Ok(())
            });
        }
        Ok(out.put_tape(tape))
    }

    fn try_lrn<S: Shape, T: Tape<f32, Self>>(
        spec: LrnSpec,
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        let (x, mut tape) = x.split_tape();
        let xv = x.as_vec();
        let out = x
            .device()
            .try_tensor_from_vec(cpu::lrn::forward(&spec, &xv), *x.shape())?;
        if T::OWNS_TAPE {
            let (xg, og) = (x.ghost(), out.ghost());
            tape.add_backward_op(move |grads| {
                let gout = grads.get_or_alloc_mut(&og)?.to_vec();
                cpu::lrn::backward(&spec, &xv, &gout, grads.get_or_alloc_mut(&xg)?);
                Ok(())
            });
        }
        Ok(out.put_tape(tape))
    }

    fn try_batch_norm_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<BnOutput<S, Self, T>, Self::Err> {
        let (x, mut tape) = x.split_tape();
        let (xv, gv) = (x.as_vec(), gamma.as_vec());
        let (mean, var) = cpu::bn::stats(&spec, &xv);
        let (a, b) = cpu::bn::fold(&spec, &mean, &var, &gv, &beta.as_vec());
        let out = x
            .device()
            .try_tensor_from_vec(cpu::bn::affine(&spec, &xv, &a, &b), *x.shape())?;
        if T::OWNS_TAPE {
            let (xg, gg, bg, og) = (x.ghost(), gamma.ghost(), beta.ghost(), out.ghost());
            let (mean, var) = (mean.clone(), var.clone());
            tape.add_backward_op(move |grads| {
                let gout = grads.get_or_alloc_mut(&og)?.to_vec();
                let mut ggamma = std::mem::take(&mut **grads.get_or_alloc_mut(&gg)?);
                let mut gbeta = std::mem::take(&mut **grads.get_or_alloc_mut(&bg)?);
                let gx = grads.get_or_alloc_mut(&xg)?;
                cpu::bn::backward(
                    &spec,
                    &xv,
                    &gout,
                    (&gv, &mean, &var),
                    (gx, &mut ggamma, &mut gbeta),
                );
                **grads.get_or_alloc_mut(&gg)? = ggamma;
                **grads.get_or_alloc_mut(&bg)? = gbeta;
                Ok(())
            });
        }
        Ok((out.put_tape(tape), mean, var))
    }

    fn try_channel_affine<S: Shape>(
        spec: BnSpec,
        x: Tensor<S, f32, Self>,
        a: Vec<f32>,
        b: Vec<f32>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err> {
        let y = cpu::bn::affine(&spec, &x.as_vec(), &a, &b);
        x.device().try_tensor_from_vec(y, *x.shape())
    }
}
