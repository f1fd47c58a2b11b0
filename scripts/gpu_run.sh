#!/usr/bin/env bash
# The one command for a machine with an NVIDIA GPU and no Rust: runs the bundle that
# `make gpu-bundle` built (.gpu/bundle, carried there) and writes a summary and logs to OUTDIR.
#
#     scripts/gpu_run.sh OUTDIR          everything below
#     scripts/gpu_run.sh OUTDIR check    gpu_check alone
#
# Needs: the bundle; nvidia-smi and a GPU of compute capability 9.0 or later (the bundle's PTX
# is sm_90); python3 with CUDA 13's libraries as Python packages (nvidia-cublas,
# nvidia-cuda-nvrtc, nvidia-curand: PyTorch's CUDA 13 build brings them) and with PyTorch for
# the twin's figures; a C library at least as new as the manifest's glibc_needed. Anything
# missing stops it at once with one line saying what.
#
# Runs, each with its own time limit, all within about 8 minutes:
#   gpu_check     every layer and the whole `cifar` model on the GPU against the CPU, forward
#                 and backward with dropout off; an epoch on the GPU scored again on the CPU
#   cuda_fit      the notebooks' `fit` on the GPU
#   bench         `alexnet bench --device cuda`: cifar at batch 64 and 256, article at 32 and
#                 128, and bench/torch_alexnet.py --device cuda on the same GPU
#   epoch         `alexnet train --device cuda` on 45,000 synthetic images, one epoch, timed;
#                 the checkpoint scored on the CPU and on the GPU
#   generic_path  the device-generic tests (the CPU with CUDA's preconditions)
# OUTDIR/summary.txt holds the figures and ends "gpu_run: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || [ $# -eq 2 ] && [ "${2:-check}" = check ] || {
    echo "usage: scripts/gpu_run.sh OUTDIR [check]" >&2
    exit 2
}
OUT=$1
MODE=${2:-all}
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
B=$PWD/.gpu/bundle
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
T0=$(date +%s)
say() { echo "$*" | tee -a "$SUMMARY"; }
fail() {
    say "gpu_run: cannot run: $*"
    say "gpu_run: 0 passed, 1 failed"
    exit 1
}

# What must be there before anything runs.
[ -f "$B/manifest.txt" ] || fail "no bundle at .gpu/bundle: run 'make gpu-bundle' on a build machine and carry .gpu/bundle"
# The binaries travel gzipped: unpacked here and checked against the manifest's SHA-256.
BIN=/tmp/alexnet-lab-gpu/bin
rm -rf "$BIN" && mkdir -p "$BIN" || fail "cannot make $BIN"
for bin in alexnet gpu_check cuda_fit generic_path; do
    [ -f "$B/bin/$bin.gz" ] || fail "the bundle has no bin/$bin.gz: run 'make gpu-bundle' again"
    gzip -dc "$B/bin/$bin.gz" >"$BIN/$bin" && chmod +x "$BIN/$bin" || fail "cannot unpack bin/$bin.gz"
    want=$(sed -n "s|^\([0-9a-f]\{64\}\)  bin/$bin\$|\1|p" "$B/manifest.txt")
    [ "$(sha256sum "$BIN/$bin" | cut -c1-64)" = "$want" ] ||
        fail "bin/$bin.gz does not unpack to the binary the manifest names: build and carry the bundle again"
