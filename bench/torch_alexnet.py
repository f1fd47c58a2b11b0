#!/usr/bin/env python3
"""PyTorch twin of `alexnet bench`: the same models, flags, timing and output lines.

    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -r bench/requirements-torch.txt -c bench/constraints.txt
    .venv-peers/bin/python bench/torch_alexnet.py --model cifar --batch-size 64 --steps 20

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
"""
import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn

WARMUP_STEPS = 3
CLASSES = 10


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cifar", "article"], default="cifar")
    ap.add_argument("--batch-size", type=positive, default=64)
    ap.add_argument("--steps", type=positive, default=20)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                    help="cuda: an NVIDIA GPU, as `alexnet bench --device cuda`")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_alexnet: --device cuda, but this PyTorch sees no GPU "
                 f"(torch {torch.__version__}); use --device cpu")
    dev = torch.device(a.device)
    torch.set_num_threads(os.cpu_count() or 1)
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
