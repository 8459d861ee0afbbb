#include "engine/sequence_forward.h"

#include <algorithm>
#include <cstring>

namespace fastwave {

SequenceForward::SequenceForward(const PackedModel& model, const ConditioningTerms& conditioning,
                                 const kernels::KernelTable& kernels)
    : model_(model), conditioning_(conditioning), kernels_(kernels) {}

void SequenceForward::run(std::span<const int> ids, int64_t begin, int64_t end, float* logits) {
  const ModelConfig& c = model_.config;
  const int res = c.residual_channels, dil = c.dilation_channels, k = c.kernel_size;
  const int layers = c.num_layers(), pre_width = model_.pre_width();
  const int64_t start = std::max<int64_t>(0, begin - c.receptive_field() + 1);
  const int64_t window = end - start, outputs = end - begin;
  auto ensure = [](std::vector<float>& v, int64_t n) { if (int64_t(v.size()) < n) v.resize(n); };
  ensure(x_, window * res);
  ensure(columns_, window * k * res);
  ensure(pre_, window * pre_width);
  ensure(z_, window * dil);
  ensure(residual_out_, window * res);
  ensure(z_all_, outputs * layers * dil);
  ensure(skip_, outputs * c.skip_channels);
  ensure(hidden_, outputs * c.end_channels);

  for (int64_t t = 0; t < window; ++t) {
    std::memcpy(&x_[t * res], &model_.embedding[size_t(ids[start + t]) * res], res * sizeof(float));
  }
  // Conditioning rows for the frames this window touches.
  int64_t first_frame = 0;
  if (conditioning_.active()) {
    first_frame = conditioning_.frame_of(start);
    const int64_t frames = conditioning_.frame_of(end - 1) - first_frame + 1;
    ensure(cond_, frames * conditioning_.width());
    conditioning_.compute(first_frame, first_frame + frames, cond_.data());
  }

  for (int n = 0; n < layers; ++n) {
    const PackedLayer& layer = model_.layers[n];
    // im2col: tap j of position t reads x[t - (k-1-j)*d]; before the window it is zero
    // (exact at the sequence start; elsewhere those values cannot reach the outputs).
    for (int64_t t = 0; t < window; ++t) {
      float* row = &columns_[t * k * res];
      for (int j = 0; j < k; ++j) {
        const int64_t source = t - int64_t(k - 1 - j) * layer.dilation;
        const float* x = source < 0 ? nullptr : &x_[source * res];
        for (int c = 0; c < res; ++c) row[c * k + j] = x ? x[c] : 0.0f;
      }
    }
    kernels_.gemm_f32(layer.filter_gate.view(), columns_.data(), k * res, int(window), pre_.data(), pre_width);
    if (conditioning_.active()) {
      for (int64_t t = 0; t < window; ++t) {
        const float* term = &cond_[(conditioning_.frame_of(start + t) - first_frame) * conditioning_.width() +
                                   size_t(n) * pre_width];
        float* pre = &pre_[t * pre_width];
        for (int i = 0; i < pre_width; ++i) pre[i] += term[i];
      }
    }
    for (int64_t t = 0; t < window; ++t) {
      kernels_.gated_activation(&pre_[t * pre_width], dil, &z_[t * dil]);
    }
    for (int64_t t = begin - start; t < window; ++t) {
      std::memcpy(&z_all_[((t - (begin - start)) * layers + n) * dil], &z_[t * dil], dil * sizeof(float));
    }
    if (n + 1 < layers) {
      kernels_.gemm_f32(layer.residual.view(), z_.data(), dil, int(window), residual_out_.data(), res);
      for (int64_t i = 0; i < window * res; ++i) x_[i] += residual_out_[i];
    }
  }

  kernels_.gemm_f32(model_.skip_all.view(), z_all_.data(), layers * dil, int(outputs), skip_.data(), c.skip_channels);
  for (int64_t i = 0; i < outputs * c.skip_channels; ++i) skip_[i] = std::max(skip_[i], 0.0f);
  kernels_.gemm_f32(model_.end1.view(), skip_.data(), c.skip_channels, int(outputs), hidden_.data(), c.end_channels);
  for (int64_t i = 0; i < outputs * c.end_channels; ++i) hidden_[i] = std::max(hidden_[i], 0.0f);
  kernels_.gemm_f32(model_.end2.view(), hidden_.data(), c.end_channels, int(outputs), logits, c.classes);
}

}  // namespace fastwave
