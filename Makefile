# alexnet-lab: the commands the README names.
.PHONY: test build summary bench

## Run every check CI runs: fmt, clippy, all tests in release mode, the CUDA build check.
test:
	bash scripts/test.sh

## Build the `alexnet` command-line tool (target/release/alexnet).
build:
	cargo build --release

## Print the three models' layer tables.
summary: build
	for m in paper article cifar; do ./target/release/alexnet summary --model $$m; echo; done

## Time the cifar model: training steps and inference, batch 64.
bench: build
	./target/release/alexnet bench --model cifar --batch-size 64 --steps 20
