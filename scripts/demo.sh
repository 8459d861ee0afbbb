#!/usr/bin/env bash
# On a fresh Debian machine: install what fastwave needs, build it, and generate a few
# seconds of audio from the shipped default model, printing the speed.
# Builds into build-demo/ (no tests, no benchmarks), so that it never shares a CMake cache
# with scripts/test.sh's build/: either can run first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}"
configure_and_build build-demo -DFASTWAVE_TESTS=OFF -DFASTWAVE_BENCH=OFF -DFASTWAVE_TRAINING=OFF
./build-demo/fastwave info
./build-demo/fastwave generate -o demo.wav --seconds "${SECONDS_OF_AUDIO:-4}" --seed 1
echo "listen: demo.wav"
