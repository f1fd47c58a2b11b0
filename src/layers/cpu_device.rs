//! `LabDevice` for dfdx's `Cpu`: the native kernels of [`super::cpu`], or the generic ones
//! ([`super::any_device`]) when the thread's [`super::CpuPath`] says so, with each layer's
//! backward pass recorded on the tape.

use super::any_device;
use super::cpu;
use super::device::{conv2d_then_epilogue, BnOutput, Channels, LabDevice, Raw, Rows};
use super::host::{split_values, Host};
use super::no_input_gradient::{gradient_unread, NoInputGradient};
use super::path::generic_on_cpu;
use super::spec::{BnSpec, ConvSpec, Epilogue, LrnSpec, PoolSpec};
use dfdx::prelude::*;

/// Lifts a gradient out of `grads` without copying it (`put!` returns it). dfdx's ghost
/// tensors cannot be named outside dfdx, so these are macros, not functions.
macro_rules! take {
    ($grads:expr, $t:expr) => {
        std::mem::take(&mut **$grads.get_or_alloc_mut($t)?)
    };
}

macro_rules! put {
    ($grads:expr, $t:expr, $g:expr) => {
        **$grads.get_or_alloc_mut($t)? = $g
    };
}

/// Records a backward op of a layer with an input and two parameters: `$body` reads the
/// output's gradient and adds to the other three, all lifted out of `grads` and returned.
macro_rules! backward_op {
    ($tape:expr, [$og:ident => $gout:ident, $($g:ident => $d:ident),+] $body:block) => {
        $tape.add_backward_op(move |grads| {
            let $gout = take!(grads, &$og);
            $(let mut $d = take!(grads, &$g);)+
            $body
            put!(grads, &$og, $gout);
            $(put!(grads, &$g, $d);)+
            Ok(())
        })
    };
}

/// Training-mode batch norm on the CPU's fused kernels, then ReLU if `relu`: the output is
/// written once, and the backward pass applies ReLU's mask (`bn(x) > 0`, recomputed from `x`
/// with the same operations) as it reads the output's gradient.
fn cpu_batch_norm_train<S: Shape, Sc: Shape, T: Tape<f32, Cpu>>(
    spec: BnSpec,
    x: Tensor<S, f32, Cpu, T>,
    (gamma, beta): (&Tensor<Sc, f32, Cpu>, &Tensor<Sc, f32, Cpu>),
    relu: bool,
) -> Result<BnOutput<S, Cpu, T>, CpuError> {
    let (x, mut tape, xv) = split_values(x)?;
    let gv = Host::of(gamma)?;
    let (mean, var) = cpu::bn::stats(&spec, &xv);
    let (a, b) = cpu::bn::fold(&spec, &mean, &var, &gv, &Host::of(beta)?);
    let dev = x.device().clone();
    let y = cpu::bn::affine(&spec, &xv, &a, &b, relu);
    let out = dev.try_tensor_from_vec(y, *x.shape())?;
    let stats = (
        dev.try_tensor_from_vec(mean.clone(), (spec.channels,))?,
        dev.try_tensor_from_vec(var.clone(), (spec.channels,))?,
    );
    if T::OWNS_TAPE {
        let (xg, gg, bg, og) = (x.ghost(), gamma.ghost(), beta.ghost(), out.ghost());
        let mask = relu.then_some((a, b));
        backward_op!(tape, [og => gout, xg => gx, gg => ggamma, bg => gbeta] {
            cpu::bn::backward(
                &spec,
                &xv,
                &gout,
                (&gv, &mean, &var),
                mask.as_ref().map(|(a, b)| (&a[..], &b[..])),
                (&mut gx, &mut ggamma, &mut gbeta),
            );
        });
    }
    Ok((out.put_tape(tape), stats.0, stats.1))
}

