#!/usr/bin/env bash
# Sets up the course on a Debian/Ubuntu machine with rustup and python3: the rust-src
# component, the evcxr Jupyter kernel, a Python venv with JupyterLab, the kernel registered.
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

echo "== the Rust kernel"
if ! "$VENV/bin/jupyter" kernelspec list 2>/dev/null | grep -q "^ *rust "; then
    PATH="$PWD/$VENV/bin:$PATH" evcxr_jupyter --install
fi
echo "setup: done. Open the course with: make course"
