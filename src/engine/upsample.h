// The upsampling network of local features (r9y9's wavenet_vocoder UpsampleNetwork, with
// its optional conv_in): frames in, one feature vector per sample out. Plain scalar code.
//
// A stage (nearest stretch by s, then a conv 2s+1 wide) is computed in its polyphase
// form: output f*s + r only ever sees input frames f-1, f and f+1, each through the sum
// of the conv taps that land on it, so a stage costs 3 multiply-adds per output and
// frequency tap instead of 2s+1, and needs no stretched copy.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "fastwave/model.h"

namespace fastwave {

struct UpsampleWeights {
  explicit UpsampleWeights(const Model& model);  // empty without upsample_scales

  std::vector<float> conv_in;  // [local, local, 2*cin_pad+1], empty without conv_in
  // Per stage, polyphase taps [freq_kernel][scale][3]: the weights on input frames f-1, f,
  // f+1 of output f*scale + r.
  std::vector<std::vector<float>> stages;
  // Transposed stages (upsample_transposed): each output gets its stage's bias, then a
  // ReLU. Empty otherwise.
  std::vector<float> stage_bias;
};

// The features of one utterance, upsampled. Everything but the last stage runs at
// construction (channel-major, C x samples / last scale floats); the last stage runs for
// the rows asked for, so the per-sample features are never all held at once.
class Upsampler {
 public:
  // `features` [frames][local_channels]. With conv_in, the first and last frames are
  // repeated cin_pad times to give the edges context.
  Upsampler(const ModelConfig& config, const UpsampleWeights& weights, std::span<const float> features,
            int frames);

  int64_t samples() const { return samples_; }
  // Rows [t0, t1) as [t1 - t0][local_channels].
  void rows(int64_t t0, int64_t t1, float* out) const;

  // With upsample_freq_kernel 1 (and no bias and ReLU) the last stage treats every channel
  // alike, so it commutes with a linear map of the channels: the map can run on the last stage's input (one row
  // per `scale` samples) and the stage on its `width` outputs, 3 multiply-adds each. For
  // the per-sample local projection that is about `scale` times fewer multiply-adds.
  bool can_map_first() const;
  // Rows [t0, t1) of map(features) as [t1 - t0][width]; `map` takes `count` rows of
  // [local_channels] to [count][width] and must be linear (no bias).
  using LinearMap = std::function<void(const float* rows, int64_t count, float* out)>;
  void mapped_rows(int64_t t0, int64_t t1, int width, const LinearMap& map, float* out) const;

 private:
  const ModelConfig& config_;
  const std::vector<float>& last_;  // polyphase taps of the last stage
  const UpsampleWeights& weights_;
  int64_t samples_ = 0;
  std::vector<float> plane_;  // [local_channels][samples / last scale], the last stage's input
  int64_t plane_length_ = 0;
};

// All rows at once, [frames*local_hop][local_channels] (for tests and small inputs).
std::vector<float> upsample_features(const ModelConfig& config, const UpsampleWeights& weights,
                                     std::span<const float> features, int frames);

}  // namespace fastwave
