#!/usr/bin/env python3
"""TensorFlow/Keras twin of `alexnet bench` and `alexnet train`: the same models, flags, recipe and output.

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -r bench/requirements-keras.txt -c bench/constraints.txt
    .venv-peers/bin/python bench/keras_alexnet.py --model cifar --batch-size 64 --steps 20
    .venv-peers/bin/python bench/keras_alexnet.py --train fashion-mnist --per-class 900 \
        --epochs 4 --batch-size 64 --seed 0

Prints `train: X img/s` and `infer: Y img/s` like `alexnet bench` (`bench/compare.py` reads
them), then the framework's version and the trainable parameter count.

Timing, as in the crate's `src/bench.rs`: random images in [0, 1) and fixed labels
(image i is class 7i mod 10); 3 warm-up training steps, then `--steps` training steps, each
timed alone (forward in training mode, softmax cross-entropy on the logits, backward, SGD
with momentum 0.9 and learning rate 0.01); then 3 warm-up and `--steps` timed inference
batches (evaluation mode: batch norm's running statistics, no dropout). Images per second
are the batch size over the median step.

Models, layer for layer the crate's (`src/model/cifar.rs`, `src/model/article.rs`), in
Keras's channels-last layout (its fast layout on a CPU); batch norm with the crate's
epsilon 1e-5 and running-average weight 0.1 (Keras's momentum 0.9):
  cifar   32x32: conv 64, 192, 384, 256, 256 (3x3, pad 1) each + batch norm + ReLU, 2x2 max
          pool after conv 1, 2 and 5; dropout 0.5 before each of dense 4096-1024-1024-10.
  article 227x227: conv 96@11 stride 4, 256@5 pad 2, 384@3, 384@3, 256@3 pad 1, each + ReLU
          then batch norm; 3x3 stride-2 max pool after conv 1, 2 and 5; dense 9216-4096-4096-10
          with dropout 0.5 after the first two.

Training (`--train fashion-mnist`), as `alexnet train --dataset fashion-mnist --per-class N
--epochs E --batch-size B --seed S` trains the `cifar` model (`src/train/fit.rs`): the same
images, split and normalisation (`bench/fashion_mnist.py`: the first N training photos of
each class, the last tenth of them for validation, the 10,000 test photos whole), moved to
channels-last; softmax cross-entropy; SGD with momentum 0.9 and learning rate 0.01 (Keras's
form of momentum, the same steps as the crate's at a constant rate); L2 weight decay 5e-4
added to the gradient of every trainable variable, as the crate does (convolution and dense
kernels and biases, batch norm scales and shifts): the training step adds `5e-4 * w` to
each gradient, which is what an L2 regulariser of 2.5e-4 on each of them would add, without
putting the penalty into the reported loss. Batches of B in a new random order each epoch,
the last partial batch left out; dropout 0.5 and batch norm in training mode; no
augmentation; Keras's default initialisation (Glorot-uniform kernels, zero biases, where
the crate and PyTorch draw uniformly in +-1/sqrt(fan-in)). After each epoch the validation
set is scored in evaluation mode and one line is printed in the crate's format (train loss
and accuracy are the running means over the epoch's batches, in training mode; the seconds
include the validation pass, the images per second do not). At the end the 10,000 test
photos are scored in evaluation mode: `test accuracy XX.XX%, test loss Y`, then the
accuracy of each class. The training step is compiled with XLA, as `compile()` does for the
bench's `train_on_batch`. Seeded with `keras.utils.set_random_seed` (weights, dropout, and the
order of the batches through numpy); the order is not the crate's, whose random numbers come
from Rust.
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers as L  # noqa: E402

import fashion_mnist  # noqa: E402

WARMUP_STEPS = 3
CLASSES = 10
# The crate's training defaults (`alexnet train --help`).
LR = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def bn():
    return L.BatchNormalization(epsilon=1e-5, momentum=0.9)


def build(model):
    if model == "cifar":
        net = [keras.Input((32, 32, 3))]
        for filters, pool in [(64, True), (192, True), (384, False), (256, False), (256, True)]:
            net += [L.Conv2D(filters, 3, padding="same"), bn(), L.ReLU()]
            net += [L.MaxPool2D(2)] if pool else []
        net += [L.Flatten(),
                L.Dropout(0.5), L.Dense(1024), L.ReLU(),
                L.Dropout(0.5), L.Dense(1024), L.ReLU(),
                L.Dense(CLASSES)]
        return keras.Sequential(net), (32, 32, 3)
    net = [keras.Input((227, 227, 3)),
           L.Conv2D(96, 11, strides=4), L.ReLU(), bn(), L.MaxPool2D(3, 2),
           L.Conv2D(256, 5, padding="same"), L.ReLU(), bn(), L.MaxPool2D(3, 2),
           L.Conv2D(384, 3, padding="same"), L.ReLU(), bn(),
           L.Conv2D(384, 3, padding="same"), L.ReLU(), bn(),
           L.Conv2D(256, 3, padding="same"), L.ReLU(), bn(), L.MaxPool2D(3, 2),
           L.Flatten(),
           L.Dense(4096), L.ReLU(), L.Dropout(0.5),
           L.Dense(4096), L.ReLU(), L.Dropout(0.5),
           L.Dense(CLASSES)]
    return keras.Sequential(net), (227, 227, 3)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def train_fashion(a):
    """`--train fashion-mnist`: trains `cifar` with the crate's recipe, prints its lines."""
    keras.utils.set_random_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    try:
        data = fashion_mnist.load(a.per_class, a.data_dir)
    except fashion_mnist.DataError as e:
        sys.exit(f"keras_alexnet: error: {e}")

    def nhwc(part):
        x, y = data[part]
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y

    (xtr, ytr), (xval, yval), (xte, yte) = nhwc("train"), nhwc("val"), nhwc("test")
    b = a.batch_size
    if len(ytr) < b:
        sys.exit(f"keras_alexnet: error: --batch-size {b} is more than the {len(ytr)} "
                 "training images; choose a smaller batch")
    print(f"training cifar on Fashion-MNIST from {data['folder']} ({len(ytr)} train / "
          f"{len(yval)} validation / {len(yte)} test images), keras {keras.__version__}, "
          f"tensorflow {tf.__version__}", flush=True)
    net = build("cifar")[0]
    opt = keras.optimizers.SGD(LR, momentum=MOMENTUM)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    params = net.trainable_variables
    opt.build(params)

    # Compiled with XLA, as `compile()`'s default ("auto") compiles the bench's train_on_batch.
    @tf.function(jit_compile=True)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = net(x, training=True)
            loss = ce(y, logits)
        grads = tape.gradient(loss, params)
        grads = [g + WEIGHT_DECAY * tf.convert_to_tensor(w) for g, w in zip(grads, params)]
        opt.apply_gradients(zip(grads, params))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.int64))
        return loss, correct

    @tf.function(reduce_retracing=True)
    def eval_step(x, y):
        logits = net(x, training=False)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        return loss, tf.argmax(logits, 1)

    def evaluate(x, y, batch_size):
        loss_sum, preds = 0.0, []
        for i in range(0, len(y), batch_size):
            loss, pred = eval_step(tf.constant(x[i:i + batch_size]), tf.constant(y[i:i + batch_size]))
            loss_sum += float(loss)
            preds.append(pred.numpy())
        preds = np.concatenate(preds)
        return loss_sum / len(y), float((preds == y).mean()), preds

    steps = len(ytr) // b  # the last partial batch is left out
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(ytr))
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps):
            idx = order[step * b:(step + 1) * b]
            loss, right = train_step(tf.constant(xtr[idx]), tf.constant(ytr[idx]))
            loss_sum += float(loss) * len(idx)
            correct += int(right)
            seen += len(idx)
        train_s = time.perf_counter() - start
        val_loss, val_acc, _ = evaluate(xval, yval, b)
        seconds = time.perf_counter() - start
        print(f"epoch {epoch:>3}: train loss {loss_sum / seen:.4f} acc {100 * correct / seen:5.1f}% "
              f"| val loss {val_loss:.4f} acc {100 * val_acc:5.1f}% | {seconds:.1f} s, "
              f"{seen / train_s:.0f} img/s", flush=True)
    test_loss, test_acc, preds = evaluate(xte, yte, 64)
    print(f"test accuracy {100 * test_acc:.2f}%, test loss {test_loss:.4f}")
    for c, name in enumerate(fashion_mnist.CLASSES):
        print(f"  {name:<20} {100 * (preds[yte == c] == c).mean():6.2f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cifar", "article"], default="cifar")
    ap.add_argument("--batch-size", type=positive, default=64)
    ap.add_argument("--steps", type=positive, default=20, help="timed steps (bench)")
    ap.add_argument("--train", choices=["fashion-mnist"],
                    help="train the cifar model on this data set instead of timing steps")
    ap.add_argument("--per-class", type=positive, default=900,
                    help="training: the first this many training photos of each class")
    ap.add_argument("--epochs", type=positive, default=4, help="training: epochs")
    ap.add_argument("--seed", type=int, default=0, help="training: the seed")
    ap.add_argument("--data-dir", help="training: the data folder (default: "
                    "$ALEXNET_LAB_DATA, else data/ in the repository)")
    a = ap.parse_args()
    if a.train and a.model != "cifar":
        ap.error("--train trains the cifar model (32x32 images); leave out --model or say cifar")
    if a.train:
        return train_fashion(a)
    b = a.batch_size
    print(f"bench {a.model}: batch size {b}, {a.steps} timed steps, keras {keras.__version__}, "
          f"tensorflow {tf.__version__}", flush=True)
    net, shape = build(a.model)
    net.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((b, *shape), dtype=np.float32))
    y = tf.constant((np.arange(b) * 7) % CLASSES)

    train = []
    for step in range(WARMUP_STEPS + a.steps):
        start = time.perf_counter()
        net.train_on_batch(x, y)
        if step >= WARMUP_STEPS:
            train.append(time.perf_counter() - start)

    infer_fn = tf.function(lambda v: net(v, training=False))
    infer = []
    for step in range(WARMUP_STEPS + a.steps):
        start = time.perf_counter()
        infer_fn(x).numpy()
        if step >= WARMUP_STEPS:
            infer.append(time.perf_counter() - start)

    params = sum(int(np.prod(w.shape)) for w in net.trainable_weights)
    print(f"train: {b / statistics.median(train):.1f} img/s")
    print(f"infer: {b / statistics.median(infer):.1f} img/s")
    print(f"params: {params} trainable")


if __name__ == "__main__":
    sys.exit(main())
