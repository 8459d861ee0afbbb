#include "engine/packed_model.h"

#include <algorithm>

#include "fastwave/error.h"

namespace fastwave {
namespace {

using kernels::PackedMatrix;

std::span<const float> optional_bias(const Model& model, const std::string& name) {
  return model.config().bias ? model.weights(name) : std::span<const float>{};
}

// Stacks per-layer 1x1 filter and gate projections [dil, in, 1] into [layers*2*dil, in].
PackedMatrix stack_projections(const Model& model, const std::string& filter, const std::string& gate, int in) {
  const ModelConfig& c = model.config();
  std::vector<float> rows;
  rows.reserve(size_t(c.num_layers()) * 2 * c.dilation_channels * in);
  for (int n = 0; n < c.num_layers(); ++n) {
    for (const auto& prefix : {filter, gate}) {
      const auto w = model.weights(prefix + "." + std::to_string(n) + ".weight");
      rows.insert(rows.end(), w.begin(), w.end());
    }
  }
  return PackedMatrix(c.num_layers() * 2 * c.dilation_channels, in, rows, {});
}

}  // namespace

PackedModel::PackedModel(const Model& model) : config(model.config()) {
  const ModelConfig& c = config;
  const int res = c.residual_channels, dil = c.dilation_channels, k = c.kernel_size;

  const auto start = model.weights("start_conv.weight");  // [res, classes, 1]
  const auto start_bias = optional_bias(model, "start_conv.bias");
  embedding.resize(size_t(c.classes) * res);
  for (int id = 0; id < c.classes; ++id) {
    for (int r = 0; r < res; ++r) {
      embedding[size_t(id) * res + r] = start[size_t(r) * c.classes + id] + (start_bias.empty() ? 0.0f : start_bias[r]);
    }
  }

  std::vector<float> skip_rows(size_t(c.skip_channels) * c.num_layers() * dil);
  std::vector<float> skip_bias(c.skip_channels, 0.0f);
  for (int n = 0; n < c.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".";
    PackedLayer layer;
    layer.dilation = c.dilation(n);
    // The rows of [dil, res, k] conv weights are already in im2col column order.
    std::vector<float> fg, fg_bias;
    for (const std::string name : {"filter_convs", "gate_convs"}) {
      const auto w = model.weights(name + i + "weight");
      fg.insert(fg.end(), w.begin(), w.end());
      const auto b = optional_bias(model, name + i + "bias");
      fg_bias.insert(fg_bias.end(), b.begin(), b.end());
    }
    layer.filter_gate = PackedMatrix(2 * dil, k * res, fg, fg_bias);
    layer.residual = PackedMatrix(res, dil, model.weights("residual_convs" + i + "weight"),
                                  optional_bias(model, "residual_convs" + i + "bias"));
    const auto skip = model.weights("skip_convs" + i + "weight");  // [skip, dil, 1]
    for (int s = 0; s < c.skip_channels; ++s) {
      for (int d = 0; d < dil; ++d) {
        skip_rows[size_t(s) * c.num_layers() * dil + size_t(n) * dil + d] = skip[size_t(s) * dil + d];
      }
    }
    const auto sb = optional_bias(model, "skip_convs" + i + "bias");
    for (size_t s = 0; s < sb.size(); ++s) skip_bias[s] += sb[s];
    layers.push_back(std::move(layer));
  }
  skip_all = PackedMatrix(c.skip_channels, c.num_layers() * dil, skip_rows, skip_bias);
  end1 = PackedMatrix(c.end_channels, c.skip_channels, model.weights("end_conv_1.weight"),
                      model.weights("end_conv_1.bias"));
  end2 = PackedMatrix(c.classes, c.end_channels, model.weights("end_conv_2.weight"),
                      model.weights("end_conv_2.bias"));
  if (c.has_global()) {
    const auto e = model.weights("global_embedding.weight");
    global_embedding.assign(e.begin(), e.end());
    global_proj = stack_projections(model, "global_filter_convs", "global_gate_convs", c.global_channels);
  }
  if (c.has_local()) {
    local_proj = stack_projections(model, "local_filter_convs", "local_gate_convs", c.local_channels);
  }
}

size_t PackedModel::weight_bytes() const {
  size_t bytes = embedding.size() * sizeof(float) + skip_all.weight_bytes() + end1.weight_bytes() +
                 end2.weight_bytes();
  for (const auto& l : layers) bytes += l.filter_gate.weight_bytes() + l.residual.weight_bytes();
  return bytes;
}

ConditioningTerms::ConditioningTerms(const PackedModel& model, const Conditioning& conditioning,
                                     const kernels::KernelTable& kernels)
    : model_(model), conditioning_(conditioning), kernels_(kernels) {
  const ModelConfig& c = model.config;
  conditioning.check(c);
  active_ = c.has_global() || c.has_local();
  width_ = c.num_layers() * model.pre_width();
  hop_ = c.has_local() ? c.local_hop : 0;
  if (c.has_global()) {
    global_row_.resize(width_);
    const float* e = model.global_embedding.data() + size_t(conditioning.speaker) * c.global_channels;
    kernels.gemm_f32(model.global_proj.view(), e, c.global_channels, 1,
                                       global_row_.data(), width_);
  }
}

void ConditioningTerms::compute(int64_t f0, int64_t f1, float* out) const {
  const ModelConfig& c = model_.config;
  const int64_t rows = f1 - f0;
  if (c.has_local()) {
    kernels_.gemm_f32(model_.local_proj.view(), conditioning_.local_features.data() + f0 * c.local_channels,
               c.local_channels, static_cast<int>(rows), out, width_);
  } else {
    std::fill(out, out + rows * width_, 0.0f);
  }
  if (c.has_global()) {
    for (int64_t f = 0; f < rows; ++f) {
      for (int i = 0; i < width_; ++i) out[f * width_ + i] += global_row_[i];
    }
  }
}

}  // namespace fastwave
