#!/usr/bin/env bash
# Continues training the shipped models from where they are, one thread each, in the
# background-friendly way the project trains (docs/training.md, models/README.md):
#
#   bash scripts/train_models.sh [MINUTES] [RUN_DIR]     (default: 150 minutes, runs/)
#
# Each run starts from models/NAME.fwm (--init-from: a fresh optimizer at a fifth of the
# first sessions' rate, which restarts gain from (models/README.md, session 5), warm-up, cosine
# decay over the steps one session can do), exports to RUN_DIR/NAME.fwm whenever the
# validation NLL beats the shipped model's, and logs to RUN_DIR/NAME.log. Copy an improved
# RUN_DIR/NAME.fwm over models/NAME.fwm and commit it with its numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-150}"
runs="${2:-runs}"
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}" "${TRAIN_PACKAGES[@]}"
[ -d data/violin ] && [ -d data/speech ] || bash tools/datasets/build_datasets.sh
configure_and_build build-train -DFASTWAVE_TRAINING=ON -DFASTWAVE_TESTS=OFF -DFASTWAVE_BENCH=OFF
mkdir -p "$runs"
# Crops of step k come from (seed, k): a new seed per session sees new crops.
seed="${SEED:-$(date +%s)}"
echo "seed $seed" >&2
# Validation: 30 s of the violin valid rendering, 8 s of each speaker's valid audio.
common=(--batch 2 --output-length 8192 --lr 2e-4 --warmup-steps 50 --valid-every 150 --threads 1
        --max-minutes "$minutes" --steps 6000)
for name in violin speech; do
  valid=30; [ "$name" = speech ] && valid=8
  rm -rf "$runs/$name.ckpt"
  nohup nice -n 5 build-train/fastwave train --data "data/$name" --init-from "models/$name.fwm" \
    -o "$runs/$name.fwm" --valid-seconds "$valid" --seed "$seed" "${common[@]}" > "$runs/$name.log" 2>&1 &
  echo "training $name: log $runs/$name.log, pid $!"
done
