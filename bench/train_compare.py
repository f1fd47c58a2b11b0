#!/usr/bin/env python3
"""`alexnet train` beside its Keras and PyTorch twins on Fashion-MNIST: one accuracy table.

    python3 bench/train_compare.py                       # 900 photos per class, 4 epochs, seed 0
    python3 bench/train_compare.py --per-class 300 --epochs 2

The three programs train the `cifar` model on the same photos, split and normalisation
(`bench/fashion_mnist.py` reads the crate's data folder the way `src/data/fashion_mnist.rs`
does), with the same recipe (SGD, momentum 0.9, learning rate 0.01, weight decay 5e-4,
batch 64, no augmentation) and budget, one after another, and each scores the 10,000 test
photos. What differs, and cannot be the same across three frameworks: the random numbers
(initial weights, dropout masks, the order of the batches) and Keras's initialisation
(Glorot-uniform where the crate and PyTorch draw uniformly in +-1/sqrt(fan-in)). So a
difference of a point or so between rows is within what another seed would give.

Needs the data (`alexnet data download --dataset fashion-mnist`) and the peers' venv
`.venv-peers` (made here on first use, as `bench/compare.py` makes it). The report (date,
machine, commands, a table, and every epoch line each program printed) is printed and written
to `--out` (runs/train-compare.md); the README quotes its copy, assets/reports/train-compare.md,
and a test checks that they agree.
"""
import argparse
import datetime
import statistics
import re
import shutil
import subprocess
import sys
import time

from compare import (PEER_PY, ROOT, alexnet_binary, fail, machine, positive, publish, setup_venv,
                     versions)

NAMES = ("alexnet-lab", "Keras", "PyTorch")
EPOCH = re.compile(r"^epoch +(\d+): train loss ([0-9.]+) acc +([0-9.]+)% \| val loss ([0-9.]+) "
                   r"acc +([0-9.]+)% \| ([0-9.]+) s, ([0-9.]+) img/s$", re.M)
TEST = re.compile(r"^test accuracy ([0-9.]+)%, test loss ([0-9.]+)$", re.M)


def run(cmd):
    """Runs `cmd` to the end, echoing its lines; returns (its output, wall seconds)."""
    print("+ " + " ".join(map(str, cmd)), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    out = []
    for line in proc.stdout:
        print("  " + line, end="", flush=True)
        out.append(line)
    proc.wait()
    text = "".join(out)
    if proc.returncode != 0:
        fail(f"`{' '.join(map(str, cmd))}` exited with {proc.returncode}:\n{text[-2000:]}")
    return text, time.perf_counter() - start


def scores(cmd, out):
    """The epoch lines and the (test accuracy, test loss) a program printed."""
    epochs = EPOCH.findall(out)
    test = TEST.search(out)
    if not epochs or not test:
        fail(f"`{' '.join(map(str, cmd))}` printed no epoch or no `test accuracy` line:\n{out[-2000:]}")
    return epochs, (float(test.group(1)), float(test.group(2)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=positive, default=900,
                    help="the first this many training photos of each class (default 900)")
    ap.add_argument("--epochs", type=positive, default=4, help="epochs (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="each program's seed (default 0)")
    ap.add_argument("--data-dir", help="the data folder (default: $ALEXNET_LAB_DATA, else data/)")
    ap.add_argument("--alexnet", help="the alexnet binary (default: cargo build --release)")
    ap.add_argument("--python", default=sys.executable,
                    help="the Python that makes the peers' venv (default: this one)")
    ap.add_argument("--out", default="runs/train-compare.md",
                    help="also write the report here (default: runs/train-compare.md; the README "
                         "quotes its copy, assets/reports/train-compare.md)")
    a = ap.parse_args()
    setup_venv(a.python)
    binary = alexnet_binary(a.alexnet)
    tf_version, torch_version = versions()

    flags = ["--per-class", str(a.per_class), "--epochs", str(a.epochs), "--batch-size", "64",
             "--seed", str(a.seed)] + (["--data-dir", a.data_dir] if a.data_dir else [])
    run_dir = ROOT / "runs" / "train-compare"
    shutil.rmtree(run_dir, ignore_errors=True)  # a fresh run, never a resumed one
    commands = [
        [str(binary), "train", "--model", "cifar", "--dataset", "fashion-mnist", *flags,
         "--out", "runs/train-compare"],
        [str(PEER_PY), "bench/keras_alexnet.py", "--train", "fashion-mnist", *flags],
        [str(PEER_PY), "bench/torch_alexnet.py", "--train", "fashion-mnist", *flags],
    ]
    started = datetime.datetime.now(datetime.timezone.utc)
    results = []
    for cmd in commands:
        out, wall = run(cmd)
        results.append((*scores(cmd, out), wall))

    lines = [f"<!-- written by python3 bench/train_compare.py {' '.join(sys.argv[1:])}".rstrip() + " -->",
             f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}; TensorFlow {tf_version} "
             f"(Keras), PyTorch {torch_version}. The cifar model on Fashion-MNIST: the first "
             f"{a.per_class} training photos of each class (a tenth of them held out for "
             f"validation), {a.epochs} epochs, batch 64, SGD with momentum 0.9, learning rate 0.01, "
             f"weight decay 5e-4, seed {a.seed}; scored on the 10,000 test photos.",
             "",
             "| program | test accuracy | test loss | validation accuracy, last epoch | "
             "training images/s, median epoch | whole run |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, (epochs, (acc, loss), wall) in zip(NAMES, results):
        # The upper median: of an even count of epochs, the faster of the middle two.
        speed = statistics.median_high(float(e[6]) for e in epochs)
        lines.append(f"| {name} | {acc:.2f}% | {loss:.4f} | {float(epochs[-1][4]):.1f}% | "
                     f"{speed:.0f} | {wall:.0f} s |")
    lines += ["", "Commands, then each program's epoch lines:", ""]
    shown = {str(binary): "target/release/alexnet", str(PEER_PY): ".venv-peers/bin/python"}
    for name, cmd, (epochs, (acc, loss), _) in zip(NAMES, commands, results):
        lines.append("    " + " ".join(shown.get(c, c) for c in cmd))
        for e in epochs:
            lines.append(f"    epoch {int(e[0]):>3}: train loss {e[1]} acc {float(e[2]):5.1f}% | "
                         f"val loss {e[3]} acc {float(e[4]):5.1f}% | {e[5]} s, {e[6]} img/s")
        lines.append(f"    test accuracy {acc:.2f}%, test loss {loss:.4f}")
        lines.append("")
    publish("\n".join(lines).rstrip() + "\n", a.out)


if __name__ == "__main__":
    main()
