// Sampling from logits with injected uniforms, so that sampled ids are reproducible
// and two implementations can be compared exactly.
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
  int best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int>(i);
  }
  if (!(temperature > 0.0f)) return best;
  // Inverse CDF of softmax(logits / temperature): one exp per class, sums in double.
  thread_local std::vector<float> weights;
  weights.resize(logits.size());
  kernels.scaled_exp(logits.data(), int(logits.size()), logits[best], 1.0f / temperature,
                                       weights.data());
  double total = 0;
  for (float w : weights) total += w;
  const double target = uniform01 * total;
  double cumulative = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    cumulative += weights[i];
    if (cumulative > target) return static_cast<int>(i);
  }
  return best;  // only reachable through rounding when uniform01 is ~1
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
