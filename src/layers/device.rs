//! [`LabDevice`]: the dfdx devices the crate's layers run on, and the CPU's fast path.
//!
//! A layer hands its sizes to the device as a [`ConvSpec`], [`PoolSpec`] or [`LrnSpec`] and
//! gets a tensor back with the backward pass recorded on the tape. `Cpu` uses the im2col +
//! gemm kernels of [`super::cpu`]; every other device (CUDA) uses [`super::generic`], which is
//! built from dfdx's own differentiable ops and so runs wherever dfdx does. The CPU can be
//! sent down the generic path too ([`CpuPath`]), which is how the tests check, on machines
//! without a GPU, the code a GPU runs.

use super::cpu;
use super::generic;
use super::spec::{BnSpec, ConvSpec, Epilogue, LrnSpec, PoolSpec};
use dfdx::prelude::*;
use std::cell::{Cell, RefCell};

/// Which kernels the CPU runs on the current thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuPath {
    /// The fast native kernels of [`super::cpu`] (the default).
    Native,
    /// The device-generic ops of [`super::generic`], the ones CUDA runs, with dfdx's CUDA
    /// preconditions checked on every product ([`generic::check_operand`]).
    Generic,
}

/// The environment variable that sets the CPU's default path: `generic` or `native`.
pub const CPU_PATH_VAR: &str = "ALEXNET_LAB_CPU_PATH";

thread_local! {
    static CPU_PATH: Cell<CpuPath> = Cell::new(match std::env::var(CPU_PATH_VAR) {
        Ok(v) if v.eq_ignore_ascii_case("generic") => CpuPath::Generic,
        _ => CpuPath::Native,
    });
}

impl CpuPath {
    /// The path the CPU takes on this thread: `$ALEXNET_LAB_CPU_PATH` (`generic` or
    /// `native`), else native, unless [`CpuPath::set`] changed it.
    pub fn current() -> CpuPath {
        CPU_PATH.with(Cell::get)
    }

    /// Sends this thread's CPU layers down `self` from now on; returns the previous path.
    /// The path is read when a layer runs forward; its backward pass follows that choice.
    pub fn set(self) -> CpuPath {
        CPU_PATH.with(|p| p.replace(self))
    }

    /// Runs `f` with this thread's CPU on `self`, then restores the previous path.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(CpuPath);
        impl Drop for Restore {
            fn drop(&mut self) {
                self.0.set();
            }
        }
        let _restore = Restore(self.set());
        f()
    }
}

fn generic_on_cpu() -> bool {
    CpuPath::current() == CpuPath::Generic
}

/// A device error the crate's [`crate::Error`] converts from (`CpuError`, `CudaError`), so
/// `?` works in code generic over the device.
pub trait DeviceError: std::fmt::Debug + std::fmt::Display {
    /// What to try when this error happens.
    fn advice(&self) -> &'static str;
}

impl DeviceError for CpuError {
    fn advice(&self) -> &'static str {
        "the CPU ran out of memory: try a smaller batch size"
    }
}

#[cfg(feature = "cuda")]
impl DeviceError for dfdx::tensor::CudaError {
    fn advice(&self) -> &'static str {
        "a CUDA error: out of GPU memory (try a smaller batch size), or a driver problem"
    }
}

/// A model built on a device, and that device: what the training pipeline runs it on.
/// Implemented for the crate's layers with parameters and for tuples whose first member
/// has a device, so for every course model.
pub trait OnDevice {
    type Device: LabDevice;
    /// The device the model's parameters live on.
    fn device(&self) -> &Self::Device;
}

/// A training-mode batch norm's output with the batch's per-channel mean and biased variance,
/// both `[C]` on the device (the running averages are updated there, with no copy to the host).
pub type BnOutput<S, D, T> = (Tensor<S, f32, D, T>, Channels<D>, Channels<D>);

/// A device's own f32 storage (what a tensor's data lives in).
pub type Raw<D> = <D as Storage<f32>>::Vec;

/// One number per channel, `[C]`, on the device: batch statistics, or the `(a, c)` of an
/// evaluation-mode batch norm folded to `x * a + c`.
pub type Channels<D> = Tensor<(usize,), f32, D>;

