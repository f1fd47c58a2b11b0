#!/usr/bin/env python3
"""`alexnet bench` beside its Keras and PyTorch twins, run alternately, as one table.

    python3 bench/compare.py                      # cifar@64 (20 steps), article@32 (5 steps), 3 rounds
    python3 bench/compare.py --rounds 5 --models cifar

First run: makes the peers' virtual environment `.venv-peers` (TensorFlow-CPU, Keras and
PyTorch at the versions pinned in `bench/requirements-*.txt` and `bench/constraints.txt`;
about 7 GB, since PyPI's Linux wheel of PyTorch brings its CUDA libraries along) unless it
is there, and builds the `alexnet` binary with `cargo build --release`. Only the standard
library is needed to run this script.

Each round runs, for every model, the three programs one after another (the order turns
each round, so no framework always goes first), with the same model, batch size and step
count; every program prints `train: X img/s` and `infer: Y img/s`. Peak memory is each
process's maximum resident set size (from `wait4`), training and inference included. The
table shows the median over the rounds of each figure and our ratio to the faster peer
(memory: to the smaller), with the date, machine and commands; the report is printed and
written to `--out` (runs/compare.md). The README quotes its copy in assets/reports/compare.md
and a test checks that they agree. On a shared or noisy machine only ratios from one run mean
anything: compare nothing across runs.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-peers"
PEER_PY = VENV / "bin" / "python"
DEFAULTS = {"cifar": (64, 20), "article": (32, 5)}  # batch size, timed steps
NAMES = ("alexnet-lab", "Keras", "PyTorch")


def fail(msg):
    print(f"compare: error: {msg}", file=sys.stderr)
    sys.exit(1)


def run_checked(cmd, what):
    print("+ " + " ".join(map(str, cmd)), flush=True)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        fail(f"{what} failed (the command above); fix that and run again")


def setup_venv(python):
    if PEER_PY.exists():
        return
    run_checked([python, "-m", "venv", str(VENV)], "creating the peers' venv")
    pip = [str(PEER_PY), "-m", "pip", "install", "--disable-pip-version-check"]
    reqs = ["-r", "bench/requirements-keras.txt", "-r", "bench/requirements-torch.txt"]
    run_checked(pip + reqs + ["-c", "bench/constraints.txt"], "installing TensorFlow and PyTorch")


def alexnet_binary(explicit):
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            fail(f"--alexnet {explicit}: no such file; build it with `cargo build --release`")
        return path
    if shutil.which("cargo") is None:
        fail("cargo is not on PATH; install Rust (rustup.rs) or pass --alexnet PATH")
    run_checked(["cargo", "build", "--release", "--bin", "alexnet"], "building alexnet")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "alexnet"


def measure(cmd):
    """Runs `cmd`; returns (train img/s, infer img/s, peak RSS in MiB, its output)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        fail(f"`{' '.join(map(str, cmd))}` exited with {proc.returncode}:\n{out[-2000:]}")
    figures = {}
    for key in ("train", "infer"):
        m = re.search(rf"^{key}:\s+([0-9.]+) img/s", out, re.M)
        if not m:
            fail(f"`{' '.join(map(str, cmd))}` printed no `{key}: X img/s` line:\n{out[-2000:]}")
        figures[key] = float(m.group(1))
    return figures["train"], figures["infer"], usage.ru_maxrss / 1024, out


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
        cpu = m.group(1).strip() if m else cpu
        flags = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
        flags = set(flags.group(1).split()) if flags else set()
        simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
        cpu += f" with {simd}"
    except OSError:
        pass
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kib / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} logical CPUs of an {cpu}{mem}, {platform.system()} {platform.release()}"


def versions():
    code = ("import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; import tensorflow as tf, torch; "
            "print(tf.__version__, torch.__version__)")
    out = subprocess.run([str(PEER_PY), "-c", code], capture_output=True, text=True)
    parts = out.stdout.split()
    return (parts[0], parts[1]) if out.returncode == 0 and len(parts) == 2 else ("?", "?")


def ratio(ours, peers, higher_is_better=True):
    best = max(peers) if higher_is_better else min(peers)
    r = ours / best if higher_is_better else best / ours
    return f"**{r:.2f}x**" if r < 1.0 else f"{r:.2f}x"


