// The upsampling network of local features (r9y9's wavenet_vocoder UpsampleNetwork, with
// its optional conv_in): frames in, one feature vector per sample out. It runs once per
// utterance, so it is plain scalar code.
#pragma once

#include <span>
#include <vector>

#include "fastwave/model.h"

namespace fastwave {

struct UpsampleWeights {
  explicit UpsampleWeights(const Model& model);  // empty without upsample_scales

  std::vector<float> conv_in;             // [local, local, 2*cin_pad+1], empty without conv_in
  std::vector<std::vector<float>> convs;  // per stage: [freq_kernel][2*scale+1]
};

// [frames][local_channels] -> [frames*local_hop][local_channels]. With conv_in, the first
// and last frames are repeated cin_pad times to give the edges their context.
std::vector<float> upsample_features(const ModelConfig& config, const UpsampleWeights& weights,
                                     std::span<const float> features, int frames);

}  // namespace fastwave
