// Kernels on the shapes of the pytorch-wavenet default model (4x10 layers, 32/32/256/256),
// batch 1: each fastwave ISA against the reference and against OpenBLAS sgemv.
//   ./build/bench/kernels_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>

#include "fastwave/model.h"
#include "kernels/kernels.h"

#ifdef FASTWAVE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using fastwave::kernels::PackedMatrix;

struct Shape {
  const char* name;
  int rows, cols;
};
// filter+gate fused, residual, skip over all 40 layers, end_conv_1, end_conv_2.
constexpr Shape kShapes[] = {{"filter_gate", 64, 64}, {"residual", 32, 32}, {"skip_all", 256, 1280},
                             {"end1", 256, 256}, {"end2", 256, 256}};

std::vector<float> random_values(size_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void gemv(benchmark::State& state, const fastwave::kernels::KernelTable* table, Shape shape) {
  const auto w = random_values(size_t(shape.rows) * shape.cols), bias = random_values(shape.rows);
  const auto x = random_values(shape.cols);
  std::vector<float> y(shape.rows);
  const PackedMatrix packed(shape.rows, shape.cols, w, bias);
  for (auto _ : state) {
    table->gemm_f32(packed.view(), x.data(), shape.cols, 1, y.data(), shape.rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * shape.rows * shape.cols, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

#ifdef FASTWAVE_HAVE_OPENBLAS
void gemv_openblas(benchmark::State& state, Shape shape) {
  openblas_set_num_threads(1);
  const auto w = random_values(size_t(shape.rows) * shape.cols), bias = random_values(shape.rows);
  const auto x = random_values(shape.cols);
  std::vector<float> y(shape.rows);
  for (auto _ : state) {
    y = bias;  // fastwave's kernel adds the bias too
    cblas_sgemv(CblasRowMajor, CblasNoTrans, shape.rows, shape.cols, 1.0f, w.data(), shape.cols, x.data(), 1, 1.0f,
                y.data(), 1);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * shape.rows * shape.cols, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
#endif

void gated(benchmark::State& state, const fastwave::kernels::KernelTable* table) {
  const auto pre = random_values(64);
  std::vector<float> z(32);
  for (auto _ : state) {
    table->gated_activation(pre.data(), 32, z.data());
    benchmark::DoNotOptimize(z.data());
  }
}

int register_all() {
  for (const auto* table : fastwave::kernels::available_kernels()) {
    for (const Shape& shape : kShapes) {
      benchmark::RegisterBenchmark((std::string("gemv/") + shape.name + "/" + table->name).c_str(), gemv, table, shape);
    }
    benchmark::RegisterBenchmark((std::string("gated_activation/32/") + table->name).c_str(), gated, table);
  }
#ifdef FASTWAVE_HAVE_OPENBLAS
  for (const Shape& shape : kShapes) {
    benchmark::RegisterBenchmark((std::string("gemv/") + shape.name + "/openblas").c_str(), gemv_openblas, shape);
  }
#endif
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
