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
  const double a = config.preemphasis;
  std::vector<int> codes(samples.size());
  double previous = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double x = a == 0 ? double(samples[i]) : double(samples[i]) - a * previous;
    previous = samples[i];
    codes[i] = config.scalar_input() ? code_of_sample(x) : mulaw_encode(float(x), config.classes);
  }
  return codes;
}

std::vector<float> AudioDecoder::decode(std::span<const int> codes) {
  std::vector<float> samples(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    const double e = scalar_ ? sample_of_code(codes[i]) : mulaw_decode(codes[i], classes_);
    previous_ = preemphasis_ == 0 ? e : e + preemphasis_ * previous_;
    samples[i] = float(previous_);
  }
  return samples;
}

std::vector<float> decode_codes(const ModelConfig& config, std::span<const int> codes) {
  return AudioDecoder(config).decode(codes);
}

}  // namespace fastwave