/// A batch of `N`-vectors, `[B, N]` (a dense layer's input or output).
pub type Rows<B, const N: usize, D, T> = Tensor<(B, Const<N>), f32, D, T>;

/// A dfdx device with convolution, pooling and local response normalisation.
///
/// Implemented for `Cpu` (fast native kernels, or the generic ones: [`CpuPath`]) and, with
/// the `cuda` feature, `Cuda` (the generic kernels).
pub trait LabDevice: Device<f32> + HasErr<Err: DeviceError> {
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

    /// [`LabDevice::try_batch_norm_train`] followed by ReLU, `max(bn(x), 0)` (the `cifar`
    /// model's order). By default the two ops one after the other; the CPU makes it one op,
    /// with ReLU applied as the output is written and its mask applied inside batch norm's
    /// backward pass (two passes over the feature maps fewer each way, the same numbers).
    fn try_batch_norm_relu_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<BnOutput<S, Self, T>, Self::Err> {
        let (y, mean, var) = Self::try_batch_norm_train(spec, x, gamma, beta)?;
        Ok((y.try_relu()?, mean, var))
    }

    /// `x [B, I] · wᵀ + b` with `w [O, I]`, `b [O]`: a dense layer.
    fn try_linear<B: Dim, const I: usize, const O: usize, T: Tape<f32, Self>>(
        x: Rows<B, I, Self, T>,
        w: &Tensor<Rank2<O, I>, f32, Self>,
        b: &Tensor<Rank1<O>, f32, Self>,
    ) -> Result<Rows<B, O, Self, T>, Self::Err>;

    /// `y = x * a[c] + b[c]` per channel (evaluation-mode batch norm, folded).
    fn try_channel_affine<S: Shape>(
        spec: BnSpec,
        x: Tensor<S, f32, Self>,
        a: &Channels<Self>,
        b: &Channels<Self>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err>;

    /// Tells this device that nothing will read the gradient of `images` (a batch a training
    /// step feeds to a model: only the parameters' gradients are wanted), until the guard
    /// drops. The CPU then skips that gradient where the first layer is an im2col
    /// convolution (every course model's is; `article`'s conv1 and its ReLU: 111 to 72 ms a
    /// training step); every other device computes it as usual. The gradients of everything
    /// else are the same either way.
    fn try_no_input_gradient<S: Shape>(
        _images: &Tensor<S, f32, Self>,
    ) -> Result<NoInputGradient, Self::Err> {
        Ok(NoInputGradient { guard: None })
    }

    /// A device on the same hardware whose random numbers (dropout masks, samples) start
    /// from `seed`.
    fn try_reseeded(&self, seed: u64) -> Result<Self, Self::Err>;

    /// Whether [`LabDevice::try_raw_from_host`] makes storage here (the CPU on its native
    /// path); where it does not, the optimizer updates with tensor ops and never asks.
    fn raw_storage() -> bool {
        false
    }

    /// Optimizer state as this device's own storage, which dfdx's fused update kernels
    /// (`SgdConfig::try_update`: one pass over parameter, gradient and velocity) change in
    /// place. `Some` on the CPU; `None` by default, and the optimizer then updates with
    /// tensor ops, on the device all the same.
    fn try_raw_from_host(&self, _values: &[f32]) -> Result<Option<Raw<Self>>, Self::Err> {
        Ok(None)
    }

    /// The values of storage made by [`LabDevice::try_raw_from_host`] (`None` where it makes
    /// none).
    fn raw_to_host(_raw: &Raw<Self>) -> Option<Vec<f32>> {
        None
    }

    /// An evaluation-mode (untraced) convolution with the ReLU and batch norm that follow it
    /// applied as `epilogue`. By default the separate ops one after another; the CPU applies
    /// the epilogue as it writes the convolution's output (one pass over memory, not three).
    fn try_conv2d_eval<Si: Shape, Sw: Shape, Sb: Shape, So: Shape>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        epilogue: &Epilogue<Channels<Self>>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self>, Self::Err> {
        conv2d_then_epilogue(spec, x, w, b, epilogue, out_shape)
    }
}

/// [`LabDevice::try_conv2d_eval`] as separate ops: the convolution, then its epilogue. What
/// every device without a fused kernel runs, and the CPU on the generic path.
fn conv2d_then_epilogue<D: LabDevice, Si: Shape, Sw: Shape, Sb: Shape, So: Shape>(
    spec: ConvSpec,
    x: Tensor<Si, f32, D>,
    w: &Tensor<Sw, f32, D>,
    b: &Tensor<Sb, f32, D>,
    epilogue: &Epilogue<Channels<D>>,
    out_shape: So,
) -> Result<Tensor<So, f32, D>, D::Err> {
    let y = D::try_conv2d(spec, x, w, b, out_shape)?;
    let bn = BnSpec {
        batch: spec.batch,
        channels: spec.out_channels,
        plane: spec.out_len(),
        epsilon: 0.0,
    };
    match epilogue {
        Epilogue::Identity => Ok(y),
        Epilogue::Relu => y.try_relu(),
        Epilogue::AffineRelu { a, c } => D::try_channel_affine(bn, y, a, c)?.try_relu(),
        Epilogue::ReluAffine { a, c } => D::try_channel_affine(bn, y.try_relu()?, a, c),
    }
}

/// A CPU tensor's values in row-major order, borrowed in place: what the native kernels read.
///
/// dfdx 0.13 lends no slice of a tensor's data (its `as_vec` and `copy_into` copy, which
/// for `article`'s first dense layer is 151 MB per batch). A `Host` holds a row-major
/// tensor (made so by `try_contiguous`, which shares the data when it already is) and derefs
/// to its values: element `[0, .., 0]` is the first of them, found through dfdx's own
/// bounds-checked indexing, so nothing here depends on dfdx's private fields. Cloning a
/// `Host` shares the data, as cloning a tensor does; a backward pass keeps one instead of a
/// copy of the values.
#[derive(Clone, Debug)]
struct Host<S: Shape>(Tensor<S, f32, Cpu>);

impl<S: Shape> Host<S> {
    /// `t` in row-major order (a copy only when it is not already) and its tape.
    fn split<T: Tape<f32, Cpu>>(t: Tensor<S, f32, Cpu, T>) -> Result<(Self, T), CpuError> {
        let (t, tape) = t.try_contiguous()?.split_tape();
        Ok((Host(t), tape))
    }