impl LabDevice for Cpu {
    fn try_conv2d<Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self, T>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err> {
        if generic_on_cpu() {
            return any_device::conv2d(spec, x, w, b, out_shape);
        }
        let (x, mut tape, xv) = split_values(x)?;
        let (wv, bv) = (Host::of(w)?, Host::of(b)?);
        let (xg, wg, bg) = (x.ghost(), w.ghost(), b.ghost());
        if cpu::winograd::applies(&spec) {
            let (out, saved) =
                cpu::winograd::forward(&spec, &xv, &wv, &bv, &Epilogue::Identity, T::OWNS_TAPE);
            // Where Winograd's weight gradient is too coarse (5x5), im2col computes it from
            // the input, kept for that alone.
            let xv = (saved.is_some() && !cpu::winograd::weight_grad_applies(&spec)).then_some(xv);
            let out = x.device().try_tensor_from_vec(out, out_shape)?;
            if let Some(saved) = saved {
                let og = out.ghost();
                backward_op!(tape, [og => gout, xg => gx, wg => gw, bg => gb] {
                    cpu::winograd::backward(&spec, &saved, &gout, (&mut gx, &mut gw, &mut gb));
                    if let Some(xv) = &xv {
                        cpu::conv::backward_weights(&spec, xv, &gout, (&mut gw, &mut gb));
                    }
                });
            }
            return Ok(out.put_tape(tape));
        }
        let out = cpu::conv::forward(&spec, &xv, &wv, &bv, &Epilogue::Identity);
        let out = x.device().try_tensor_from_vec(out, out_shape)?;
        if T::OWNS_TAPE {
            let og = out.ghost();
            if gradient_unread(&xv) {
                backward_op!(tape, [og => gout, wg => gw, bg => gb] {
                    cpu::conv::backward_weights(&spec, &xv, &gout, (&mut gw, &mut gb));
                });
            } else {
                backward_op!(tape, [og => gout, xg => gx, wg => gw, bg => gb] {
                    cpu::conv::backward(&spec, (&xv, &wv), &gout, (&mut gx, &mut gw, &mut gb));
                });
            }
        }
        Ok(out.put_tape(tape))
    }

    fn try_pool2d<Si: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: PoolSpec,
        x: Tensor<Si, f32, Self, T>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err> {
        if generic_on_cpu() {
            return any_device::pool2d(spec, x, out_shape);
        }
        let (x, mut tape, xv) = split_values(x)?;
        if !T::OWNS_TAPE {
            let out = cpu::pool::forward_eval(&spec, &xv);
            return Ok(x
                .device()
                .try_tensor_from_vec(out, out_shape)?
                .put_tape(tape));
        }
        let (out, argmax) = cpu::pool::forward(&spec, &xv);
        drop(xv);
        let out = x.device().try_tensor_from_vec(out, out_shape)?;
        if T::OWNS_TAPE {
            let (xg, og) = (x.ghost(), out.ghost());
            backward_op!(tape, [og => gout, xg => gx] {
                cpu::pool::backward(&spec, &argmax, &gout, &mut gx);
            });
        }
        Ok(out.put_tape(tape))
    }

