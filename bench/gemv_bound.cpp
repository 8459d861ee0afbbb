// The bound of batch-1 generation: every matrix product of one sample (each layer's
// filter/gate and residual/skip matrices, the two end matrices) back to back on fixed,
// already-converted inputs, with nothing else (no quantization of activations, gate,
// sums, sampling, or dependence between the products). Measured in the same run as the
// real fast step on the same Network, so the ratio is what the step reaches of the bound.
// The two alternate in short rounds and the ratio is the median of the rounds' ratios, so
// that other work sharing the core weighs on both alike. Beside them, the memory ceiling:
// only reading the same weight bytes in the same order, which no product can beat.
//
//   build/bench/gemv_bound [MODEL] [--scheme int8-dynamic] [--seconds 3] [--rounds 10]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <immintrin.h>
#include <utility>
#include <string>
#include <vector>

#include "engine/packed_model.h"
#include "fastwave/fastwave.h"
#include "kernels/kernels.h"

namespace {

using Clock = std::chrono::steady_clock;

// All products of one sample, straight into the kernels on inputs already in each
// format's activation type (u8 codes, bf16), so no conversion is timed.
void products_of_one_sample(const fastwave::PackedModel& m, const fastwave::kernels::KernelTable& k,
                            const std::vector<float>& x, const std::vector<uint8_t>& codes,
                            const std::vector<uint16_t>& halves, std::vector<float>& y) {
  using fastwave::kernels::Layout;
  const float scale = 0.01f;
  auto run = [&](const fastwave::kernels::Linear& l) {
    switch (l.layout()) {
      case Layout::kF32: k.gemm_f32(l.f32_view(), x.data(), l.cols(), 1, y.data(), l.rows()); break;
      case Layout::kBf16: k.gemm_bf16(l.bf16_view(), halves.data(), l.padded_cols(), 1, y.data(), l.rows()); break;
      case Layout::kInt8: k.gemm_int8(l.int8_view(), codes.data(), l.padded_cols(), &scale, 1, y.data(), l.rows()); break;
      case Layout::kInt4: k.gemm_int4(l.int4_view(), codes.data(), l.padded_cols(), &scale, 1, y.data(), l.rows()); break;
    }
  };
  for (const auto& layer : m.layers) {
    run(layer.filter_gate);
    run(layer.residual_skip);
  }
  run(m.end1);
  run(m.end2);
}

// The memory ceiling: only loading those bytes, a cache line at a time, in the products'
// order (four independent XOR chains, so the loads are all that waits).
__attribute__((target("avx512f"))) uint64_t read_bytes_avx512(const char* p, size_t bytes) {
  __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 256 <= bytes; i += 256) {
    a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i));
    b = _mm512_xor_si512(b, _mm512_loadu_si512(p + i + 64));
    c = _mm512_xor_si512(c, _mm512_loadu_si512(p + i + 128));
    d = _mm512_xor_si512(d, _mm512_loadu_si512(p + i + 192));
  }
  for (; i + 64 <= bytes; i += 64) a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d)));
  return lanes[0];
}

uint64_t read_bytes_sse2(const char* p, size_t bytes) {
  __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
  for (size_t i = 0; i + 64 <= bytes; i += 64) {
    a = _mm_xor_si128(a, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    b = _mm_xor_si128(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16)));
    c = _mm_xor_si128(c, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 32)));
    d = _mm_xor_si128(d, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 48)));
  }
  return uint64_t(_mm_cvtsi128_si64(_mm_xor_si128(_mm_xor_si128(a, b), _mm_xor_si128(c, d))));
}

uint64_t read_weights_of_one_sample(const fastwave::PackedModel& m) {
  static const bool wide = __builtin_cpu_supports("avx512f");
  uint64_t sum = 0;
  auto read = [&](const fastwave::kernels::Linear& l) {
    const auto weights = l.packed_weights();
    const char* p = reinterpret_cast<const char*>(weights.data());
    sum ^= wide ? read_bytes_avx512(p, weights.size()) : read_bytes_sse2(p, weights.size());
  };
  for (const auto& layer : m.layers) {
    read(layer.filter_gate);
    read(layer.residual_skip);
  }
  read(m.end1);
  read(m.end2);
  return sum;
}

template <typename F>
double rate(double seconds, int64_t per_call, F call) {
  int64_t done = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    call();
    done += per_call;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return double(done) / elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path = FASTWAVE_DEFAULT_MODEL, scheme = "int8-dynamic";
  double seconds = 3;
  int rounds = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--scheme" && i + 1 < argc) scheme = argv[++i];
    else if (a == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::stoi(argv[++i]));
    else if (!a.empty() && a[0] != '-') model_path = a;
    else {
      std::fprintf(stderr, "usage: gemv_bound [MODEL] [--scheme S] [--seconds T] [--rounds R]\n");
      return 1;
    }
  }
  try {
    fastwave::Model model = fastwave::Model::load(model_path);
    if (scheme != "f32" && !model.is_quantized()) {
      fastwave::QuantizeOptions options;
      options.scheme = fastwave::parse_scheme(scheme);
      model = fastwave::quantize(model, options);
    }
    const auto network = fastwave::Network::build(model);
    const auto& packed = network->packed();
    size_t widest = 0;
    for (const auto& l : packed.layers) widest = std::max({widest, size_t(l.filter_gate.cols()), size_t(l.residual_skip.rows())});
    widest = std::max({widest, size_t(packed.end1.rows()), size_t(packed.end2.rows()), size_t(packed.end1.cols())});
    widest += 64;  // padded columns
    std::vector<float> x(widest, 0.25f), y(widest);
    std::vector<uint8_t> codes(widest, 140);
    std::vector<uint16_t> halves(widest, 0x3E80);  // 0.25 in bf16

    auto products = [&] { products_of_one_sample(packed, network->kernels(), x, codes, halves, y); };
    std::vector<fastwave::StreamRequest> one(1);
    one[0].samples = 4096;
    if (model.config().has_global()) one[0].conditioning.speaker = 0;
    auto step = [&] { fastwave::generate_streams(*network, one); };
    volatile uint64_t sink = 0;  // the reads must not be optimised away
    auto read_only = [&] { sink = sink ^ read_weights_of_one_sample(packed); };
    read_only();
    products();  // warm-up: caches and page faults
    step();
    std::vector<double> reads, bounds, steps, ratios;
    for (int r = 0; r < rounds; ++r) {
      reads.push_back(rate(seconds / rounds / 2, 1, read_only));
      bounds.push_back(rate(seconds / rounds, 1, products));
      steps.push_back(rate(seconds / rounds, one[0].samples, step));
      ratios.push_back(steps.back() / bounds.back());
    }
    const double bound = median(bounds), step_rate = median(steps), ratio = median(ratios);
    std::printf("model %s, scheme %s, isa %s, %zu weight bytes per sample\n", model_path.c_str(), scheme.c_str(),
                network->isa(), network->weight_bytes());
    const double read = median(reads);
    std::printf("reading the weights only:  %10.0f samples/s  %6.2f GB/s  (the memory ceiling)\n", read,
                read * double(network->weight_bytes()) / 1e9);
    std::printf("products only (the bound): %10.0f samples/s  %6.2f GB/s of weights  %.2fx the ceiling\n", bound,
                bound * double(network->weight_bytes()) / 1e9, bound / read);
    std::printf("fast step, one stream:     %10.0f samples/s  %.2fx the bound (median of %d rounds' ratios)\n",
                step_rate, ratio, rounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemv_bound: %s\n", e.what());
    return 1;
  }
  return 0;
}
