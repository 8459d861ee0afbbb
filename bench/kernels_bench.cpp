// Kernels on the shapes of the pytorch-wavenet default model (4x10 layers, 32/32/256/256),
// batch 1: each fastwave ISA against the reference and against OpenBLAS sgemv.
//   ./build/bench/kernels_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>

#include "fastwave/model.h"
#include "kernels/kernels.h"
#include "kernels/linear.h"

#ifdef FASTWAVE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using fastwave::kernels::PackedMatrix;

struct Shape {
  const char* name;
  int rows, cols;
};
// filter+gate fused, residual+skip fused (per layer), end_conv_1, end_conv_2.
constexpr Shape kShapes[] = {{"filter_gate", 64, 64}, {"residual_skip", 288, 32}, {"end1", 256, 256},
                             {"end2", 256, 256}};

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

// The same shapes through Linear in each weight format (activation conversion included).
void linear(benchmark::State& state, const fastwave::kernels::KernelTable* table, Shape shape,
            fastwave::kernels::Layout format) {
  using fastwave::kernels::Linear;
  using fastwave::kernels::Layout;
  const auto w = random_values(size_t(shape.rows) * shape.cols), bias = random_values(shape.rows);
  const auto x = random_values(shape.cols);
  std::vector<float> y(shape.rows);
  Linear l;
  if (format == Layout::kBf16) {
    std::vector<uint16_t> b(w.size());
    fastwave::kernels::reference_kernels().convert_bf16(w.data(), int(w.size()), int(w.size()), b.data());
    l = Linear::bf16(shape.rows, shape.cols, b, bias);
  } else if (format == Layout::kInt8) {
    l = Linear::int8(shape.rows, shape.cols, std::vector<int8_t>(w.size(), 3), std::vector<float>(shape.rows, 0.01f), bias, 0);
  } else {
    const int groups = (shape.cols + 31) / 32;
    l = Linear::int4(shape.rows, shape.cols, 32, std::vector<int8_t>(w.size(), 3),
                     std::vector<float>(size_t(shape.rows) * groups, 0.01f), bias, 0);
  }
  for (auto _ : state) {
    l.apply(x.data(), shape.cols, 1, y.data(), shape.rows, *table);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(double(shape.rows) * shape.cols, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

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
    if (std::string(table->name) == "ref") continue;  // the integer references are very slow
    using fastwave::kernels::Layout;
    for (auto [format, name] : {std::pair{Layout::kBf16, "bf16"}, std::pair{Layout::kInt8, "int8"},
                                std::pair{Layout::kInt4, "int4"}}) {
      for (const Shape& shape : kShapes) {
        benchmark::RegisterBenchmark((std::string("linear_") + name + "/" + shape.name + "/" + table->name).c_str(),
                                     linear, table, shape, format);
      }
    }
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
