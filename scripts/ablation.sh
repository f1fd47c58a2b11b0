#!/usr/bin/env bash
# What the 2012 paper's choices buy, measured: the `cifar` model and variants that each change
# one thing (src/model/variants.rs) or one training choice (the paper's colour augmentation,
# its initialisation), and LeNet-5, trained on the same images with the same budget and seed,
# tabulated.
#
#     scripts/ablation.sh quick   # the synthetic set, 30 images a class, 2 epochs (CI: every
#                                 # row trains and is tabulated, in about a minute)
#     scripts/ablation.sh full    # Fashion-MNIST, 300 photos a class, 4 epochs (the README's)
#
# Each row is an ordinary run folder in runs/ablation/BUDGET/ROW (history.csv, metrics.json, the
# checkpoint); the table goes to runs/ablation/BUDGET/table.md, one line per row. Each budget
# has its own folder, so `make test`'s quick run never replaces a full one.
# "Epochs to 75%" is the first epoch whose training accuracy reached 75% (training error 25%,
# the paper's figure 1 threshold), "-" if none did within the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-}
case $budget in
quick) data=(--dataset synthetic --per-class 30 --epochs 2) ;;
full) data=(--dataset fashion-mnist --per-class 300 --epochs 4) ;;
*)
    echo "usage: scripts/ablation.sh quick|full" >&2
    exit 2
    ;;
esac
# $ALEXNET names an alexnet binary to run instead of building this checkout's.
bin=${ALEXNET:-${CARGO_TARGET_DIR:-target}/release/alexnet}
[ -n "${ALEXNET:-}" ] || cargo build --release --quiet
out=runs/ablation/$budget
rm -rf "$out"
mkdir -p "$out"
# row | what changes | model | extra flags
rows=(
    "baseline|nothing: cifar (ReLU, batch norm, dropout, no augmentation)|cifar|"
    "tanh|tanh in place of ReLU|cifar-tanh|"
    "no-dropout|no dropout|cifar-no-dropout|"
    "augment|random crops (4-pixel padding) and horizontal flips|cifar|--augment"
    "pca|crops, flips and the paper's PCA colour augmentation|cifar|--augment --pca-lighting"
    "paper-init|the paper's initialisation N(0, 0.01), biases 1|cifar|--init paper"
    "lrn|the paper's local response normalisation in place of batch norm|cifar-lrn|"
    "no-norm|no normalisation|cifar-no-norm|"
    "lenet5|LeNet-5 (1998) in place of AlexNet|lenet5|"
)
for row in "${rows[@]}"; do
    IFS='|' read -r key change model extra <<<"$row"
    echo "== $key: alexnet train --model $model ${data[*]} $extra --seed 0"
    # shellcheck disable=SC2086 # $extra is flags and their values, split on spaces
    if ! "$bin" train --model "$model" "${data[@]}" $extra --seed 0 \
        --out "$out/$key" >"$out/$key.log" 2>&1; then
        tail -5 "$out/$key.log" >&2
        echo "ablation: the $key row failed (log: $out/$key.log)" >&2
        exit 1
    fi
    grep -E '^(epoch|test accuracy)' "$out/$key.log"
    printf '%s\n' "$change" >"$out/$key/change.txt"
done
python3 - "$out" "$budget" "${data[*]}" "${rows[@]}" <<'EOF'
import csv, json, os, platform, sys, time
out, budget, data, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
first_log = open(os.path.join(out, rows[0].split("|")[0] + ".log")).readline().strip()
lines = [
    f"<!-- written by scripts/ablation.sh {budget} ({data}, seed 0), "
    f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, {os.cpu_count()} threads -->",
    f"<!-- {first_log} -->",
    "| row | what changes | test accuracy | training accuracy, last epoch | epochs to 75% | training time |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
]
for row in rows:
    key, change, model, extra = row.split("|")
    with open(os.path.join(out, key, "history.csv")) as f:
        epochs = list(csv.DictReader(f))
    test = json.load(open(os.path.join(out, key, "metrics.json")))["test_accuracy"]
    reached = next((e["epoch"] for e in epochs if float(e["train_acc"]) >= 0.75), "-")
    seconds = sum(float(e["seconds"]) for e in epochs)
    lines.append(f"| {key} | {change} | {100 * test:.2f}% | {100 * float(epochs[-1]['train_acc']):.1f}% "
                 f"| {reached} | {seconds:.0f} s |")
open(os.path.join(out, "table.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo "ablation: ${#rows[@]} rows in $out/table.md"
