#!/usr/bin/env bash
# On a fresh Debian machine: install what the build and the tests need, build everything,
# and run the whole test suite (CTest: GoogleTest including training, the PyTorch parity test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${TRAIN_PACKAGES[@]}"
configure_and_build build -DFASTWAVE_TRAINING=ON
cd build
ctest --output-on-failure -j"$(nproc)"
