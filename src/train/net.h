// The trainable WaveNet: exactly the engine's network (docs/model-format.md) with the
// file's tensor names as parameter names, so exporting is copying tensors.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "fastwave/config.h"
#include "fastwave/model.h"

namespace fastwave::train {

class NetImpl : public torch::nn::Module {
 public:
  // Initialised like PyTorch's Conv1d/Embedding defaults (as pytorch-wavenet is), drawn
  // from torch's global generator. Local conditioning is not trainable here.
  explicit NetImpl(const ModelConfig& config);

  // ids: [B, T] int64 µ-law ids; speakers: [B] int64, or undefined without global
  // conditioning. Returns logits [B, classes, positions]; column j predicts the id after
  // the input position it ends at.
  //  - causal=false ("valid", for training): positions = T - receptive_field + 1, the last
  //    ones, each seeing a full receptive field, so no padding is ever computed.
  //  - causal=true: positions = T, with zero activations before time 0, exactly what
  //    fastwave::teacher_forced_logits computes.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& speakers,
                        bool causal = false);

  const ModelConfig& config() const { return config_; }
  // Copies every parameter into a fastwave::Model (which checks names and shapes).
  Model to_model() const;
  // Copies a float model's tensors into the parameters (same config); throws
  // fastwave::Error for a quantized model or a config that differs.
  void load_from(const Model& model);

 private:
  ModelConfig config_;
  torch::nn::Conv1d start_conv{nullptr}, end_conv_1{nullptr}, end_conv_2{nullptr};
  std::vector<torch::nn::Conv1d> filter_convs, gate_convs, residual_convs, skip_convs;
  torch::nn::Embedding global_embedding{nullptr};
  std::vector<torch::nn::Conv1d> global_filter_convs, global_gate_convs;
};
TORCH_MODULE(Net);

}  // namespace fastwave::train
