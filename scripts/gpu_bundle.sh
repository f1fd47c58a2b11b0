#!/usr/bin/env bash
# Builds the GPU bundle on a machine without a GPU (`make gpu-bundle`): the CUDA builds of the
# `alexnet` CLI, the GPU check, the `cuda_fit` example and the device-generic tests, stripped
# into .gpu/bundle (at most 48 MiB) with the few headers NVRTC needs at run time, for
# `scripts/gpu_run.sh` to run on a machine with an NVIDIA GPU, CUDA 13's libraries as Python
# packages and no Rust.
#
# How the build works without a GPU or a CUDA install:
# - the CUDA 13.0 toolkit comes from pinned Python wheels (scripts/gpu-wheels.txt) unpacked in
#   .gpu/toolkit; 13.0 because a 580-series driver runs PTX of ISA 9.0 and no newer;
# - dfdx's build script asks `nvidia-smi` for the GPU's compute capability: a two-line stand-in
#   in .gpu/bin answers 9.0 (the H100/H200, sm_90), and CUDA_COMPUTE_CAP=90 says the same;
# - cudarc links libcuda (the driver's library, which no wheel carries): .gpu/link holds a stub
#   with the SONAME libcuda.so.1 and every driver function cudarc declares, so the binaries load
#   the real driver on the GPU machine; cuBLAS, NVRTC and cuRAND are linked against the real
#   CUDA 13 libraries, so a function they lack fails here, not there;
# - dfdx compiles a few kernels with NVRTC at run time and bakes the header folder into the
#   binary: the build sees the toolkit as /tmp/alexnet-lab-cuda, and gpu_run.sh makes that path
#   on the GPU machine point at the bundle's headers.
#
# Checks (each prints ok/FAIL; the last line is "gpu_bundle: N passed, M failed"): every binary
# needs only the driver's libcuda.so.1, the SONAMEs of CUDA 13's cuBLAS, NVRTC and cuRAND, and
# the C library's own; no glibc symbol newer than 2.35; every library resolves (ldd); the PTX
# inside targets sm_90 with ISA 9.0 or older; NVRTC's header path is the one gpu_run.sh makes;
# the bundle (binaries gzipped) is at most 48 MiB. A second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
G=$ROOT/.gpu
BUNDLE=$G/bundle
CUDA_LINK=/tmp/alexnet-lab-cuda
MAX_MIB=48
GLIBC_MAX=2.35
FEATURES=cuda,cli

fail() {
    echo "gpu_bundle: $*" >&2
    exit 1
}
for tool in cargo python3 gcc readelf strip ldd unzip sha256sum; do
    command -v "$tool" >/dev/null || fail "needs $tool on PATH"
done
mkdir -p "$G"

