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
  // from torch's global generator; upsampling convs start as moving averages (as r9y9's).
  explicit NetImpl(const ModelConfig& config);

  // Local features per sample from frames [B, local_channels, F]: the upsampling network
  // (exactly the engine's, src/engine/upsample.cpp) or each frame repeated local_hop
  // times. Returns [B, local_channels, F * local_hop].
  torch::Tensor upsample(const torch::Tensor& frames);

  // ids: [B, T] int64 µ-law ids; speakers: [B] int64, or undefined without global
  // conditioning; local: [B, local_channels, T] per-sample features aligned with ids (what
  // the engine adds at each position), or undefined without local conditioning. Returns
  // logits [B, classes, positions]; column j predicts the id after the input position it
  // ends at.
  //  - causal=false ("valid", for training): positions = T - receptive_field + 1, the last
  //    ones, each seeing a full receptive field, so no padding is ever computed.
  //  - causal=true: positions = T, with zero activations before time 0, exactly what
  //    fastwave::teacher_forced_logits computes.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& speakers,
                        bool causal = false, const torch::Tensor& local = {});

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
  std::vector<torch::nn::Conv1d> local_filter_convs, local_gate_convs;
  torch::nn::Conv1d upsample_conv_in{nullptr};
  std::vector<torch::nn::Conv2d> upsample_convs;
  std::vector<torch::nn::ConvTranspose2d> upsample_transposed_convs;  // upsample_transposed
};
TORCH_MODULE(Net);

// Per-sample features [1, local_channels, count] for samples start .. start+count-1 of a
// sequence with log-mel `mel` [frames][local_channels] (zeros before sample 0), through
// net's trainable upsampling network. Only the frames within the network's reach are
// upsampled, yet the values are exactly those of upsampling the whole sequence (what the
// engine does), which the tests check.
torch::Tensor crop_features(Net& net, const std::vector<float>& mel, int64_t start, int64_t count);

// -ln P(target) at every position, [B, T], from outputs [B, config.outputs(), T] and target
// codes [B, T]: the engine's code_nll_bits (in nats), as a differentiable loss.
torch::Tensor output_nll(const ModelConfig& config, const torch::Tensor& outputs, const torch::Tensor& targets);

}  // namespace fastwave::train
