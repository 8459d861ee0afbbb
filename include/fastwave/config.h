// Model hyper-parameters: everything needed to know the shape of every tensor.
#pragma once

#include <string>

namespace fastwave {

struct ModelConfig {
  int blocks = 4;
  int layers_per_block = 10;
  int residual_channels = 32;
  int dilation_channels = 32;
  int skip_channels = 256;
  int end_channels = 256;
  int classes = 256;
  int kernel_size = 2;
  bool bias = false;  // biases on start, filter, gate, residual and skip convs
  int sample_rate = 16000;

  // Global conditioning: one learned embedding per speaker, projected into every layer.
  int speakers = 0;          // 0 disables global conditioning
  int global_channels = 0;   // embedding width
  // Local conditioning: one feature vector per frame of `local_hop` samples.
  int local_channels = 0;    // 0 disables local conditioning
  int local_hop = 0;

  int num_layers() const { return blocks * layers_per_block; }
  int dilation(int layer) const { return 1 << (layer % layers_per_block); }
  // Number of input samples that influence one output (pytorch-wavenet's definition).
  int receptive_field() const {
    return blocks * (kernel_size - 1) * ((1 << layers_per_block) - 1) + 1;
  }
  bool has_global() const { return speakers > 0; }
  bool has_local() const { return local_channels > 0; }

  // Throws fastwave::Error naming the first out-of-range field.
  void validate() const;

  std::string to_json() const;
  // Parses the JSON written by to_json(); unknown keys are rejected, missing keys keep defaults.
  static ModelConfig from_json(const std::string& json);
};

}  // namespace fastwave