# 1. The toolkit, from the pinned wheels (downloaded and unpacked again only when the pins change).
want=$(sha256sum scripts/gpu-wheels.txt | cut -c1-64)
if [ "$(cat "$G/toolkit/.pins" 2>/dev/null)" != "$want" ]; then
    echo "== downloading the CUDA 13.0 wheels named in scripts/gpu-wheels.txt (about 700 MB, once)"
    rm -rf "$G/wheels" "$G/toolkit"
    python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 \
        -d "$G/wheels" -r scripts/gpu-wheels.txt ||
        fail "could not download the CUDA wheels in scripts/gpu-wheels.txt (is PyPI reachable? pip's message is above)"
    mkdir -p "$G/toolkit"
    for wheel in "$G"/wheels/*.whl; do unzip -qo "$wheel" -d "$G/toolkit"; done
    echo "$want" >"$G/toolkit/.pins"
fi
T=$G/toolkit/nvidia/cu13
for f in bin/nvcc include/cuda.h include/cuda_fp16.h include/nv/target lib/libcublas.so.13 \
    lib/libcublasLt.so.13 lib/libnvrtc.so.13 lib/libcurand.so.10; do
    [ -e "$T/$f" ] || fail "the unpacked toolkit lacks $f; remove .gpu/toolkit and run again"
done

# 2. The driver stub, the unversioned names the linker looks for, and the nvidia-smi stand-in.
cudarc=$(cargo metadata --format-version 1 --features "$FEATURES" 2>/dev/null |
    python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc"))') ||
    fail "cargo metadata found no cudarc (is the cuda feature in Cargo.toml?)"
driver_sys=$(dirname "$cudarc")/src/driver/sys.rs
[ -f "$driver_sys" ] || fail "no $driver_sys: cudarc's driver bindings moved"
mkdir -p "$G/link" "$G/bin"
grep -oE 'pub fn cu[A-Za-z0-9_]+' "$driver_sys" | sort -u |
    sed 's/^pub fn \(.*\)/void \1(void) {}/' >"$G/link/cuda_stub.c.new"
if ! cmp -s "$G/link/cuda_stub.c.new" "$G/link/cuda_stub.c" || [ ! -f "$G/link/libcuda.so" ]; then
    mv "$G/link/cuda_stub.c.new" "$G/link/cuda_stub.c"
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$G/link/libcuda.so" "$G/link/cuda_stub.c"
else
    rm "$G/link/cuda_stub.c.new"
fi
ln -sfn libcuda.so "$G/link/libcuda.so.1"
for lib in cublas cublasLt nvrtc; do ln -sfn "$T/lib/lib$lib.so.13" "$G/link/lib$lib.so"; done
ln -sfn "$T/lib/libcurand.so.10" "$G/link/libcurand.so"
printf '#!/bin/sh\n# Stands in for the driver tool while building: dfdx asks it for the compute capability.\nprintf "compute_cap\\n9.0\\n"\n' >"$G/bin/nvidia-smi"
chmod +x "$G/bin/nvidia-smi"
ln -sfn "$T" "$CUDA_LINK"

# 3. The CUDA builds, in their own target folder.
export CUDA_ROOT=$CUDA_LINK CUDA_COMPUTE_CAP=90 CARGO_TARGET_DIR=$G/target
export PATH=$G/bin:$T/bin:$PATH RUSTFLAGS="-L native=$G/link"
echo "== cargo build --release --features $FEATURES (the CLI, gpu_check, cuda_fit)"
cargo build --release --quiet --no-default-features --features "$FEATURES" \
    --bin alexnet --example gpu_check --example cuda_fit
echo "== cargo test --no-run --release --features $FEATURES --test generic_path"
generic=$(cargo test --release --quiet --no-default-features --features "$FEATURES" \
    --test generic_path --no-run --message-format=json |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "generic_path":
        print(m["executable"])')
[ -x "$generic" ] || fail "cargo built no generic_path test binary"
dfdx_out=$(dirname "$(ls -t "$G"/target/release/build/dfdx-*/out/cuda_utils.cuh | head -1)")

