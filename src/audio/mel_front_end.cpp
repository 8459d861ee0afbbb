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
  o.magnitude = m.spectrum == "magnitude";
  o.slaney_scale = m.mel_scale == "slaney";
  o.slaney_norm = m.filter_norm == "slaney";
  o.reflect = m.pad == "reflect";
  o.librosa_frames = m.framing == "librosa";
  o.log10 = m.log == "log10";
  return o;
}

MelFrontEnd::MelFrontEnd(const ModelConfig& config)
    : mel_(options_of(config)),
      bands_(config.local_channels),
      min_db_(config.local_mel->min_db),
      max_db_(config.local_mel->max_db),
      log10_(config.local_mel->log == "log10"),
      mean_(config.local_mel->mean),
      std_(config.local_mel->std) {
  if (mean_.size() != std_.size() || (!mean_.empty() && int(mean_.size()) != bands_)) {
    throw Error("local_mel: mean and std need one entry per band");
  }
}

std::vector<float> MelFrontEnd::compute(std::span<const float> audio) const {
  std::vector<float> features = mel_.compute(audio);
  if (!log10_) {
    const double scale = 1.0 / (max_db_ - min_db_);
    for (float& v : features) v = float((v - min_db_) * scale);
  }
  if (!mean_.empty()) {
    for (size_t i = 0; i < features.size(); ++i) {
      const size_t band = i % size_t(bands_);
      features[i] = float((double(features[i]) - mean_[band]) / std_[band]);
    }
  }
  return features;
}

std::vector<float> MelFrontEnd::features_of(std::vector<float>& audio) const {
  const size_t whole = size_t(frames(int64_t(audio.size())) * hop());
  if (whole < audio.size()) audio.resize(whole);
  std::vector<float> features = compute(audio);
  audio.resize(whole);
  return features;
}

}  // namespace fastwave
