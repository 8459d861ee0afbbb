#include "engine/upsample.h"

#include <algorithm>
#include <string>

#include "fastwave/error.h"

namespace fastwave {

UpsampleWeights::UpsampleWeights(const Model& model) {
  const ModelConfig& c = model.config();
  if (c.upsample_conv_in) {
    const auto w = model.weights("upsample.conv_in.weight");
    conv_in.assign(w.begin(), w.end());
  }
  for (size_t i = 0; i < c.upsample_scales.size(); ++i) {
    const auto w = model.weights("upsample.convs." + std::to_string(i) + ".weight");
    convs.emplace_back(w.begin(), w.end());
  }
}

namespace {

// Channels-major planes: x[channel * length + t], so that time runs contiguously.
struct Plane {
  int channels = 0;
  int64_t length = 0;
  std::vector<float> values;
  float& at(int ch, int64_t t) { return values[size_t(ch) * length + t]; }
  float at(int ch, int64_t t) const { return values[size_t(ch) * length + t]; }
};

// Conv1d(local, local, 2*pad+1), no bias, over the frames with edge frames repeated.
Plane conv_in(const Plane& x, std::span<const float> w, int pad) {
  const int channels = x.channels, taps = 2 * pad + 1;
  Plane y{channels, x.length, std::vector<float>(size_t(channels) * x.length, 0.0f)};
  for (int out = 0; out < channels; ++out) {
    for (int in = 0; in < channels; ++in) {
      const float* row = &w[(size_t(out) * channels + in) * taps];
      for (int64_t t = 0; t < x.length; ++t) {
        float sum = 0;
        for (int j = 0; j < taps; ++j) sum += row[j] * x.at(in, std::clamp<int64_t>(t + j - pad, 0, x.length - 1));
        y.at(out, t) += sum;
      }
    }
  }
  return y;
}

// Nearest stretch of time by `scale`, then Conv2d(1, 1, (freq_kernel, 2*scale+1)) with
// zero padding (freq_kernel/2, scale), no bias: the output has the stretched length.
Plane stretch_and_smooth(const Plane& x, std::span<const float> w, int scale, int freq_kernel) {
  const int channels = x.channels, width = 2 * scale + 1, freq_pad = freq_kernel / 2;
  const int64_t length = x.length * scale;
  Plane y{channels, length, std::vector<float>(size_t(channels) * length, 0.0f)};
  for (int ch = 0; ch < channels; ++ch) {
    for (int a = 0; a < freq_kernel; ++a) {
      const int source = ch + a - freq_pad;
      if (source < 0 || source >= channels) continue;
      const float* row = &w[size_t(a) * width];
      for (int64_t t = 0; t < length; ++t) {
        float sum = 0;
        for (int b = 0; b < width; ++b) {
          const int64_t s = t + b - scale;  // a position of the stretched input
          if (s >= 0 && s < length) sum += row[b] * x.at(source, s / scale);
        }
        y.at(ch, t) += sum;
      }
    }
  }
  return y;
}

}  // namespace

std::vector<float> upsample_features(const ModelConfig& c, const UpsampleWeights& weights,
                                     std::span<const float> features, int frames) {
  const int channels = c.local_channels;
  if (frames < 1 || features.size() != size_t(frames) * channels) {
    throw Error("upsampling: features must be [frames, " + std::to_string(channels) + "]");
  }
  Plane x{channels, frames, std::vector<float>(features.size())};
  for (int f = 0; f < frames; ++f) {
    for (int ch = 0; ch < channels; ++ch) x.at(ch, f) = features[size_t(f) * channels + ch];
  }
  if (c.upsample_conv_in) x = conv_in(x, weights.conv_in, c.cin_pad);
  for (size_t i = 0; i < c.upsample_scales.size(); ++i) {
    x = stretch_and_smooth(x, weights.convs[i], c.upsample_scales[i], c.upsample_freq_kernel);
  }
  std::vector<float> out(size_t(x.length) * channels);
  for (int64_t t = 0; t < x.length; ++t) {
    for (int ch = 0; ch < channels; ++ch) out[size_t(t) * channels + ch] = x.at(ch, t);
  }
  return out;
}

}  // namespace fastwave
