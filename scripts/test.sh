#!/usr/bin/env bash
# On a fresh Debian machine: install what the build and the tests need, build everything,
# and run the whole test suite (CTest: GoogleTest including training, the PyTorch parity test).
# Every option is passed explicitly, so a cache left in build/ by anything else cannot turn
# the tests off; and a run that finds no tests fails instead of passing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${TRAIN_PACKAGES[@]}"
configure_and_build build -DFASTWAVE_TESTS=ON -DFASTWAVE_BENCH=ON -DFASTWAVE_TRAINING=ON
cd build
ctest --output-on-failure --no-tests=error -j"$(nproc)"
