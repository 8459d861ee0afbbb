# Shared by scripts/demo.sh and scripts/test.sh: install Debian packages, configure, build.

# Installs the named Debian packages that are missing (apt-get update only when needed).
install_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

BUILD_PACKAGES=(g++ cmake make pkg-config libsndfile1-dev libsoxr-dev libcli11-dev nlohmann-json3-dev libfftw3-dev libeigen3-dev)
TEST_PACKAGES=(libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev python3-torch python3-numpy python3-matplotlib)
# Training (fastwave train) links libtorch; OpenBLAS keeps Debian's torch off its slow reference BLAS.
TRAIN_PACKAGES=(libtorch-dev libopenblas0)

# configure_and_build BUILD_DIR [cmake args...]
configure_and_build() {
  local dir="$1"
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >&2
  cmake --build "$dir" -j"$(nproc)" >&2
}

# The fastwave binary the benchmark scripts run: $1 if given, else build-bench/fastwave,
# built here first (Release, no tests; with bench/kernels_bench) with what the benchmarks need.
bench_binary() {
  if [ -n "${1:-}" ]; then
    [ -x "$1" ] || { echo "no fastwave binary at $1" >&2; return 1; }
    echo "$1"
    return 0
  fi
  install_packages "${BUILD_PACKAGES[@]}" libbenchmark-dev libopenblas-dev python3-torch python3-numpy \
    python3-matplotlib util-linux
  configure_and_build build-bench -DFASTWAVE_TESTS=OFF -DFASTWAVE_BENCH=ON -DFASTWAVE_TRAINING=OFF
  echo build-bench/fastwave
}
