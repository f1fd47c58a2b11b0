# alexnet-lab: the commands the README names.
.PHONY: course setup test html latency build summary bench figures compare gpu-bundle

## Set everything up (idempotent) and open the course in JupyterLab. Run as root (a
## container, a cloud notebook), JupyterLab refuses to start without --allow-root: it is
## passed then, and said so.
course: setup
	@if [ "$$(id -u)" = 0 ]; then echo "running as root: starting JupyterLab with --allow-root"; fi
	.venv/bin/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/

## rust-src, evcxr_jupyter, a Python venv with JupyterLab, the Rust kernel registered.
setup:
	bash scripts/setup.sh

## Every check CI runs: fmt, clippy, all tests in release mode, the CUDA build check, the notebooks.
test:
	bash scripts/test.sh

## Every notebook executed (full budget unless ALEXNET_LAB_QUICK=1) and rendered to runs/html/.
html: setup
	.venv/bin/python scripts/run_notebooks.py --html runs/html

## The cell latency report the README quotes (assets/reports/cell-latency.md): every notebook
## run with the quick budget, each kernel started alone, as a learner's one notebook is.
latency: setup
	ALEXNET_LAB_QUICK=1 .venv/bin/python scripts/run_notebooks.py --report-md assets/reports/cell-latency.md

## Build the `alexnet` command-line tool (target/release/alexnet).
build:
	cargo build --release

## Print the three models' layer tables.
summary: build
	for m in paper article cifar; do cargo run --release --quiet --bin alexnet -- summary --model $$m; echo; done

## Time the cifar model: training steps and inference, batch 64.
bench: build
	cargo run --release --quiet --bin alexnet -- bench --model cifar --batch-size 64 --steps 20

## Regenerate the course figures the README shows (assets/figures/*.png and gallery.txt) from a
## network trained briefly on the best data in data/ (CIFAR-10, Fashion-MNIST, else synthetic).
figures:
	cargo run --release --example gallery -- assets/figures

## alexnet bench beside its Keras and PyTorch twins: alternated rounds, one table (the first
## run makes the peers' venv, .venv-peers, about 7 GB).
compare:
	python3 bench/compare.py --rounds 3

## The CUDA build for a GPU machine without Rust: the CLI, the GPU check, cuda_fit and the
## device-generic tests, built here with CUDA 13.0 from pinned wheels, stripped and checked, in
## .gpu/bundle. Carry that folder and run `scripts/gpu_run.sh OUTDIR` there.
gpu-bundle:
	bash scripts/gpu_bundle.sh
