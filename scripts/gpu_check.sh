#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: builds with `--features cuda`, compares
# every layer and the whole `cifar` model on the GPU with the CPU (forward and backward,
# dropout off), trains one epoch on the GPU, reloads the checkpoint on the CPU and checks
# its accuracy, and prints images/s and "N passed, M failed" (examples/gpu_check.rs).
#
# What building with the cuda feature needs (dfdx 0.13's and cudarc 0.9's build scripts):
# - nvidia-smi (the NVIDIA driver): dfdx asks it for the GPU's compute capability;
# - nvcc (the CUDA toolkit; Debian: `apt-get install nvidia-cuda-toolkit`): dfdx compiles its
#   kernels to PTX for that capability, and stops if nvcc cannot target it (sm_90, e.g. an
#   H100/H200, needs CUDA 11.8 or later);
# - include/cuda.h under $CUDA_ROOT, $CUDA_PATH, $CUDA_TOOLKIT_ROOT_DIR, /usr,
#   /usr/local/cuda or /opt/cuda, and the shared libraries libcuda, libcublas, libcublasLt,
#   libnvrtc and libcurand, which cudarc links at build time.
# cudarc 0.9.15's bindings were generated from CUDA 11.8's headers; CUDA 13.0's libraries and
# nvcc work with them on an H200 (the bundle of scripts/gpu_bundle.sh is built that way). With
# nvcc 12.2 or later, dfdx 0.13's kernels compile for compute capability 8.0 and up only (below
# that they define `__hmax_nan`, which newer cuda_fp16.h defines too). A machine with a GPU but
# no Rust or toolkit: scripts/gpu_bundle.sh builds elsewhere, scripts/gpu_run.sh runs there.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cargo >/dev/null || missing+=("cargo (install Rust from https://rustup.rs)")
if ! command -v nvidia-smi >/dev/null; then
    missing+=("nvidia-smi: no NVIDIA driver on PATH (dfdx's build asks it for the GPU's compute capability)")
elif ! nvidia-smi -L >/dev/null 2>&1; then
    missing+=("a GPU: nvidia-smi is there but lists none")
fi
command -v nvcc >/dev/null ||
    missing+=("nvcc: no CUDA toolkit on PATH (Debian: apt-get install nvidia-cuda-toolkit; or add /usr/local/cuda/bin to PATH)")
found_h=""
for root in "${CUDA_ROOT:-}" "${CUDA_PATH:-}" "${CUDA_TOOLKIT_ROOT_DIR:-}" /usr /usr/local/cuda /opt/cuda; do
    if [ -n "$root" ] && [ -f "$root/include/cuda.h" ]; then found_h="$root"; break; fi
done
[ -n "$found_h" ] || missing+=("include/cuda.h: set CUDA_ROOT to the toolkit's folder")

if [ ${#missing[@]} -gt 0 ]; then
    echo "gpu_check: cannot build with the cuda feature here; missing:" >&2
    for m in "${missing[@]}"; do echo "  - $m" >&2; done
    echo "gpu_check: 0 passed, 1 failed"
    exit 1
fi

echo "== GPU: $(nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader | head -1)"
echo "== CUDA toolkit: $(nvcc --version | grep -o 'release [0-9.]*' | head -1) (headers in $found_h)"
export CUDA_ROOT="$found_h"
echo "== cargo run --release --no-default-features --features cuda --example gpu_check"
cargo run --release --no-default-features --features cuda --example gpu_check
