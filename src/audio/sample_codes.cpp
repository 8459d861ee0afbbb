// Audio <-> sample codes: µ-law classes for softmax models, 16-bit linear codes for mixtures.
#include <algorithm>
#include <cmath>

#include "fastwave/audio.h"
#include "fastwave/distribution.h"

namespace fastwave {

int code_of_sample(double x) {
  if (std::isnan(x)) return 32768;
  const double step = std::nearbyint(std::clamp(x, -1.0, 1.0) * 32768.0);  // ties to even
  return int(std::min(step, 32767.0)) + 32768;
}

std::vector<int> encode_audio(const ModelConfig& config, std::span<const float> samples) {
  if (!config.scalar_input()) return mulaw_encode(samples, config.classes);
  std::vector<int> codes(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) codes[i] = code_of_sample(samples[i]);
  return codes;
}

std::vector<float> decode_codes(const ModelConfig& config, std::span<const int> codes) {
  if (!config.scalar_input()) return mulaw_decode(codes, config.classes);
  std::vector<float> samples(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) samples[i] = sample_of_code(codes[i]);
  return samples;
}

}  // namespace fastwave
