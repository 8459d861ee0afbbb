#include "engine/upsample.h"

#include <algorithm>
#include <string>

#include "fastwave/error.h"
#include "fastwave/memory.h"
#include "fastwave/vocoder.h"

namespace fastwave {
namespace {

// The polyphase taps of a stretch-by-`scale` conv [freq_kernel][2*scale+1]: tap b of
// output r reads stretched position r + b - scale, which is in input frame
// floor((r + b - scale) / scale), one of -1, 0, +1 relative to the output's frame.
std::vector<float> polyphase(std::span<const float> w, int scale, int freq_kernel) {
  const int width = 2 * scale + 1;
  std::vector<float> taps(size_t(freq_kernel) * scale * 3, 0.0f);
  for (int a = 0; a < freq_kernel; ++a) {
    for (int r = 0; r < scale; ++r) {
      for (int b = 0; b < width; ++b) {
        const int u = r + b - scale;  // in [-scale, 2*scale - 1]
        const int frame = u < 0 ? -1 : u / scale;
        taps[(size_t(a) * scale + r) * 3 + size_t(frame + 1)] += w[size_t(a) * width + b];
      }
    }
  }
  return taps;
}

// Conv1d(local, local, 2*pad+1), no bias, over channel-major frames with edge frames
// repeated. Time runs innermost, on padded copies of the rows, without branches.
std::vector<float> conv_in(const std::vector<float>& x, int channels, int64_t length, std::span<const float> w,
                           int pad) {
  const int taps = 2 * pad + 1;
  const int64_t padded_length = length + 2 * pad;
  std::vector<float> padded(size_t(channels) * padded_length);
  for (int ch = 0; ch < channels; ++ch) {
    for (int64_t t = 0; t < padded_length; ++t) {
      padded[size_t(ch) * padded_length + t] = x[size_t(ch) * length + std::clamp<int64_t>(t - pad, 0, length - 1)];
    }
  }
  std::vector<float> y(size_t(channels) * length, 0.0f);
  for (int out = 0; out < channels; ++out) {
    float* sum = &y[size_t(out) * length];
    for (int in = 0; in < channels; ++in) {
      for (int j = 0; j < taps; ++j) {
        const float weight = w[(size_t(out) * channels + in) * taps + j];
        const float* source = &padded[size_t(in) * padded_length + j];
        for (int64_t t = 0; t < length; ++t) sum[t] += weight * source[t];
      }
    }
  }
  return y;
}

// A ConvTranspose2d(1, 1, (freq_kernel, scale), stride (1, scale), padding (freq_kernel/2, 0))
// as polyphase taps: output f*scale + r reads only frame f, input channel ch + p - a through
// w[a][r], which is the regular conv's ch + a' - p with a' = freq_kernel - 1 - a.
std::vector<float> transposed_polyphase(std::span<const float> w, int scale, int freq_kernel) {
  std::vector<float> taps(size_t(freq_kernel) * scale * 3, 0.0f);
  for (int a = 0; a < freq_kernel; ++a) {
    for (int r = 0; r < scale; ++r) taps[(size_t(a) * scale + r) * 3 + 1] = w[size_t(freq_kernel - 1 - a) * scale + r];
  }
  return taps;
}

// One output of a stage: frame f, phase r, channel ch of a channel-major input of
// `length` frames (zero beyond its channels and frames); a transposed stage adds its bias
// and takes the ReLU.
float stage_output(const std::vector<float>& x, int channels, int64_t length, const std::vector<float>& taps,
                   int scale, int freq_kernel, int ch, int64_t f, int r, const float* bias) {
  float sum = bias ? *bias : 0.0f;
  for (int a = 0; a < freq_kernel; ++a) {
    const int source = ch + a - freq_kernel / 2;
    if (source < 0 || source >= channels) continue;
    const float* row = &x[size_t(source) * length];
    const float* tap = &taps[(size_t(a) * scale + r) * 3];
    if (f > 0) sum += tap[0] * row[f - 1];
    sum += tap[1] * row[f];
    if (f + 1 < length) sum += tap[2] * row[f + 1];
  }
  return bias ? std::max(sum, 0.0f) : sum;
}

// A whole stage, channel-major in and out.
std::vector<float> stage(const std::vector<float>& x, int channels, int64_t length, const std::vector<float>& taps,
                         int scale, int freq_kernel, const float* bias) {
  std::vector<float> y(size_t(channels) * length * scale);
  for (int ch = 0; ch < channels; ++ch) {
    float* out = &y[size_t(ch) * length * scale];
    for (int64_t f = 0; f < length; ++f) {
      for (int r = 0; r < scale; ++r) out[f * scale + r] = stage_output(x, channels, length, taps, scale, freq_kernel, ch, f, r, bias);
    }
  }
  return y;
}

}  // namespace

UpsampleWeights::UpsampleWeights(const Model& model) {
  const ModelConfig& c = model.config();
  if (c.upsample_conv_in) {
    const auto w = model.weights("upsample.conv_in.weight");
    conv_in.assign(w.begin(), w.end());
  }
  for (size_t i = 0; i < c.upsample_scales.size(); ++i) {
    const std::string name = "upsample.convs." + std::to_string(i);
    if (c.upsample_transposed) {
      stages.push_back(transposed_polyphase(model.weights(name + ".weight"), c.upsample_scales[i], c.upsample_freq_kernel));
      stage_bias.push_back(model.weights(name + ".bias")[0]);
    } else {
      stages.push_back(polyphase(model.weights(name + ".weight"), c.upsample_scales[i], c.upsample_freq_kernel));
    }
  }
}

Upsampler::Upsampler(const ModelConfig& c, const UpsampleWeights& weights, std::span<const float> features,
                     int frames)
    : config_(c), last_(weights.stages.back()), weights_(weights) {
  const int channels = c.local_channels;
  if (frames < 1 || features.size() != size_t(frames) * channels) {
    throw Error("upsampling: features must be [frames, " + std::to_string(channels) + "]");
  }
  // The two largest planes (the last stage's input and the one it is made from) exist at
  // once; a long utterance is refused in one line rather than exhausting memory.
  uint64_t previous = uint64_t(frames), largest = uint64_t(frames);
  for (size_t i = 0; i + 1 < c.upsample_scales.size(); ++i) {
    previous = largest;
    largest *= uint64_t(c.upsample_scales[i]);
  }
  check_memory((previous + largest) * uint64_t(channels) * sizeof(float), "upsampling these local features");
  plane_.resize(features.size());
  for (int f = 0; f < frames; ++f) {
    for (int ch = 0; ch < channels; ++ch) plane_[size_t(ch) * frames + f] = features[size_t(f) * channels + ch];
  }
  plane_length_ = frames;
  if (c.upsample_conv_in) plane_ = conv_in(plane_, channels, plane_length_, weights.conv_in, c.cin_pad);
  for (size_t i = 0; i + 1 < c.upsample_scales.size(); ++i) {
    plane_ = stage(plane_, channels, plane_length_, weights.stages[i], c.upsample_scales[i], c.upsample_freq_kernel,
                   weights.stage_bias.empty() ? nullptr : &weights.stage_bias[i]);
    plane_length_ *= c.upsample_scales[i];
  }
  samples_ = plane_length_ * c.upsample_scales.back();
}

void Upsampler::rows(int64_t t0, int64_t t1, float* out) const {
  const int channels = config_.local_channels, scale = config_.upsample_scales.back();
  for (int64_t t = t0; t < t1; ++t) {
    for (int ch = 0; ch < channels; ++ch) {
      *out++ = stage_output(plane_, channels, plane_length_, last_, scale, config_.upsample_freq_kernel, ch,
                            t / scale, int(t % scale), weights_.stage_bias.empty() ? nullptr : &weights_.stage_bias.back());
    }
  }
}

bool Upsampler::can_map_first() const { return config_.upsample_freq_kernel == 1 && !config_.upsample_transposed; }

void Upsampler::mapped_rows(int64_t t0, int64_t t1, int width, const LinearMap& map, float* out) const {
  const int channels = config_.local_channels, scale = config_.upsample_scales.back();
  // The last stage's input rows that outputs [t0, t1) reach: one frame either side.
  const int64_t g0 = std::max<int64_t>(0, t0 / scale - 1), g1 = std::min(plane_length_, (t1 - 1) / scale + 2);
  std::vector<float> inputs(size_t(g1 - g0) * channels), mapped(size_t(g1 - g0) * width);
  for (int ch = 0; ch < channels; ++ch) {
    for (int64_t g = g0; g < g1; ++g) inputs[size_t(g - g0) * channels + ch] = plane_[size_t(ch) * plane_length_ + g];
  }
  map(inputs.data(), g1 - g0, mapped.data());
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t f = t / scale;
    const float* tap = &last_[size_t(t % scale) * 3];
    float* row = out + size_t(t - t0) * width;
    std::fill(row, row + width, 0.0f);
    for (int k = 0; k < 3; ++k) {  // frames f-1, f, f+1 in order, as stage_output sums them
      const int64_t g = f + k - 1;
      if (g < 0 || g >= plane_length_) continue;
      const float* source = &mapped[size_t(g - g0) * width];
      for (int i = 0; i < width; ++i) row[i] += tap[k] * source[i];
    }
  }
}

int lookahead_frames(const ModelConfig& c) {
  if (!c.has_upsampling()) return 0;
  // Each stage reads one input step either side, at most a frame; conv_in cin_pad frames.
  return int(c.upsample_scales.size()) + (c.upsample_conv_in ? c.cin_pad : 0);
}

std::vector<float> upsample_features(const ModelConfig& config, const UpsampleWeights& weights,
                                     std::span<const float> features, int frames) {
  const Upsampler upsampler(config, weights, features, frames);
  std::vector<float> out(size_t(upsampler.samples()) * config.local_channels);
  upsampler.rows(0, upsampler.samples(), out.data());
  return out;
}

}  // namespace fastwave
