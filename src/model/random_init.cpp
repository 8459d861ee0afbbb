// Random models for tests, benchmarks and the placeholder default model.
#include <cmath>
#include <random>

#include "fastwave/model.h"

namespace fastwave {

Model Model::random(const ModelConfig& config, uint64_t seed) {
  config.validate();
  std::mt19937_64 rng(seed);
  // Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) like PyTorch's Conv1d default; embeddings N(0,1)
  // would be too loud for an untrained net, so they use the same rule with fan_in = width.
  auto uniform01 = [&rng] { return static_cast<float>((rng() >> 40) * 0x1.0p-24); };
  std::map<std::string, Tensor> tensors;
  for (const auto& spec : expected_tensors(config)) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
    if (spec.shape.size() == 1) fan_in = spec.shape[0];
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    int64_t numel = 1;
    for (int64_t d : spec.shape) numel *= d;
    std::vector<float> values(static_cast<size_t>(numel));
    for (float& v : values) v = (2.0f * uniform01() - 1.0f) * bound;
    tensors.emplace(spec.name, Tensor::from_floats(spec.shape, values));
  }
  return Model(config, std::move(tensors));
}

}  // namespace fastwave