# 4. The bundle: stripped binaries, NVRTC's headers, dfdx's kernel headers, a manifest.
# The stripped binaries are checked in .gpu/stage and travel gzipped (gpu_run.sh unpacks them).
STAGE=$G/stage/bin
rm -rf "$BUNDLE.new" "$STAGE"
mkdir -p "$STAGE" "$BUNDLE.new/bin" "$BUNDLE.new/cuda/include" "$BUNDLE.new/dfdx-out"
strip -o "$STAGE/alexnet" "$G/target/release/alexnet"
strip -o "$STAGE/gpu_check" "$G/target/release/examples/gpu_check"
strip -o "$STAGE/cuda_fit" "$G/target/release/examples/cuda_fit"
strip -o "$STAGE/generic_path" "$generic"
for bin in "$STAGE"/*; do gzip -9 -n -c "$bin" >"$BUNDLE.new/bin/$(basename "$bin").gz"; done
cp "$T/include/cuda_fp16.h" "$T/include/cuda_fp16.hpp" "$BUNDLE.new/cuda/include/"
cp -r "$T/include/nv" "$BUNDLE.new/cuda/include/"
cp "$dfdx_out"/*.cuh "$BUNDLE.new/dfdx-out/"
{
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(ldd --version | head -1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "rustc: $(rustc --version)"
    echo "nvcc: $(nvcc --version | grep -oE 'V[0-9][0-9.]*' | head -1), compute capability 9.0 (sm_90)"
    echo "cuda_include_dir: $CUDA_LINK/include"
    echo "dfdx_out_dir: $dfdx_out"
    (cd "$STAGE" && sha256sum -- * | sed 's|  |  bin/|')
} >"$BUNDLE.new/manifest.txt"
rm -rf "$BUNDLE"
mv "$BUNDLE.new" "$BUNDLE"

# 5. The checks.
passed=0
failed=0
check() { # check WHAT OK
    if [ "$2" = yes ]; then
        echo "ok   $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1"
        failed=$((failed + 1))
    fi
}
allowed=" libcuda.so.1 libcublas.so.13 libcublasLt.so.13 libnvrtc.so.13 libcurand.so.10 libc.so.6 libm.so.6 libgcc_s.so.1 libpthread.so.0 libdl.so.2 librt.so.1 ld-linux-x86-64.so.2 "
glibc_need=0
for bin in "$STAGE"/*; do
    name=$(basename "$bin")
    needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    stray=""
    for lib in $needed; do [[ $allowed == *" $lib "* ]] || stray+=" $lib"; done
    check "$name needs only the driver, CUDA 13's libraries and the C library ($needed)" \
        "$([ -z "$stray" ] && [[ $needed == *libcuda.so.1* ]] && echo yes || echo "no: also$stray")"
    newest=$(readelf -V "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
    glibc_need=$(printf '%s\n%s\n' "$glibc_need" "$newest" | sort -V | tail -1)
    check "$name needs glibc $newest, no newer than $GLIBC_MAX" \
        "$([ "$(printf '%s\n%s\n' "$newest" "$GLIBC_MAX" | sort -V | tail -1)" = "$GLIBC_MAX" ] && echo yes || echo no)"
    unresolved=$(LD_LIBRARY_PATH="$G/link:$T/lib" ldd "$bin" | grep -c 'not found' || true)
    check "$name: every library resolves (ldd)" "$([ "$unresolved" = 0 ] && echo yes || echo no)"
done
ptx_targets=$(grep -aoE '^\.target sm_[0-9]+' "$STAGE/gpu_check" | sort -u | tr '\n' ' ')
ptx_versions=$(grep -aoE '^\.version [0-9]+\.[0-9]+' "$STAGE/gpu_check" | sort -uV | tr '\n' ' ')
check "the kernels' PTX targets sm_90 ($ptx_targets)" \
    "$([ "$ptx_targets" = ".target sm_90 " ] && echo yes || echo no)"
check "the PTX's ISA is 9.0 or older, which a 580 driver runs ($ptx_versions)" \
    "$(echo "$ptx_versions" | grep -qE '\.version (9\.[1-9]|[1-9][0-9])' && echo no || { [ -n "$ptx_versions" ] && echo yes || echo no; })"
check "NVRTC's header folder in the binaries is $CUDA_LINK/include" \
    "$(grep -aq "$CUDA_LINK/include" "$STAGE/gpu_check" && echo yes || echo no)"
echo "glibc_needed: $glibc_need" >>"$BUNDLE/manifest.txt"
size=$(du -sb "$BUNDLE" | cut -f1)
check "the bundle is $((size / 1024 / 1024)) MiB, at most $MAX_MIB" \
    "$([ "$size" -le $((MAX_MIB * 1024 * 1024)) ] && echo yes || echo no)"
echo "gpu_bundle: $passed passed, $failed failed; carry .gpu/bundle and run scripts/gpu_run.sh OUTDIR on the GPU machine"
[ "$failed" = 0 ]