    /// A parameter's values.
    fn of(t: &Tensor<S, f32, Cpu>) -> Result<Self, CpuError> {
        Ok(Self::split(t.clone())?.0)
    }
}

impl<S: Shape> std::ops::Deref for Host<S> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        let t = &self.0;
        let n = t.shape().num_elements();
        if n == 0 {
            return &[];
        }
        let mut last = t.shape().concrete();
        for i in 0..S::NUM_DIMS {
            last[i] -= 1;
        }
        let first: *const f32 = &t[S::Concrete::default()];
        let end: *const f32 = &t[last];
        // The two addresses compared as integers (`offset_from` would itself assume the
        // one allocation this checks): `[last]` lies exactly `n - 1` values after
        // `[0, .., 0]`, not before it. `n` values exist, so `(n - 1) * 4` cannot overflow.
        assert_eq!(
            (end as usize).checked_sub(first as usize),
            Some((n - 1) * std::mem::size_of::<f32>()),
            "contiguous data"
        );
        // SAFETY: the tensor is row-major (`Host::split` made it so), so its elements
        // `[0, .., 0]` and `[last]` are entries 0 and `n - 1` of one `Vec` (dfdx's indexing
        // checked both against its length, and the assertion above that `[last]` lies
        // exactly `n - 1` values after `[0, .., 0]`), and the `n` values from the first to
        // the last are the tensor's in order, all in that one allocation. The slice borrows
        // `self`, which holds the `Arc` that owns that `Vec`; dfdx writes to data only
        // through a unique `Arc` (`Arc::make_mut` copies shared data first), so nothing
        // changes the values while the slice lives. The pointer comes from a reference to
        // the first element and reads past it. Rust has not fixed its aliasing rules yet:
        // Tree Borrows, the newer of Miri's two models, allows that within the allocation;
        // Stacked Borrows does not. dfdx 0.13 offers no other way to read a tensor without
        // copying it.
        unsafe { std::slice::from_raw_parts(first, n) }
    }
}