def publish(report, out):
    """Prints `report` and writes it to `out` (relative to the repository)."""
    print()
    print(report, end="")
    path = ROOT / out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report)
    print(f"\nwritten to {out}")


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=positive, default=3, help="alternated rounds (default 3)")
    ap.add_argument("--models", nargs="+", choices=sorted(DEFAULTS), default=["cifar", "article"])
    ap.add_argument("--steps", type=positive, help="timed steps for every model "
                    "(default: 20 for cifar, 5 for article)")
    ap.add_argument("--alexnet", help="the alexnet binary to time (default: cargo build --release)")
    ap.add_argument("--python", default=sys.executable,
                    help="the Python that makes the peers' venv (default: this one)")
    ap.add_argument("--out", default="runs/compare.md",
                    help="also write the report here (default: runs/compare.md; the README quotes "
                         "its copy, assets/reports/compare.md)")
    a = ap.parse_args()
    setup_venv(a.python)
    binary = alexnet_binary(a.alexnet)
    tf_version, torch_version = versions()

    commands = {}
    for model in a.models:
        batch, steps = DEFAULTS[model]
        steps = a.steps or steps
        flags = ["--model", model, "--batch-size", str(batch), "--steps", str(steps)]
        commands[model] = (batch, [
            [str(binary), "bench", *flags],
            [str(PEER_PY), "bench/keras_alexnet.py", *flags],
            [str(PEER_PY), "bench/torch_alexnet.py", *flags],
        ])

    results = {(m, n): [] for m in a.models for n in NAMES}
    started = datetime.datetime.now(datetime.timezone.utc)
    for r in range(a.rounds):
        for model in a.models:
            order = [(i + r) % len(NAMES) for i in range(len(NAMES))]
            for i in order:
                cmd = commands[model][1][i]
                train, infer, peak, _ = measure(cmd)
                results[(model, NAMES[i])].append((train, infer, peak))
                print(f"round {r + 1}/{a.rounds} {model:<7} {NAMES[i]:<11} train {train:7.1f} "
                      f"infer {infer:7.1f} img/s  peak {peak:6.0f} MiB", flush=True)

    lines = [f"<!-- written by python3 bench/compare.py {' '.join(sys.argv[1:])}".rstrip() + " -->",
             f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}; TensorFlow {tf_version} "
             f"(Keras), PyTorch {torch_version}; medians of {a.rounds} alternated rounds.",
             "",
             "| model, batch | | alexnet-lab | Keras | PyTorch | vs the better peer | each round |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for model in a.models:
        batch = commands[model][0]
        med = {n: [statistics.median(v[k] for v in results[(model, n)]) for k in range(3)]
               for n in NAMES}
        for k, (label, unit) in enumerate([("train", "img/s"), ("infer", "img/s"),
                                           ("peak memory", "MiB")]):
            ours, keras, torch = (med[n][k] for n in NAMES)
            fmt = (lambda v: f"{v:,.0f} {unit}") if k == 2 else (lambda v: f"{v:.1f} {unit}")
            rounds = [[results[(model, n)][r][k] for n in NAMES] for r in range(a.rounds)]
            per_round = [float(ratio(o, (kv, tv), k < 2).strip("*x")) for o, kv, tv in rounds]
            spread = f"{min(per_round):.2f}-{max(per_round):.2f}x"
            lines.append(f"| `{model}`, {batch} | {label} | {fmt(ours)} | {fmt(keras)} | "
                         f"{fmt(torch)} | {ratio(ours, (keras, torch), higher_is_better=k < 2)} | "
                         f"{spread} |")
    lines += ["",
              "Ratios: ours over the faster peer (memory: the smaller peer's over ours), so above",
              "1.00x means ahead; `each round`: the lowest and highest of the same ratio within one",
              "round (a wide range means the machine's load changed during the run). Commands:",
              ""]
    shown = {str(binary): "target/release/alexnet", str(PEER_PY): ".venv-peers/bin/python"}
    for model in a.models:
        for cmd in commands[model][1]:
            lines.append("    " + " ".join(shown.get(c, c) for c in cmd))
    publish("\n".join(lines) + "\n", a.out)

if __name__ == "__main__":
    main()
