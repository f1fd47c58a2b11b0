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
start=$(date +%s)
# Each step's wall time, for the summary: "fmt 1 s, clippy 80 s, ...".
phases="" phase_name="" phase_start=$start
phase() { # phase NAME TITLE: ends the step before, starts NAME
    local now
    now=$(date +%s)
    if [ -n "$phase_name" ]; then phases="${phases:+$phases, }$phase_name $((now - phase_start)) s"; fi
    phase_name=$1 phase_start=$now
    [ -z "${2:-}" ] || echo "== $2"
}

phase fmt "cargo fmt --check"
cargo fmt --all -- --check
# Every check in the release profile: the crates that run only while building (proc macros,
# build scripts) are compiled once at opt-level 0 and serve clippy, the tests and the CUDA check
# (the dev profile compiles them at 3, Cargo.toml's [profile.dev.package."*"]: twice the time).
phase clippy "cargo clippy --release --all-targets -- -D warnings"
cargo clippy --release --all-targets -- -D warnings
# The examples are not built here: clippy above has checked them (--all-targets).
phase "cargo test" "cargo test --release --tests, then the doctests"
cargo test --release --tests 2>&1 | tee "$log"
cargo test --release --doc 2>&1 | tee -a "$log"
# In the target folder clippy used: the dependencies whose features do not change are checked once.
phase "cuda check" "cargo check --release --features cuda --all-targets (ci-check: no CUDA toolkit needed)"
cargo check --release --no-default-features --features cuda,ci-check --all-targets
phase "loader property" "the CIFAR-10 loader's property on a million random inputs"
cargo test --release --test all -- --ignored data:: 2>&1 | tee -a "$log"

phase ablation "the ablation, quick budget: every variant trains and is tabulated (scripts/ablation.sh)"
abl_status=0
if bash scripts/ablation.sh quick 2>&1 | tail -12; then
    echo "ablation: 1 passed, 0 failed" | tee -a "$log"
else
    abl_status=1
    echo "ablation: 0 passed, 1 failed" | tee -a "$log"
fi
phase setup "notebooks (set up the kernel if needed, then run each headless)"
bash scripts/setup.sh
phase notebooks
nb_status=0
.venv/bin/python scripts/run_notebooks.py --self-test 2>&1 | tee -a "$log" || nb_status=$?
mkdir -p runs
# --overlap: each kernel starts while the notebook before it runs (a fifth less time; its latency
# report counts the overlap: the README quotes `make latency`'s, made without it).
ALEXNET_LAB_QUICK=1 .venv/bin/python scripts/run_notebooks.py --overlap --report-md runs/cell-latency.md 2>&1 |
    tee -a "$log" || nb_status=$?

# Sum the "test result: ok. N passed; M failed; ..." lines of every test binary and doctest
# run, the ablation's line, the runner's self-test and the notebooks' "runner: ..." and
# "notebooks: N passed, M failed".
count() { # count PATTERN: the passed and failed figures of the lines matching PATTERN
    awk "/$1/"' { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
        END { printf "%d passed, %d failed", p, f }' "$log"
}
phase ""
summary="tests: $(count '^test result:|^notebooks:|^runner:|^ablation:')"
echo "$summary"
# The run's figures, for the README (assets/reports/test-run.txt is the copy it quotes).
secs=$(($(date +%s) - start))
mkdir -p runs
{
    echo "# written by scripts/test.sh (make test), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sm)"
    echo "$summary"
    echo "of which notebooks: $(count '^notebooks:'); the runner's own checks: $(count '^runner:')"
    echo "took $((secs / 60)) min $((secs % 60)) s: $phases"
} >runs/test-summary.txt
echo "took $((secs / 60)) min $((secs % 60)) s: $phases"
quoted=$(sed -n 's/^tests: \([0-9]*\) passed.*/\1/p' assets/reports/test-run.txt 2>/dev/null || true)
now=$(echo "$summary" | sed -n 's/^tests: \([0-9]*\) passed.*/\1/p')
if [ -n "$quoted" ] && [ "$quoted" != "$now" ]; then
    echo "note: the README quotes $quoted tests (assets/reports/test-run.txt); this run had $now: copy runs/test-summary.txt there and update the README"
fi
[ "$abl_status" = 0 ] || exit 1
exit "$nb_status"
