// Fast generation (Paine et al. 2016): each layer keeps a ring buffer of its last
// (kernel_size-1)*dilation+1 inputs, so a new sample costs one GEMV per conv.
#include <algorithm>
#include <cstring>

#include "engine/generators.h"
#include "engine/packed_model.h"

namespace fastwave {
namespace {

class FastGenerator final : public Generator {
 public:
  FastGenerator(const Model& model, const Conditioning& conditioning, const kernels::KernelTable& kernels)
      : model_(model),
        conditioning_(conditioning),
        kernels_(kernels),
        terms_(model_, conditioning_) {
    const ModelConfig& c = model_.config;
    const int res = c.residual_channels, dil = c.dilation_channels;
    for (const auto& layer : model_.layers) {
      rings_.emplace_back(size_t((c.kernel_size - 1) * layer.dilation + 1) * res);
    }
    x_.resize(res);
    residual_skip_.resize(res + c.skip_channels);
    z_.resize(dil);
    columns_.resize(size_t(c.kernel_size) * res);
    pre_.resize(model_.pre_width());
    skip_.resize(c.skip_channels);
    hidden_.resize(c.end_channels);
    logits_.resize(c.classes);
    cond_.resize(terms_.active() ? terms_.width() : 0);
    reset();
  }

  void reset() override {
    // Zeroed rings are the causal zero padding: slots not yet written read as zero.
    for (auto& ring : rings_) std::fill(ring.begin(), ring.end(), 0.0f);
    heads_.assign(rings_.size(), 0);
    position_ = 0;
    cond_frame_ = -1;
  }

  std::span<const float> push(int id) override {
    const ModelConfig& c = model_.config;
    check_push(c, conditioning_, id, position_);
    const int res = c.residual_channels, dil = c.dilation_channels, k = c.kernel_size;
    const int layers = c.num_layers(), pre_width = model_.pre_width();
    if (terms_.active() && terms_.frame_of(position_) != cond_frame_) {
      cond_frame_ = terms_.frame_of(position_);
      terms_.compute(cond_frame_, cond_frame_ + 1, cond_.data());
    }
    std::memcpy(x_.data(), &model_.embedding[size_t(id) * res], res * sizeof(float));

    for (int n = 0; n < layers; ++n) {
      const PackedLayer& layer = model_.layers[n];
      std::vector<float>& ring = rings_[n];
      const int slots = static_cast<int>(ring.size()) / res;
      const int head = heads_[n];
      std::memcpy(&ring[size_t(head) * res], x_.data(), res * sizeof(float));
      for (int j = 0; j < k; ++j) {
        int slot = head - (k - 1 - j) * layer.dilation;
        if (slot < 0) slot += slots;
        const float* x = &ring[size_t(slot) * res];
        for (int ch = 0; ch < res; ++ch) columns_[size_t(ch) * k + j] = x[ch];
      }
      layer.filter_gate.apply(columns_.data(), k * res, 1, pre_.data(), pre_width, kernels_);
      if (terms_.active()) {
        const float* term = &cond_[size_t(n) * pre_width];
        for (int i = 0; i < pre_width; ++i) pre_[i] += term[i];
      }
      heads_[n] = head + 1 == slots ? 0 : head + 1;
      kernels_.gated_activation(pre_.data(), dil, z_.data());
      layer.residual_skip.apply(z_.data(), dil, 1, residual_skip_.data(), res + c.skip_channels, kernels_);
      if (n + 1 < layers) {  // the last layer has no residual rows
        for (int i = 0; i < res; ++i) x_[i] += residual_skip_[i];
      }
      const float* part = &residual_skip_[layer.skip_offset];
      if (n == 0) {
        std::copy(part, part + c.skip_channels, skip_.begin());
      } else {
        for (int i = 0; i < c.skip_channels; ++i) skip_[i] += part[i];
      }
    }

    for (float& v : skip_) v = std::max(v, 0.0f);
    model_.end1.apply(skip_.data(), c.skip_channels, 1, hidden_.data(), c.end_channels, kernels_);
    for (float& v : hidden_) v = std::max(v, 0.0f);
    model_.end2.apply(hidden_.data(), c.end_channels, 1, logits_.data(), c.classes, kernels_);
    ++position_;
    return logits_;
  }

  int64_t position() const override { return position_; }

 private:
  PackedModel model_;
  Conditioning conditioning_;
  const kernels::KernelTable& kernels_;
  ConditioningTerms terms_;
  std::vector<std::vector<float>> rings_;
  std::vector<int> heads_;  // per layer, the ring slot of the current position
  std::vector<float> x_, residual_skip_, z_, columns_, pre_, skip_, hidden_, logits_, cond_;
  int64_t position_ = 0;
  int64_t cond_frame_ = -1;
};

}  // namespace

std::unique_ptr<Generator> make_fast_generator(const Model& model, const Conditioning& conditioning,
                                               const kernels::KernelTable& kernels) {
  return std::make_unique<FastGenerator>(model, conditioning, kernels);
}

}  // namespace fastwave
