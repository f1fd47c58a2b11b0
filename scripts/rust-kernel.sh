#!/usr/bin/env bash
# The course's Rust kernel, as Jupyter starts it (`scripts/setup.sh` registers it in .venv):
# evcxr_jupyter, started warm when it can be.
#
#   scripts/rust-kernel.sh --control_file FILE   start the kernel (what Jupyter runs)
#   scripts/rust-kernel.sh --key                 print the key of what the kernel compiles
#
# Every notebook's first cell loads this crate (`:dep alexnet-lab`, `use ...prelude::*`,
# `let dev = Cpu::default();`). The first time a kernel runs such a cell, evcxr's built-in
# rust-analyzer reads the standard library and every crate the course crate depends on, and
# the compiled dependencies are copied out of evcxr's cache into the kernel's build folder: most
# of ten seconds on 2 cores. Started warm, the kernel runs that same cell as it starts (evcxr's start-up file `prelude.rs`,
# written by setup from the first lesson's first cell), while the learner reads the lesson's
# introduction; the notebook's own first cell then finds everything done and answers in
# about a second. It is started warm only when setup has run that cell on the crate as it is
# now (the key below, recorded by setup): after an edit to the crate, the kernel starts
# plain and the first cell compiles it, with any error shown in the notebook, as evcxr does
# on its own.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="$root/.venv/evcxr-config" # prelude.rs (setup writes it)
warm="$root/.venv/evcxr/warm"     # the key of the last warm-up (setup writes it)

key() { # what the first cell compiles: that cell, the build settings, the crate's sources,
    # with which compiler and which evcxr (its binary's size and time)
    local first evcxr
    first=$(ls "$root"/notebooks/[0-9][0-9]-*.ipynb | head -1)
    evcxr=${EVCXR_JUPYTER:-$(command -v evcxr_jupyter)}
    (cd "$root" && cat "$first" scripts/kernel-cargo-config.toml Cargo.toml Cargo.lock \
        $(find src assets/fonts -type f | sort) && rustc -vV && stat -c '%s %Y' "$evcxr") |
        sha256sum | cut -c1-16
}

if [ "${1:-}" = "--key" ]; then
    key
    exit
fi
if [ -f "$config/prelude.rs" ] && [ "$(cat "$warm" 2>/dev/null)" = "$(key 2>/dev/null)" ]; then
    export EVCXR_CONFIG_DIR="$config"
fi
exec "${EVCXR_JUPYTER:-evcxr_jupyter}" "$@"
