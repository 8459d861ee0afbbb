#!/bin/bash
# Training speed, side by side: a pytorch-wavenet-style step in PyTorch (bench/train_speed.py:
# batch 8 x 1024 targets on 5116-sample crops) against `fastwave train`'s step (its default
# batch 2 x 8192 targets), same model config (4x10 layers, 32/32/256/256), same threads.
# Runs each ROUNDS times, alternating so that background load hits both alike, and compares
# the best run of each.
#
#   bench/train_speed.sh [FASTWAVE_BINARY]   (default: build-train/fastwave)
#   env: THREADS (2), ROUNDS (2), STEPS (timed steps per run, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build-train/fastwave}"
threads="${THREADS:-2}" rounds="${ROUNDS:-2}" steps="${STEPS:-5}"
[ -x "$bin" ] || { echo "no fastwave binary at $bin (configure with -DFASTWAVE_TRAINING=ON)" >&2; exit 1; }

best_base=0 best_fw=0
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }
for ((r = 1; r <= rounds; r++)); do
  base=$(/usr/bin/python3 bench/train_speed.py --threads "$threads" --steps "$steps" |
         awk '/^baseline_targets_per_s/ { print $2 }')
  fw=$("$bin" train --benchmark-steps "$steps" --threads "$threads" |
       awk '/^fastwave_targets_per_s/ { print $2 }')
  echo "round $r: pytorch-wavenet-style $base targets/s, fastwave train $fw targets/s" >&2
  best_base=$(max "$best_base" "$base")
  best_fw=$(max "$best_fw" "$fw")
done
echo "pytorch-wavenet-style (PyTorch, batch 8 x 1024): $best_base targets/s"
echo "fastwave train (libtorch, batch 2 x 8192):       $best_fw targets/s"
awk -v a="$best_fw" -v b="$best_base" 'BEGIN { printf "speed-up: %.2fx\n", a / b }'
