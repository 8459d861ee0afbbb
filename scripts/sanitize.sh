#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UBSan, built into build-sanitize/, except
# the libtorch training tests (slow to build) and the PyTorch parity test (minutes under
# ASan; the CLI it drives is exercised by the CLI tests). Any report fails the run: UBSan
# does not recover, ASan aborts on the first error, and leaks are errors. CI runs it.
#
#   bash scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
configure_and_build build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTWAVE_SANITIZE=ON \
  -DFASTWAVE_TESTS=ON -DFASTWAVE_BENCH=OFF -DFASTWAVE_TRAINING=OFF
cd build-sanitize
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --output-on-failure --no-tests=error -E pytorch_parity -j"$(nproc)"
