//! SGD with momentum and Adam, written over dfdx's tensor visitor so that their state (the
//! velocities and moments) can be saved with a checkpoint and restored exactly; dfdx's own
//! optimizers keep it private. The update rules are PyTorch's (`torch.optim.SGD`, `Adam`,
//! L2 weight decay added to the gradient); a test checks them against dfdx's.

use super::config::OptimizerKind;
use crate::{Error, Result};
use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorMut,
};
use dfdx::prelude::*;

/// An optimizer and its state: one buffer per parameter tensor (SGD), or two (Adam).
#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    /// Steps taken (Adam's bias correction needs it).
    pub steps: u64,
    /// Velocities (SGD) or first and second moments (Adam), in the model's parameter order.
    pub state: Vec<Vec<f32>>,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

impl Optimizer {
    /// A fresh optimizer (no state until the first step).
    pub fn new(kind: OptimizerKind, lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Optimizer {
            kind,
            lr: lr as f32,
            momentum: momentum as f32,
            weight_decay: weight_decay as f32,
            steps: 0,
            state: Vec::new(),
        }
    }

    /// Updates every trainable tensor of `model` from `grads`.
    ///
    /// # Errors
    /// Saved state that does not fit this model, or a device failure.
    pub fn step<M: TensorCollection<f32, D>, D: Device<f32>>(
        &mut self,
        model: &mut M,
        grads: &Gradients<f32, D>,
    ) -> Result<()> {
        self.steps += 1;
        let mut visitor = Step {
            opt: self,
            grads,
            index: 0,
        };
        M::iter_tensors(&mut RecursiveWalker {
            m: model,
            f: &mut visitor,
        })?;
        Ok(())
    }
}

struct Step<'a, D: Device<f32>> {
    opt: &'a mut Optimizer,
    grads: &'a Gradients<f32, D>,
    index: usize,
}

impl<D: Device<f32>> Step<'_, D> {
    /// The state buffer `k`, created as zeros on first use.
    fn buffer(&mut self, k: usize, len: usize) -> Result<Vec<f32>> {
        if self.opt.state.len() <= k {
            self.opt.state.resize(k + 1, Vec::new());
        }
        let buf = &mut self.opt.state[k];
        if buf.is_empty() {
            buf.resize(len, 0.0);
        }
        if buf.len() != len {
            let why = format!(
                "state buffer {k} holds {} values, the parameter has {len}",
                buf.len()
            );
            return Err(Error::Invalid {
                what: "optimizer state",
                why,
            });
        }
        Ok(std::mem::take(buf))
    }
}

impl<D: Device<f32>> TensorVisitor<f32, D> for Step<'_, D> {
    type Viewer = ViewTensorMut;
    type Err = Error;
    type E2 = f32;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        p: &mut Tensor<S, f32, D>,
    ) -> Result<Option<Tensor<S, f32, D>>> {
        if !opts.do_gradient_update {
            return Ok(None);
        }
        // Parameters and their gradients are contiguous: one memcpy each (`as_vec` walks an
        // index per element, which cost a training step about 15%).
        let n = p.shape().num_elements();
        let (mut g, mut w) = (vec![0.0; n], vec![0.0; n]);
        let device = |e: D::Err| Error::Device(format!("optimizer: {e:?}"));
        self.grads
            .get(p)
            .try_contiguous()
            .map_err(device)?
            .copy_into(&mut g);
        p.clone()
            .try_contiguous()
            .map_err(device)?
            .copy_into(&mut w);
        let (lr, wd, mu) = (self.opt.lr, self.opt.weight_decay, self.opt.momentum);
        let grad = |i: usize, w: &[f32]| g[i] + wd * w[i];
        match self.opt.kind {
            OptimizerKind::Sgd => {
                let k = self.index;
                let mut v = self.buffer(k, w.len())?;
                for i in 0..w.len() {
                    v[i] = mu * v[i] + grad(i, &w);
                    w[i] -= lr * v[i];
                }
                self.opt.state[k] = v;
                self.index += 1;
            }
            OptimizerKind::Adam => {
                let k = 2 * self.index;
                let (mut m, mut v) = (self.buffer(k, w.len())?, self.buffer(k + 1, w.len())?);
                let t = self.opt.steps as i32;
                let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
                for i in 0..w.len() {
                    let gi = grad(i, &w);
                    m[i] = BETA1 * m[i] + (1.0 - BETA1) * gi;
                    v[i] = BETA2 * v[i] + (1.0 - BETA2) * gi * gi;
                    w[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + EPS);
                }
                (self.opt.state[k], self.opt.state[k + 1]) = (m, v);
                self.index += 1;
            }
        }
        p.copy_from(&w);
        Ok(None)
    }
}
