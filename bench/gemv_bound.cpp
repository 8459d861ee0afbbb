// The bound of batch-1 generation: every matrix product of one sample (each layer's
// filter/gate and residual/skip matrices, the two end matrices) back to back on fixed,
// already-converted inputs, with nothing else (no quantization of activations, gate,
// sums, sampling, or dependence between the products). Measured in the same run as the
// real fast step on the same Network, so the ratio is what the step reaches of the bound.
// The two alternate in short rounds and the ratio is the median of the rounds' ratios, so
// that other work sharing the core weighs on both alike.
//
//   build/bench/gemv_bound [MODEL] [--scheme int8-dynamic] [--seconds 3] [--rounds 10]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
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
    products();  // warm-up: caches and page faults
    step();
    std::vector<double> bounds, steps, ratios;
    for (int r = 0; r < rounds; ++r) {
      bounds.push_back(rate(seconds / rounds, 1, products));
      steps.push_back(rate(seconds / rounds, one[0].samples, step));
      ratios.push_back(steps.back() / bounds.back());
    }
    const double bound = median(bounds), step_rate = median(steps), ratio = median(ratios);
    std::printf("model %s, scheme %s, isa %s, %zu weight bytes per sample\n", model_path.c_str(), scheme.c_str(),
                network->isa(), network->weight_bytes());
    std::printf("products only (the bound): %10.0f samples/s  %6.2f GB/s of weights\n", bound,
                bound * double(network->weight_bytes()) / 1e9);
    std::printf("fast step, one stream:     %10.0f samples/s  %.2fx the bound (median of %d rounds' ratios)\n",
                step_rate, ratio, rounds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemv_bound: %s\n", e.what());
    return 1;
  }
  return 0;
}
