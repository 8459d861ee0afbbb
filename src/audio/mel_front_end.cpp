#include <string>

#include "fastwave/error.h"
#include "fastwave/vocoder.h"

namespace fastwave {

ModelConfig default_vocoder_config() {
  ModelConfig c;
  c.blocks = 2;
  c.layers_per_block = 10;
  c.residual_channels = 64;
  c.dilation_channels = 64;
  c.skip_channels = 64;
  c.end_channels = 64;
  c.kernel_size = 3;
  c.local_channels = 80;
  c.local_hop = 256;
  c.upsample_scales = {4, 4, 4, 4};
  c.upsample_conv_in = true;
  c.cin_pad = 2;
  c.local_mel = ModelConfig::LocalMel{};
  c.local_mel->min_hz = 55;
  c.local_mel->max_hz = 7600;
  return c;
}

MelOptions MelFrontEnd::options_of(const ModelConfig& config) {
  if (!config.local_mel) throw Error("the model records no mel front end (local_mel): it is not a vocoder");
  const ModelConfig::LocalMel& m = *config.local_mel;
  MelOptions o;
  o.sample_rate = config.sample_rate;
  o.fft_size = m.fft_size;
  o.hop = config.local_hop;
  o.mels = config.local_channels;
  o.min_hz = m.min_hz;
  o.max_hz = m.max_hz;
  o.floor_db = m.min_db;
  o.centered = true;
  return o;
}

MelFrontEnd::MelFrontEnd(const ModelConfig& config)
    : mel_(options_of(config)),
      bands_(config.local_channels),
      min_db_(config.local_mel->min_db),
      max_db_(config.local_mel->max_db) {}

std::vector<float> MelFrontEnd::compute(std::span<const float> audio) const {
  std::vector<float> features = mel_.compute(audio);
  const double scale = 1.0 / (max_db_ - min_db_);
  for (float& v : features) v = float((v - min_db_) * scale);
  return features;
}

}  // namespace fastwave