/// A tensor without its tape, its tape, and its values in row-major order, borrowed.
#[allow(clippy::type_complexity)]
fn split_values<S: Shape, T: Tape<f32, Cpu>>(
    t: Tensor<S, f32, Cpu, T>,
) -> Result<(Tensor<S, f32, Cpu>, T, Host<S>), CpuError> {
    let (host, tape) = Host::split(t)?;
    Ok((host.0.clone(), tape, host))
}

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

/// Values whose gradient nothing reads ([`LabDevice::try_no_input_gradient`]) on this
/// thread: which guard registered them, where they start and how many, and their tensor,
/// held so that the memory cannot be freed and reused by another tensor meanwhile.
struct Unread {
    guard: u64,
    start: *const f32,
    len: usize,
    _keep: Box<dyn std::any::Any>,
}

thread_local! {
    static UNREAD: RefCell<Vec<Unread>> = const { RefCell::new(Vec::new()) };
}

/// While it lives, the device skips the gradient of the images it was made for
/// ([`LabDevice::try_no_input_gradient`]); dropping it removes that registration and no
/// other, in whatever order guards drop.
#[must_use = "the input's gradient is skipped only while the guard lives"]
pub struct NoInputGradient {
    /// The registration this guard owns (`None` on devices that compute the gradient).
    guard: Option<u64>,
}

impl NoInputGradient {
    /// Registers the values `host` lends, which it keeps alive, on this thread.
    fn register<S: Shape>(host: Host<S>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let guard = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unread = Unread {
            guard,
            start: host.as_ptr(),
            len: host.len(),
            _keep: Box::new(host),
        };
        UNREAD.with(|u| u.borrow_mut().push(unread));
        NoInputGradient { guard: Some(guard) }
    }
}

impl Drop for NoInputGradient {
    fn drop(&mut self) {
        if let Some(guard) = self.guard {
            UNREAD.with(|u| u.borrow_mut().retain(|r| r.guard != guard));
        }
    }
}

impl std::fmt::Debug for NoInputGradient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoInputGradient")
    }
}

/// Whether `x` is the very data registered by [`LabDevice::try_no_input_gradient`] on this
/// thread (the same memory, so the same tensor or one sharing its data).
fn gradient_unread(x: &[f32]) -> bool {
    UNREAD.with(|u| {
        u.borrow()
            .iter()
            .any(|u| std::ptr::eq(u.start, x.as_ptr()) && u.len == x.len())
    })
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
            return generic::conv2d(spec, x, w, b, out_shape);
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
            return generic::pool2d(spec, x, out_shape);
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
            return generic::lrn(spec, x);
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
            return generic::batch_norm_train(spec, x, gamma, beta);
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
            let (y, mean, var) = generic::batch_norm_train(spec, x, gamma, beta)?;
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
            return generic::linear(x, w, b);
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
            return generic::channel_affine(spec, x, a, b);
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

/// `impl OnDevice` for a layer type whose parameter `$field` says the device.
macro_rules! on_device {
    ([$($g:tt)*] $ty:ty, $field:ident) => {
        impl<$($g)*, D: LabDevice> OnDevice for $ty {
            type Device = D;
            fn device(&self) -> &D {
                self.$field.device()
            }
        }
    };
}
on_device!([const I: usize, const O: usize, const K: usize, const S: usize, const P: usize, const OS: usize, const G: usize]
    super::Conv2D<I, O, K, S, P, OS, G, f32, D>, weight);
on_device!([const I: usize, const O: usize] super::linear::Linear<I, O, f32, D>, weight);
on_device!([const C: usize] super::batchnorm::BatchNorm2D<C, f32, D>, scale);

/// Tuples: the device of the first member.
macro_rules! on_device_tuple {
    ($($rest:ident),*) => {
        impl<A: OnDevice, $($rest),*> OnDevice for (A, $($rest),*) {
            type Device = A::Device;
            fn device(&self) -> &A::Device {
                self.0.device()
            }
        }
    };
}
on_device_tuple!(B);
on_device_tuple!(B, C);
on_device_tuple!(B, C, E);
on_device_tuple!(B, C, E, F);
on_device_tuple!(B, C, E, F, G);
