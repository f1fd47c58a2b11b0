#!/usr/bin/env python3
"""PyTorch twin of `alexnet bench` and `alexnet train`: the same models, flags, recipe and output.

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -r bench/requirements-torch.txt -c bench/constraints.txt
    .venv-peers/bin/python bench/torch_alexnet.py --model cifar --batch-size 64 --steps 20
    .venv-peers/bin/python bench/torch_alexnet.py --train fashion-mnist --per-class 900 \
        --epochs 4 --batch-size 64 --seed 0

Prints `train: X img/s` and `infer: Y img/s` like `alexnet bench` (`bench/compare.py` reads
them), then the framework's version and the trainable parameter count.

`--device cuda` runs on an NVIDIA GPU; each timed step ends when its result is on the host,
as the crate's do.

Timing, as in the crate's `src/bench.rs`: random images in [0, 1) and fixed labels
(image i is class 7i mod 10); 3 warm-up training steps, then `--steps` training steps, each
timed alone (forward in training mode, softmax cross-entropy on the logits, backward, SGD
with momentum 0.9 and learning rate 0.01, gradients zeroed); then 3 warm-up and `--steps`
timed inference batches (evaluation mode, no autograd). Images per second are the batch
size over the median step. One thread per core, as the crate and TensorFlow use.

Models, layer for layer the crate's (`src/model/cifar.rs`, `src/model/article.rs`), in the
crate's NCHW layout, with PyTorch's default initialisation and batch norm (epsilon 1e-5,
running-average weight 0.1), which the crate's layers copy:
  cifar   32x32: conv 64, 192, 384, 256, 256 (3x3, pad 1) each + batch norm + ReLU, 2x2 max
          pool after conv 1, 2 and 5; dropout 0.5 before each of dense 4096-1024-1024-10.
  article 227x227: conv 96@11 stride 4, 256@5 pad 2, 384@3, 384@3, 256@3 pad 1, each + ReLU
          then batch norm; 3x3 stride-2 max pool after conv 1, 2 and 5; dense 9216-4096-4096-10
          with dropout 0.5 after the first two.

Training (`--train fashion-mnist`), as `alexnet train --dataset fashion-mnist --per-class N
--epochs E --batch-size B --seed S` trains the `cifar` model (`src/train/fit.rs`): the same
images, split and normalisation (`bench/fashion_mnist.py`: the first N training photos of
each class, the last tenth of them for validation, the 10,000 test photos whole); SGD with
momentum 0.9, learning rate 0.01 and L2 weight decay 5e-4 added to the gradient of every
trainable parameter (convolution and dense weights and biases, batch norm scales and
shifts; `torch.optim.SGD`'s `weight_decay` is the crate's rule); softmax cross-entropy;
batches of B in a new random order each epoch, the last partial batch left out; dropout 0.5
and batch norm in training mode; no augmentation; PyTorch's default initialisation. After
each epoch the validation set is scored in evaluation mode, and one line is printed in the
crate's format (train loss and accuracy are the running means over the epoch's batches,
in training mode; the seconds include the validation pass, the images per second do not).
At the end the 10,000 test photos are scored in evaluation mode: `test accuracy XX.XX%,
test loss Y`, then the accuracy of each class. Seeded with `torch.manual_seed` (weights,
dropout) and numpy (the order of the batches); the order is not the crate's, whose random
numbers come from Rust.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

import fashion_mnist

WARMUP_STEPS = 3
CLASSES = 10
# The crate's training defaults (`alexnet train --help`).
LR = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4


def build(model):
    if model == "cifar":
        net, c = [], 3
        for filters, pool in [(64, True), (192, True), (384, False), (256, False), (256, True)]:
            net += [nn.Conv2d(c, filters, 3, padding=1), nn.BatchNorm2d(filters), nn.ReLU()]
            net += [nn.MaxPool2d(2)] if pool else []
            c = filters
        net += [nn.Flatten(),
                nn.Dropout(0.5), nn.Linear(4096, 1024), nn.ReLU(),
                nn.Dropout(0.5), nn.Linear(1024, 1024), nn.ReLU(),
                nn.Linear(1024, CLASSES)]
        return nn.Sequential(*net), (3, 32, 32)
    net = [nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.BatchNorm2d(96), nn.MaxPool2d(3, 2),
           nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.BatchNorm2d(256), nn.MaxPool2d(3, 2),
           nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(384),
           nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(384),
           nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(256), nn.MaxPool2d(3, 2),
           nn.Flatten(),
           nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
           nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
           nn.Linear(4096, CLASSES)]
    return nn.Sequential(*net), (3, 227, 227)


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def evaluate(net, x, y, batch_size, dev):
    """Mean cross-entropy, accuracy and predictions on (x, y), evaluation mode, in order."""
    net.eval()
    loss_sum, preds = 0.0, []
    with torch.inference_mode():
        for i in range(0, len(y), batch_size):
            xb, yb = x[i:i + batch_size].to(dev), y[i:i + batch_size].to(dev)
            logits = net(xb)
            loss_sum += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            preds.append(logits.argmax(1).cpu())
    preds = torch.cat(preds)
    return loss_sum / len(y), (preds == y).float().mean().item(), preds


def train_fashion(a, dev):
    """`--train fashion-mnist`: trains `cifar` with the crate's recipe, prints its lines."""
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    try:
        data = fashion_mnist.load(a.per_class, a.data_dir)
    except fashion_mnist.DataError as e:
        sys.exit(f"torch_alexnet: error: {e}")
    (xtr, ytr), (xval, yval), (xte, yte) = (
        tuple(torch.from_numpy(v) for v in data[k]) for k in ("train", "val", "test"))
    b = a.batch_size
    if len(ytr) < b:
        sys.exit(f"torch_alexnet: error: --batch-size {b} is more than the {len(ytr)} "
                 "training images; choose a smaller batch")
    print(f"training cifar on Fashion-MNIST from {data['folder']} ({len(ytr)} train / "
          f"{len(yval)} validation / {len(yte)} test images), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, on the {a.device}", flush=True)
    net = build("cifar")[0].to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    steps = len(ytr) // b  # the last partial batch is left out
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        net.train()
        order = torch.from_numpy(rng.permutation(len(ytr)))
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps):
            idx = order[step * b:(step + 1) * b]
            xb, yb = xtr[idx].to(dev), ytr[idx].to(dev)
            logits = net(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
        train_s = time.perf_counter() - start
        val_loss, val_acc, _ = evaluate(net, xval, yval, b, dev)
        seconds = time.perf_counter() - start
        print(f"epoch {epoch:>3}: train loss {loss_sum / seen:.4f} acc {100 * correct / seen:5.1f}% "
              f"| val loss {val_loss:.4f} acc {100 * val_acc:5.1f}% | {seconds:.1f} s, "
              f"{seen / train_s:.0f} img/s", flush=True)
    test_loss, test_acc, preds = evaluate(net, xte, yte, 64, dev)
    print(f"test accuracy {100 * test_acc:.2f}%, test loss {test_loss:.4f}")
    for c, name in enumerate(fashion_mnist.CLASSES):
        mine = yte == c
        print(f"  {name:<20} {100 * (preds[mine] == c).float().mean().item():6.2f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cifar", "article"], default="cifar")
    ap.add_argument("--batch-size", type=positive, default=64)
    ap.add_argument("--steps", type=positive, default=20, help="timed steps (bench)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="cuda: an NVIDIA GPU, as `alexnet bench --device cuda`")
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
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_alexnet: --device cuda, but this PyTorch sees no GPU "
                 f"(torch {torch.__version__}); use --device cpu")
    dev = torch.device(a.device)
    torch.set_num_threads(os.cpu_count() or 1)
    if a.train:
        return train_fashion(a, dev)
    torch.manual_seed(0)
    b = a.batch_size
    print(f"bench {a.model}: batch size {b}, {a.steps} timed steps, {torch.get_num_threads()} "
          f"threads, torch {torch.__version__}, on the {a.device}", flush=True)
    net, shape = build(a.model)
    net = net.to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(b, *shape).to(dev)
    y = ((torch.arange(b) * 7) % CLASSES).to(dev)

    def train_step():
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()  # on a GPU, waits for the step's work to finish

    net.train()
    train = []
    for step in range(WARMUP_STEPS + a.steps):
        start = time.perf_counter()
        train_step()
        if step >= WARMUP_STEPS:
            train.append(time.perf_counter() - start)

    net.eval()
    infer = []
    with torch.inference_mode():
        for step in range(WARMUP_STEPS + a.steps):
            start = time.perf_counter()
            net(x).cpu().numpy()  # on a GPU, waits for its work as the crate does
            if step >= WARMUP_STEPS:
                infer.append(time.perf_counter() - start)

    params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    print(f"train: {b / statistics.median(train):.1f} img/s")
    print(f"infer: {b / statistics.median(infer):.1f} img/s")
    print(f"params: {params} trainable")


if __name__ == "__main__":
    sys.exit(main())
