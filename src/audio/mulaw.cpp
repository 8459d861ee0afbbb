// µ-law companding with µ = classes - 1 (docs/model-format.md).
#include <algorithm>
#include <cmath>

#include "fastwave/audio.h"

namespace fastwave {

int mulaw_encode(float x, int classes) {
  const double mu = classes - 1;
  const double clipped = std::clamp(double(x), -1.0, 1.0);
  const double y = std::copysign(std::log1p(mu * std::fabs(clipped)) / std::log1p(mu), clipped);
  return std::clamp(static_cast<int>(std::floor((y + 1.0) / 2.0 * mu + 0.5)), 0, classes - 1);
}

float mulaw_decode(int id, int classes) {
  const double mu = classes - 1;
  const double y = 2.0 * id / mu - 1.0;
  return static_cast<float>(std::copysign(std::expm1(std::fabs(y) * std::log1p(mu)) / mu, y));
}

std::vector<int> mulaw_encode(std::span<const float> samples, int classes) {
  std::vector<int> ids(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) ids[i] = mulaw_encode(samples[i], classes);
  return ids;
}

std::vector<float> mulaw_decode(std::span<const int> ids, int classes) {
  std::vector<float> samples(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) samples[i] = mulaw_decode(ids[i], classes);
  return samples;
}

}  // namespace fastwave
