#!/usr/bin/env bash
# What the shipped models sound like against real audio (docs/audio-quality.md): the
# calibrated quality tables, spectrograms of generated beside real audio, and where the
# speech model's NLL goes (quiet, speech, onsets). Needs the datasets and a build.
#
#   bash scripts/report_quality.sh [OUT_DIR]     (default: build/quality)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/quality}"
fw=./build/fastwave
mkdir -p "$out"
[ -x "$fw" ] || { echo "build first: bash scripts/test.sh" >&2; exit 1; }
[ -d data/violin ] && [ -d data/speech ] || { echo "build the datasets first: bash tools/datasets/build_datasets.sh" >&2; exit 1; }

echo "== quality tables" >&2
# Three clips per temperature: one 6 s clip is a noisy measure (docs/audio-quality.md).
/usr/bin/python3 tools/quality_table.py --fastwave "$fw" --seeds 1,2,3 --json "$out/quality.json" | tee "$out/quality.md"

echo "== spectrograms" >&2
$fw generate -m models/violin.fwm -o "$out/violin_gen.wav" --seconds 6 --seed 1 -q
$fw generate -m models/speech.fwm --speaker 4 -o "$out/speech4_gen.wav" --seconds 6 --seed 1 -q
$fw generate -m models/speech.fwm --speaker 0 -o "$out/speech0_gen.wav" --seconds 6 --seed 1 -q
sox data/violin/test/*.wav "$out/violin_real.wav" trim 0 6
sox $(ls data/speech/test/4/*.wav | head -3) "$out/speech4_real.wav" trim 0 6
sox $(ls data/speech/test/0/*.wav | head -3) "$out/speech0_real.wav" trim 0 6
/usr/bin/python3 tools/spectrograms.py -o "$out/spectrograms.png" --seconds 6 \
  "real violin (test rendering)=$out/violin_real.wav" "violin model, T=1, seed 1=$out/violin_gen.wav" \
  "real speaker 4 (slt, test)=$out/speech4_real.wav" "speech model, speaker 4=$out/speech4_gen.wav" \
  "real speaker 0 (awb, test)=$out/speech0_real.wav" "speech model, speaker 0=$out/speech0_gen.wav"

echo "== speech NLL by region (first 3 test files)" >&2
for k in 2 4; do
  echo "speaker $k:"
  /usr/bin/python3 tools/onset_nll.py --fastwave "$fw" -m models/speech.fwm --speaker "$k" "data/speech/test/$k" --files 3
done | tee "$out/onset_nll.txt"
