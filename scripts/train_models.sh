#!/usr/bin/env bash
# Continues training the shipped models from where they are, one thread each, in the
# background-friendly way the project trains (docs/training.md, models/README.md):
#
#   [MODELS="speech vocoder"] [EMA=0.999] bash scripts/train_models.sh [MINUTES] [RUN_DIR]
#                                   (default: violin and speech, 150 minutes, runs/)
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
# OpenBLAS's AVX-512 kernels train 1.16x-1.2x faster than its AVX2 ones (which an
# OPENBLAS_CORETYPE=Haswell in the environment forces), libtorch's own ~3% more (docs/training.md).
if grep -q -w avx512f /proc/cpuinfo; then
  if [ "${OPENBLAS_CORETYPE:-SkylakeX}" != SkylakeX ]; then
    echo "train_models.sh: OPENBLAS_CORETYPE $OPENBLAS_CORETYPE -> SkylakeX (this CPU has AVX-512)" >&2
  fi
  export OPENBLAS_CORETYPE=SkylakeX ATEN_CPU_CAPABILITY="${ATEN_CPU_CAPABILITY:-avx512}"
fi
# Crops of step k come from (seed, k): a new seed per session sees new crops.
seed="${SEED:-$(date +%s)}"
echo "seed $seed" >&2
# Validation: 30 s of the violin valid rendering, 8 s of each speaker's valid audio.
# --snapshots keeps every validation's model (RUN_DIR/NAME.stepN.fwm): free-running quality
# moves between neighbouring checkpoints far more than the NLL does (docs/vocoder.md), so
# the one to ship may not be the lowest-NLL export.
# --ema 0.999 validates and exports the moving average of the weights: it removed the
# restart's dip and lowered the validation NLL at every check for the vocoder and the violin
# (docs/vocoder.md, "Averaged weights"; models/README.md). EMA=0 turns it off.
common=(--warmup-steps 50 --valid-every 150 --threads 1 --max-minutes "$minutes" --steps 6000 --snapshots
        --ema "${EMA:-0.999}")
# MODELS picks which (two cores: two runs at a time): violin, speech, vocoder.
for name in ${MODELS:-violin speech}; do
  case "$name" in
    violin) args=(--data data/violin --valid-seconds 30 --batch 2 --output-length 8192 --lr 2e-4) ;;
    # Onsets weigh 3x in its loss: the pause-to-speech step is what it learns last
    # (models/README.md, "Why the speech model fell silent").
    speech) args=(--data data/speech --valid-seconds 8 --batch 2 --output-length 8192 --lr 2e-4
                  --onset-weight 3) ;;
    # The vocoder learns from the speech data with its features at 3e-4 (the first one's
    # second session: at 1e-3 it stopped gaining after 400 steps); the shipped one, warm
    # started from the speech model, with its crops and onset weight (models/README.md,
    # "The warm start"). A lower valid NLL is not a better vocoder: compare its export by
    # copy synthesis before shipping it (docs/vocoder.md, "NLL does not pick the better vocoder").
    vocoder) args=(--vocoder --data data/speech --valid-seconds 4 --batch 2 --output-length 8192 --lr 3e-4
                   --onset-weight 3) ;;
    *) echo "unknown model '$name' in MODELS (violin, speech, vocoder)" >&2; exit 1 ;;
  esac
  rm -rf "$runs/$name.ckpt"
  nohup nice -n 5 build-train/fastwave train --init-from "models/$name.fwm" -o "$runs/$name.fwm" \
    --seed "$seed" "${common[@]}" "${args[@]}" > "$runs/$name.log" 2>&1 &
  echo "training $name: log $runs/$name.log, pid $!"
done
