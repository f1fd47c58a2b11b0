#!/usr/bin/env bash
# The project's one test command (`make test`): installs what a fresh machine lacks, then
# formatting, lints, every test in release mode (layers against naive loops, models, data,
# training, figures, doctests including the compile-fail shape checks), the CUDA build check,
# and every notebook executed headless on the Rust kernel.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "test.sh: cargo not found: install Rust from https://rustup.rs, then run 'make test' again" >&2
    exit 1
fi
# rust-toolchain.toml names the components; rustup installs them on first use, this makes
# it explicit (and works offline when they are already there).
rustup component add rust-src rustfmt clippy >/dev/null 2>&1 || true

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo test --release"
cargo test --release 2>&1 | tee "$log"
echo "== cargo check --features cuda --all-targets (ci-check: no CUDA toolkit needed)"
cargo check --no-default-features --features cuda,ci-check --all-targets --target-dir target/cuda-check
echo "== the CIFAR-10 loader's property on a million random inputs"
cargo test --release --test data -- --ignored 2>&1 | tee -a "$log"

echo "== notebooks (set up the kernel if needed, then run each headless)"
bash scripts/setup.sh
nb_status=0
.venv/bin/python scripts/run_notebooks.py --self-test 2>&1 | tee -a "$log" || nb_status=$?
ALEXNET_LAB_QUICK=1 .venv/bin/python scripts/run_notebooks.py 2>&1 | tee -a "$log" || nb_status=$?

# Sum the "test result: ok. N passed; M failed; ..." lines of every test binary and doctest
# run, the runner's self-test and the notebooks' "runner: ..." and "notebooks: N passed, M failed".
awk '/^test result:|^notebooks:|^runner:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$nb_status"
