#!/usr/bin/env bash
# The personalisation experiment (docs/personal-quantization.md): per-layer widths chosen
# under a byte budget from one speaker's unlabelled train audio, tested on that speaker's
# held-out audio against other calibrations and uniform widths; then the plots.
#
#   bash scripts/personal_quant.sh [WORK_DIR] [extra tools/personal_quant.py flags]
#
# Writes docs/personal-quantization.csv and docs/personal-*.png. Needs the datasets.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-runs/personal_quant}"
shift || true
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}" sox python3-matplotlib python3-numpy
[ -d data/speech ] || bash tools/datasets/build_datasets.sh
configure_and_build build-bench -DFASTWAVE_TESTS=OFF -DFASTWAVE_BENCH=ON -DFASTWAVE_TRAINING=OFF
/usr/bin/python3 tools/personal_quant.py --fastwave build-bench/fastwave --work "$work" --csv docs/personal-quantization.csv "$@"
/usr/bin/python3 tools/plot_personal_quant.py docs/personal-quantization.csv --out-dir docs --layers-csv "$work" \
  --markdown docs/personal-quantization-tables.md
