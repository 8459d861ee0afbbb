#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang, AddressSanitizer and UBSan (into
# build-fuzz/), then runs each for SECONDS (default 60), one at a time, at the lowest CPU
# priority, starting from the seed corpora in fuzz/corpus/. Prints the executions per
# target and in total; exits non-zero on the first finding (the crashing input is left in
# build-fuzz/findings/).
#
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}" clang libclang-rt-14-dev
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTWAVE_FUZZ=ON \
  -DFASTWAVE_TESTS=OFF -DFASTWAVE_BENCH=OFF -DFASTWAVE_TRAINING=OFF >&2
nice -n 19 cmake --build build-fuzz -j"$(nproc)" --target fuzz_model_memory fuzz_model_file fuzz_audio fuzz_npy fuzz_ids fuzz_config >&2

# target:corpus
targets="model_memory:model model_file:model audio:audio npy:npy ids:ids config:config"
mkdir -p build-fuzz/findings
total=0
for entry in $targets; do
  target="${entry%%:*}"
  corpus="build-fuzz/corpus/${entry#*:}"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"${entry#*:}"/* "$corpus"/ 2>/dev/null || true
  log="build-fuzz/findings/$target.log"
  # Inputs that need more than 2 GB or 10 s are findings too (memory and hang bounds).
  if ! nice -n 19 "build-fuzz/fuzz/fuzz_$target" "$corpus" -max_total_time="$seconds" -max_len=65536 \
      -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix=build-fuzz/findings/"$target"- >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz_$target: FINDING (see $log)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  echo "fuzz_$target: $runs executions in ${seconds}s, no finding"
  total=$((total + runs))
done
echo "total: $total executions, no finding"
