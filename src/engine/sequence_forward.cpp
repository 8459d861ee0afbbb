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
  const int rs_width = res + c.skip_channels;
  auto ensure = [](std::vector<float>& v, int64_t n) { if (int64_t(v.size()) < n) v.resize(n); };
  ensure(x_, window * res);
  ensure(columns_, window * k * res);
  ensure(pre_, window * pre_width);
  ensure(z_, window * dil);
  ensure(residual_skip_, window * rs_width);
  ensure(skip_, outputs * c.skip_channels);
  ensure(hidden_, outputs * c.end_channels);
  std::fill(skip_.begin(), skip_.begin() + outputs * c.skip_channels, 0.0f);

  for (int64_t t = 0; t < window; ++t) {
    model_.start_row(ids[start + t], &x_[t * res]);
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
    const int64_t fresh = begin - start;  // rows before it are context, seen by an earlier run
    if (observer_) observer_(2 * n, columns_.data() + fresh * k * res, window - fresh, k * res);
    layer.filter_gate.apply(columns_.data(), k * res, int(window), pre_.data(), pre_width, kernels_);
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
    if (observer_) observer_(2 * n + 1, z_.data() + fresh * dil, window - fresh, dil);
    // Context rows feed only the residual stream; the skip rows are needed at the outputs.
    if (n + 1 < layers) {
      layer.residual_skip.apply_leading_rows(res, z_.data(), dil, int(fresh), residual_skip_.data(), rs_width,
                                             kernels_);
    }
    layer.residual_skip.apply(z_.data() + fresh * dil, dil, int(window - fresh), &residual_skip_[fresh * rs_width],
                              rs_width, kernels_);
    if (n + 1 < layers) {
      for (int64_t t = 0; t < window; ++t) {
        for (int i = 0; i < res; ++i) x_[t * res + i] += residual_skip_[t * rs_width + i];
      }
    }
    // Only the output positions need the skip sum.
    for (int64_t t = begin - start; t < window; ++t) {
      const float* part = &residual_skip_[t * rs_width + layer.skip_offset];
      float* skip = &skip_[(t - (begin - start)) * c.skip_channels];
      for (int i = 0; i < c.skip_channels; ++i) skip[i] += part[i];
    }
  }

  for (int64_t i = 0; i < outputs * c.skip_channels; ++i) skip_[i] = std::max(skip_[i], 0.0f);
  if (observer_) observer_(2 * layers, skip_.data(), outputs, c.skip_channels);
  model_.end1.apply(skip_.data(), c.skip_channels, int(outputs), hidden_.data(), c.end_channels, kernels_);
  for (int64_t i = 0; i < outputs * c.end_channels; ++i) hidden_[i] = std::max(hidden_[i], 0.0f);
  if (observer_) observer_(2 * layers + 1, hidden_.data(), outputs, c.end_channels);
  model_.end2.apply(hidden_.data(), c.end_channels, int(outputs), logits, c.outputs(), kernels_);
}

}  // namespace fastwave
