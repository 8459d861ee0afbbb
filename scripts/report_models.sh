#!/usr/bin/env bash
# Measures what the README reports about the shipped models: held-out NLL against the
# trivial baselines, quantization fidelity and size per scheme, and generation speed.
# Needs the datasets (bash tools/datasets/build_datasets.sh) and a build (scripts/test.sh).
#
#   bash scripts/report_models.sh [OUT_DIR]     (default: build/report)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/report}"
fw=./build/fastwave
mkdir -p "$out"
[ -x "$fw" ] || { echo "build first: bash scripts/test.sh" >&2; exit 1; }
[ -d data/violin ] && [ -d data/speech ] || { echo "build the datasets first: bash tools/datasets/build_datasets.sh" >&2; exit 1; }

echo "== baselines"
/usr/bin/python3 tools/histogram_baseline.py data/violin | sed 's/^/violin: /'
/usr/bin/python3 tools/histogram_baseline.py data/speech --by-speaker | sed 's/^/speech: /'

echo "== held-out test NLL"
$fw eval -m models/violin.fwm --dir data/violin/test --json "$out/violin_test.json" | tail -2
for k in 0 1 2 3 4 5 6 7; do
  $fw eval -m models/speech.fwm --speaker "$k" --dir "data/speech/test/$k" --json "$out/speech_test_$k.json" | grep -E "^TOTAL" | sed "s/^/speaker $k: /"
done
echo "real speech (LibriVox and cards, pocketsphinx-testdata), speech model:"
for k in 0 4; do
  $fw eval -m models/speech.fwm --speaker "$k" --dir data/realspeech | grep TOTAL | sed "s/^/  as speaker $k: /"
done
$fw eval -m models/violin.fwm --dir data/realspeech | grep TOTAL | sed "s/^/  violin model: /"

echo "== quantization fidelity (held-out test audio; int8-static calibrated on the valid split)"
for name in violin speech; do
  # violin: the first 30 s of the test rendering; speech: speaker 0, the first 4 s of each test file.
  speaker=""; test_dir=data/violin/test; calib=data/violin/valid; limit=30
  if [ "$name" = speech ]; then speaker="--speaker 0"; test_dir=data/speech/test/0; calib=data/speech/valid/0; limit=4; fi
  for scheme in bf16 int8-dynamic int8-static int4; do
    q="$out/$name.$scheme.fwm"
    $fw quantize "models/$name.fwm" -o "$q" --scheme "$scheme" --calib "$calib" --calib-seconds 10 $speaker | tail -1 | sed "s/^/$name $scheme: /"
    $fw eval -m "$q" --ref "models/$name.fwm" --dir "$test_dir" $speaker --max-seconds "$limit" --json "$out/$name.$scheme.fidelity.json" |
      grep TOTAL | sed "s/^/$name $scheme: /"
  done
done

echo "== generation speed (violin model)"
$fw bench -m models/violin.fwm --schemes f32,bf16,int8-dynamic,int8-static,int4 --isa avx2,avx512 \
  --methods fast,naive --naive-samples 4 --runs 5 --json "$out/bench.json"
$fw bench -m models/violin.fwm --isa ref -n 4000 --runs 3