done
command -v nvidia-smi >/dev/null || fail "no nvidia-smi: this machine has no NVIDIA driver"
gpu=$(nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
cap=$(echo "$gpu" | cut -d, -f2 | tr -d ' ')
[[ $cap =~ ^[0-9]+\.[0-9]+$ ]] || fail "nvidia-smi lists no GPU ($gpu)"
[ "${cap%%.*}" -ge 9 ] || fail "the GPU's compute capability is $cap; the bundle's kernels need 9.0 or later"
command -v python3 >/dev/null || fail "no python3 (it finds CUDA's libraries and runs the PyTorch twin)"
libdirs=$(python3 - <<'EOF'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
dirs = []
for so in ["libcublas.so.13", "libcublasLt.so.13", "libnvrtc.so.13", "libcurand.so.10"]:
    hits = [h for r in roots if os.path.isdir(r) for h in glob.glob(os.path.join(r, "nvidia", "**", so), recursive=True)]
    if not hits:
        print(f"{so} is in none of python3's package folders (install nvidia-cublas, nvidia-cuda-nvrtc and nvidia-curand for CUDA 13)")
        sys.exit(1)
    d = os.path.dirname(hits[0])
    if d not in dirs:
        dirs.append(d)
print(":".join(dirs))
EOF
) || fail "$libdirs"
export LD_LIBRARY_PATH=$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
need=$(sed -n 's/^glibc_needed: //p' "$B/manifest.txt")
have=$(ldd --version 2>&1 | head -1 | grep -oE '[0-9]+\.[0-9]+$')
[ -n "$need" ] && [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" = "$need" ] ||
    fail "the bundle needs glibc ${need:-?}, this machine has ${have:-?}"
for bin in "$BIN"/*; do
    missing=$(ldd -r "$bin" 2>&1 | grep -E 'not found|undefined symbol' | head -3 | tr '\n' ';')
    [ -z "$missing" ] || fail "$(basename "$bin"): $missing"
done
# The folders NVRTC reads at run time, at the paths the build baked in.
ln -sfn "$B/cuda" /tmp/alexnet-lab-cuda || fail "cannot make /tmp/alexnet-lab-cuda"
dfdx_out=$(sed -n 's/^dfdx_out_dir: //p' "$B/manifest.txt")
if [ ! -e "$dfdx_out" ]; then
    mkdir -p "$(dirname "$dfdx_out")" && ln -s "$B/dfdx-out" "$dfdx_out" || fail "cannot make $dfdx_out"
fi

say "gpu_run: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "GPU: $gpu"
say "host: $(nproc) cores, $(ldd --version 2>&1 | head -1)"
say "bundle: $(sed -n 's/^built: //p; s/^commit: /commit /p' "$B/manifest.txt" | tr '\n' ' ')"
say "CUDA libraries: $libdirs"
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1

passed=0
failed=0
step() { # step NAME LIMIT_S LOG COMMAND...: runs it, records ok/FAIL with its time
    local name=$1 limit=$2 log=$3 t rc
    shift 3
    t=$(date +%s)
    echo "== $name: $*" >>"$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    rc=$?
    t=$(($(date +%s) - t))
    if [ $rc = 0 ]; then
        say "ok   $name (${t} s)"
        passed=$((passed + 1))
    else
        say "FAIL $name (exit $rc$([ $rc = 124 ] && echo ", over its ${limit} s"), ${t} s; see $(basename "$log"))"
        failed=$((failed + 1))
    fi
    return $rc
}

step "gpu_check: every layer and the cifar model on the GPU against the CPU" 240 "$OUT/gpu_check.log" "$BIN/gpu_check"
grep -E '^(FAIL|one training|bench|[0-9]+ passed)' "$OUT/gpu_check.log" | sed 's/^/  /' | tee -a "$SUMMARY"
if [ "$MODE" = check ]; then
    say "took $(($(date +%s) - T0)) s"
    say "gpu_run: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit
fi
step "cuda_fit: fit on the GPU" 90 "$OUT/cuda_fit.log" "$BIN/cuda_fit"
tail -1 "$OUT/cuda_fit.log" | sed 's/^/  /' | tee -a "$SUMMARY"

for cfg in "cifar 64" "cifar 256" "article 32" "article 128"; do
    set -- $cfg
    if step "alexnet bench --device cuda --model $1 --batch-size $2" 60 "$OUT/bench.log" \
        "$BIN/alexnet" bench --device cuda --model "$1" --batch-size "$2" --steps 20; then
        say "  alexnet $1 batch $2: $(tail -3 "$OUT/bench.log" | grep -E '^(train|infer)' | tr '\n' ' ')"
    fi
    if step "bench/torch_alexnet.py --device cuda --model $1 --batch-size $2" 90 "$OUT/bench.log" \
        python3 bench/torch_alexnet.py --device cuda --model "$1" --batch-size "$2" --steps 20; then
        say "  pytorch $1 batch $2: $(tail -3 "$OUT/bench.log" | grep -E '^(train|infer)' | tr '\n' ' ')"
    fi
done

run=$(mktemp -d)/epoch
accuracy() { grep -oE 'test accuracy [0-9.]+%' "$1" | tail -1 | grep -oE '[0-9.]+'; }
if step "alexnet train --device cuda: one cifar epoch on 45,000 synthetic images" 150 "$OUT/epoch.log" \
    "$BIN/alexnet" train --device cuda --model cifar --dataset synthetic --per-class 5000 --epochs 1 --out "$run"; then
    say "  $(grep -E '^epoch +1:' "$OUT/epoch.log" | tail -1)"
    trained=$(accuracy "$OUT/epoch.log")
    say "  test accuracy after training on the GPU: ${trained:-?}%"
    for dev in cpu cuda; do
        if step "alexnet evaluate --device $dev: the GPU's checkpoint" 90 "$OUT/evaluate-$dev.log" \
            "$BIN/alexnet" evaluate --device "$dev" --dataset synthetic --per-class 5000 --checkpoint "$run/model.safetensors"; then
            got=$(accuracy "$OUT/evaluate-$dev.log")
            # The same weights on other arithmetic: a handful of the 10,000 test images may flip.
            step "  scored on the $dev: ${got:-?}%, within 0.2 points of training's ${trained:-?}%" 5 "$OUT/epoch.log" \
                python3 -c "import sys; sys.exit(not abs(float('${got:-nan}') - float('${trained:-nan}')) <= 0.2)"
        fi
    done
    cat "$OUT"/evaluate-*.log >>"$OUT/epoch.log" && rm -f "$OUT"/evaluate-*.log
fi

step "generic_path: the device-generic tests" 150 "$OUT/generic_path.log" "$BIN/generic_path"
grep -E '^test result' "$OUT/generic_path.log" | sed 's/^/  /' | tee -a "$SUMMARY"

say "took $(($(date +%s) - T0)) s"
say "gpu_run: $passed passed, $failed failed"
[ "$failed" = 0 ]
