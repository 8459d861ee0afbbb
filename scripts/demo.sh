#!/usr/bin/env bash
# On a fresh Debian machine: install what fastwave needs, build it, and generate a few
# seconds of audio from the shipped default model, printing the speed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}"
configure_and_build build -DFASTWAVE_TESTS=OFF -DFASTWAVE_BENCH=OFF
./build/fastwave info
./build/fastwave generate -o demo.wav --seconds "${SECONDS_OF_AUDIO:-4}" --seed 1
echo "listen: demo.wav"
