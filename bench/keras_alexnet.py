#!/usr/bin/env python3
"""TensorFlow/Keras twin of `alexnet bench`: the same models, flags, timing and output lines.

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -r bench/requirements-keras.txt -c bench/constraints.txt
    .venv-peers/bin/python bench/keras_alexnet.py --model cifar --batch-size 64 --steps 20

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

WARMUP_STEPS = 3
CLASSES = 10


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cifar", "article"], default="cifar")
    ap.add_argument("--batch-size", type=positive, default=64)
    ap.add_argument("--steps", type=positive, default=20)
    a = ap.parse_args()
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