    fn try_lrn<S: Shape, T: Tape<f32, Self>>(
        spec: LrnSpec,
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        if generic_on_cpu() {
            return any_device::lrn(spec, x);
        }
        let (x, mut tape, xv) = split_values(x)?;
        let out = x
            .device()
            .try_tensor_from_vec(cpu::lrn::forward(&spec, &xv), *x.shape())?;
        if T::OWNS_TAPE {
            let (xg, og) = (x.ghost(), out.ghost());
            backward_op!(tape, [og => gout, xg => gx] {
                cpu::lrn::backward(&spec, &xv, &gout, &mut gx);
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
        if generic_on_cpu() {
            return any_device::batch_norm_train(spec, x, gamma, beta);
        }
        cpu_batch_norm_train(spec, x, (gamma, beta), false)
    }

    fn try_batch_norm_relu_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<BnOutput<S, Self, T>, Self::Err> {
        if generic_on_cpu() {
            let (y, mean, var) = any_device::batch_norm_train(spec, x, gamma, beta)?;
            return Ok((y.try_relu()?, mean, var));
        }
        cpu_batch_norm_train(spec, x, (gamma, beta), true)
    }

    fn try_linear<B: Dim, const I: usize, const O: usize, T: Tape<f32, Self>>(
        x: Rows<B, I, Self, T>,
        w: &Tensor<Rank2<O, I>, f32, Self>,
        b: &Tensor<Rank1<O>, f32, Self>,
    ) -> Result<Rows<B, O, Self, T>, Self::Err> {
        if generic_on_cpu() {
            return any_device::linear(x, w, b);
        }
        let batch = x.shape().0;
        let (x, mut tape, xv) = split_values(x)?;
        let wv = Host::of(w)?;
        let y = cpu::dense::forward(batch.size(), (I, O), &xv, &wv, &Host::of(b)?);
        let out = x.device().try_tensor_from_vec(y, (batch, Const))?;
        if T::OWNS_TAPE {
            let (xg, wg, bg, og) = (x.ghost(), w.ghost(), b.ghost(), out.ghost());
            backward_op!(tape, [og => gout, xg => gx, wg => gw, bg => gb] {
                cpu::dense::backward(
                    batch.size(),
                    (I, O),
                    (&xv, &wv),
                    &gout,
                    (&mut gx, &mut gw, &mut gb),
                );
            });
        }
        Ok(out.put_tape(tape))
    }

    fn try_channel_affine<S: Shape>(
        spec: BnSpec,
        x: Tensor<S, f32, Self>,
        a: &Channels<Self>,
        b: &Channels<Self>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err> {
        if generic_on_cpu() {
            return any_device::channel_affine(spec, x, a, b);
        }
        let (x, _, xv) = split_values(x)?;
        let y = cpu::bn::affine(&spec, &xv, &Host::of(a)?, &Host::of(b)?, false);
        x.device().try_tensor_from_vec(y, *x.shape())
    }

    fn try_no_input_gradient<S: Shape>(
        images: &Tensor<S, f32, Self>,
    ) -> Result<NoInputGradient, Self::Err> {
        Ok(NoInputGradient::register(Host::of(images)?))
    }

    fn try_reseeded(&self, seed: u64) -> Result<Self, Self::Err> {
        Ok(Cpu::seed_from_u64(seed))
    }

    fn raw_storage() -> bool {
        // The generic path stands for the GPU, which updates with tensor ops.
        !generic_on_cpu()
    }

    fn try_raw_from_host(&self, values: &[f32]) -> Result<Option<Raw<Self>>, Self::Err> {
        let mut raw = self.try_alloc_len(values.len())?;
        raw.copy_from_slice(values);
        Ok(Some(raw))
    }

    fn raw_to_host(raw: &Raw<Self>) -> Option<Vec<f32>> {
        Some(raw.to_vec())
    }

    fn try_conv2d_eval<Si: Shape, Sw: Shape, Sb: Shape, So: Shape>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        epilogue: &Epilogue<Channels<Self>>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self>, Self::Err> {
        if generic_on_cpu() {
            return conv2d_then_epilogue(spec, x, w, b, epilogue, out_shape);
        }
        let epilogue = &epilogue.try_map(|t| Ok(Host::of(t)?.to_vec()))?;
        let (x, _, xv) = split_values(x)?;
        let (wv, bv) = (Host::of(w)?, Host::of(b)?);
        let out = if cpu::winograd::applies(&spec) {
            cpu::winograd::forward(&spec, &xv, &wv, &bv, epilogue, false).0
        } else {
            cpu::conv::forward(&spec, &xv, &wv, &bv, epilogue)
        };
        x.device().try_tensor_from_vec(out, out_shape)
    }
}
