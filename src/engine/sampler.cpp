// Sampling from logits with injected uniforms, so that sampled ids are reproducible
// and two implementations can be compared exactly.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fastwave/generator.h"
#include "engine/sampler.h"

namespace fastwave {

int sample_id(std::span<const float> logits, float temperature, double uniform01) {
  return sample_id_with(kernels::active_kernels(), logits, temperature, uniform01);
}

int sample_id_with(const kernels::KernelTable& kernels, std::span<const float> logits, float temperature,
                   double uniform01) {
  const int n = int(logits.size());
  // The first maximum: a branch-free max, then its first position, which is only searched
  // for when it is the answer (greedy, or rounding at the very end). The max runs as 16
  // independent maxima (elementwise, so the compiler vectorises it, where one running max
  // is a chain of n dependent steps), reduced in order: the same value as one running max,
  // NaNs included (a NaN first logit is the result; a NaN elsewhere is skipped either way).
  float top = logits[0];
  constexpr int kPartials = 16;
  if (n >= kPartials) {
    float partial[kPartials];
    for (int j = 0; j < kPartials; ++j) partial[j] = logits[j];
    int i = kPartials;
    for (; i + kPartials <= n; i += kPartials) {
      for (int j = 0; j < kPartials; ++j) partial[j] = std::max(partial[j], logits[i + j]);
    }
    for (int j = 0; i + j < n; ++j) partial[j] = std::max(partial[j], logits[i + j]);
    top = partial[0];
    for (int j = 1; j < kPartials; ++j) top = std::max(top, partial[j]);
  } else {
    for (int i = 1; i < n; ++i) top = std::max(top, logits[i]);
  }
  const auto first_maximum = [&] {
    int best = 0;
    while (best + 1 < n && logits[best] != top) ++best;  // bounded even for NaN logits
    return best;
  };
  if (!(temperature > 0.0f)) return first_maximum();
  // Inverse CDF of softmax(logits / temperature): one exp per class, sums in double, in
  // blocks of kBlock classes so the blocks' sums are independent chains; the search walks
  // the blocks, then the classes of the block the draw falls in.
  constexpr int kBlock = 16;
  thread_local std::vector<float> weights;
  thread_local std::vector<double> block_sums;
  weights.resize(n);
  block_sums.resize((n + kBlock - 1) / kBlock);
  kernels.scaled_exp(logits.data(), n, top, 1.0f / temperature, weights.data());
  double total = 0;
  // Each block's sum in class order, as before, but kBlock blocks side by side in a local
  // array the compiler keeps in registers: their chains of dependent additions overlap
  // (summed in block_sums itself, every addition was a store and a reload).
  const int whole_blocks = n / kBlock;
  std::fill(block_sums.begin(), block_sums.end(), 0.0);
  int b0 = 0;
  for (; b0 + kBlock <= whole_blocks; b0 += kBlock) {
    double sums[kBlock] = {};
    const float* w = &weights[size_t(b0) * kBlock];
    for (int i = 0; i < kBlock; ++i) {
      for (int b = 0; b < kBlock; ++b) sums[b] += w[b * kBlock + i];
    }
    std::copy(sums, sums + kBlock, &block_sums[b0]);
  }
  for (int i = 0; i < kBlock; ++i) {
    for (int b = b0; b < whole_blocks; ++b) block_sums[b] += weights[size_t(b) * kBlock + i];
  }
  for (int i = whole_blocks * kBlock; i < n; ++i) block_sums[whole_blocks] += weights[i];
  for (double sum : block_sums) total += sum;
  const double target = uniform01 * total;
  double cumulative = 0;
  for (size_t b = 0; b < block_sums.size(); ++b) {
    if (cumulative + block_sums[b] <= target) {
      cumulative += block_sums[b];
      continue;
    }
    const int end = std::min(n, int(b + 1) * kBlock);
    for (int i = int(b) * kBlock; i < end; ++i) {
      cumulative += weights[i];
      if (cumulative > target) return i;
    }
    return end - 1;  // rounding: the classes one by one summed to a hair less than the block
  }
  return first_maximum();  // only reachable through rounding when uniform01 is ~1
}

int sample_code_with(const kernels::KernelTable& kernels, const ModelConfig& config, std::span<const float> outputs,
                     float temperature, UniformSource& uniforms) {
  if (config.output == ModelConfig::Output::kSoftmax) return sample_id_with(kernels, outputs, temperature, uniforms.next());
  return sample_mixture(config, outputs, temperature, uniforms);
}

int sample_code(const ModelConfig& config, std::span<const float> outputs, float temperature, UniformSource& uniforms) {
  return sample_code_with(kernels::active_kernels(), config, outputs, temperature, uniforms);
}

double code_nll_bits(const ModelConfig& config, std::span<const float> outputs, int code) {
  if (config.output != ModelConfig::Output::kSoftmax) return mixture_nll_bits(config, outputs, code);
  const float max = *std::max_element(outputs.begin(), outputs.end());
  double sum = 0;
  for (float v : outputs) sum += std::exp(double(v) - max);
  return (std::log(sum) + max - outputs[size_t(code)]) / std::log(2.0);
}

double output_kl(const ModelConfig& config, std::span<const float> p, std::span<const float> q,
                 UniformSource& uniforms) {
  if (config.output != ModelConfig::Output::kSoftmax) return mixture_kl(config, p, q, uniforms);
  const auto log_sum = [](std::span<const float> x) {
    const double max = *std::max_element(x.begin(), x.end());
    double sum = 0;
    for (float v : x) sum += std::exp(double(v) - max);
    return std::log(sum) + max;
  };
  const double lp = log_sum(p), lq = log_sum(q);
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double log_p = double(p[i]) - lp;
    kl += std::exp(log_p) * (log_p - (double(q[i]) - lq));
  }
  return std::max(0.0, kl);  // rounding can take a tiny true KL below zero
}

int output_mode(const ModelConfig& config, std::span<const float> outputs) {
  if (config.output != ModelConfig::Output::kSoftmax) return mixture_mode(config, outputs);
  return int(std::max_element(outputs.begin(), outputs.end()) - outputs.begin());
}

double UniformSource::next() {
  // splitmix64: tiny, fast, and the same on every platform and standard library.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

}  // namespace fastwave
