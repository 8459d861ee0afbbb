#!/usr/bin/env bash
# A vocoder measured like a vocoder (docs/vocoder.md): copy synthesis of held-out speech
# (2 test utterances per synthetic speaker and the real clips) with the model as given and
# quantized, judged by log-spectral distance, mel-cepstral distortion, log-mel Frechet
# distance, pocketsphinx's word error rate and the real-time factor of `fastwave vocode`.
#
#   bash scripts/vocoder_report.sh VOCODER.fwm [OUT_PREFIX] [extra tools/vocoder_report.py flags]
#
# Writes OUT_PREFIX.csv, OUT_PREFIX-table.md and OUT_PREFIX.png (default docs/vocoder).
# Needs the datasets and a build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash scripts/vocoder_report.sh VOCODER.fwm [OUT_PREFIX] [flags]" >&2; exit 1; }
model="$1"
out="${2:-docs/vocoder}"
shift $(( $# >= 2 ? 2 : 1 ))
fw=./build/fastwave
[ -f "$model" ] || { echo "no model file $model" >&2; exit 1; }
[ -x "$fw" ] || { echo "build first: bash scripts/test.sh" >&2; exit 1; }
[ -d data/speech ] && [ -d data/realspeech ] || { echo "build the datasets first: bash tools/datasets/build_datasets.sh" >&2; exit 1; }
source scripts/common.sh
install_packages sox pocketsphinx pocketsphinx-en-us python3-numpy python3-matplotlib
nice -n 5 /usr/bin/python3 tools/vocoder_report.py -m "$model" --fastwave "$fw" --out "$out" "$@"
