#!/bin/bash
# fastwave against PyTorch, in one command: same machine, same weights (through
# tools/convert_pytorch_wavenet.py), same core (taskset -c CORE), one thread. Prints
# samples/s, size and the ratios (bench/compare_pytorch.py says what each row is).
#
#   bench/compare_pytorch.sh [FASTWAVE_BINARY]   (default: build it into build-bench/)
#   env: MODEL (models/violin.fwm), CORE (0), RUNS (3), NAIVE_SAMPLES (8),
#        FAST_SAMPLES (400, PyTorch's queue methods), CALIBRATION_SAMPLES (100),
#        WORKDIR (build/compare_pytorch), JSON, LAYERS (e.g. 4,6,8,10,12: also the depth sweep)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
bin="$(bench_binary "${1:-}")"
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed to pin to one core" >&2; exit 1; }
args=(--fastwave "$bin" --model "${MODEL:-models/violin.fwm}" --workdir "${WORKDIR:-build/compare_pytorch}"
      --runs "${RUNS:-3}" --naive-samples "${NAIVE_SAMPLES:-8}" --fast-samples "${FAST_SAMPLES:-400}"
      --calibration-samples "${CALIBRATION_SAMPLES:-100}")
[ -n "${JSON:-}" ] && args+=(--json "$JSON")
[ -n "${LAYERS:-}" ] && args+=(--layers "$LAYERS")
OMP_NUM_THREADS=1 exec taskset -c "${CORE:-0}" /usr/bin/python3 bench/compare_pytorch.py "${args[@]}"
