#include "engine/packed_model.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "fastwave/distribution.h"
#include "fastwave/error.h"
#include "fastwave/vocoder.h"
#include "quant/weight_formats.h"

namespace fastwave {
namespace {

using kernels::Linear;
using kernels::MatrixRows;
using kernels::PackedMatrix;

// A weight as floats: where the model holds it when stored as F32, else dequantized into
// `storage` (weight-only schemes).
std::span<const float> float_weights(const Model& model, const std::string& name, std::vector<float>& storage) {
  if (model.scheme_of(name).scheme == Scheme::kF32) return model.weights(name);
  storage = model.dequantized(name);
  return storage;
}

// The biases of stacked matrices, one value per row, or no rows without biases.
MatrixRows<float> stacked_bias(const Model& model, const std::vector<std::string>& names) {
  if (!model.config().bias) return {};
  std::vector<std::span<const float>> blocks;
  for (const auto& name : names) blocks.push_back(model.weights(name));
  return MatrixRows<float>(1, std::move(blocks));
}

// Stacks per-layer 1x1 filter and gate projections [dil, in, 1] into [layers*2*dil, in].
PackedMatrix stack_projections(const Model& model, const std::string& filter, const std::string& gate, int in) {
  const ModelConfig& c = model.config();
  std::vector<std::vector<float>> dequantized(size_t(c.num_layers()) * 2);
  std::vector<std::span<const float>> blocks;
  for (int n = 0; n < c.num_layers(); ++n) {
    for (const auto& prefix : {filter, gate}) {
      blocks.push_back(float_weights(model, prefix + "." + std::to_string(n) + ".weight", dequantized[blocks.size()]));
    }
  }
  return PackedMatrix(MatrixRows<float>(in, std::move(blocks)), {});
}

// y[n] = W x[n] + bias for `count` rows, each output summed over the columns in order, in
// float, four outputs per SSE vector (GCC vector extensions, baseline x86-64: no FMA to
// contract into). Each lane's order is fixed, so the terms are the same bits on every ISA,
// like the reference GEMM's, at SIMD speed: with upsampling the projection runs for every
// sample, not once per frame.
void project_rows(const PackedMatrix& w, const float* x, int ldx, int64_t count, float* y, int ldy) {
  using kernels::kPanelRows;
  using Lanes = float __attribute__((vector_size(16)));
  constexpr int kVectors = kPanelRows / 4;
  for (int p = 0; p < w.panels(); ++p) {
    const float* panel = w.panel(p);
    const int first = p * kPanelRows, rows = std::min(kPanelRows, w.rows() - first);
    for (int64_t n = 0; n < count; ++n) {
      Lanes sum[kVectors] = {};
      const float* column = x + size_t(n) * ldx;
      for (int c = 0; c < w.cols(); ++c) {
        const Lanes v = {column[c], column[c], column[c], column[c]};
        for (int k = 0; k < kVectors; ++k) {
          Lanes weights;
          std::memcpy(&weights, panel + size_t(c) * kPanelRows + 4 * k, sizeof weights);
          sum[k] += weights * v;
        }
      }
      float out[kPanelRows];
      std::memcpy(out, sum, sizeof out);
      for (int i = 0; i < rows; ++i) y[size_t(n) * ldy + first + i] = out[i] + w.bias()[first + i];
    }
  }
}

}  // namespace

PackedModel::PackedModel(const Model& model) : config(model.config()), upsample(model) {
  const ModelConfig& c = config;
  const int res = c.residual_channels, dil = c.dilation_channels, k = c.kernel_size;

  std::vector<float> start_storage;
  const auto start = float_weights(model, "start_conv.weight", start_storage);  // [res, input width, 1]
  const auto start_bias = c.bias ? model.weights("start_conv.bias") : std::span<const float>{};
  const int columns = c.input_width();
  embedding.resize(size_t(columns + (c.scalar_input() ? 1 : 0)) * res);
  for (int id = 0; id < columns; ++id) {
    for (int r = 0; r < res; ++r) {
      const float bias = start_bias.empty() || c.scalar_input() ? 0.0f : start_bias[r];
      embedding[size_t(id) * res + r] = start[size_t(r) * columns + id] + bias;
    }
  }
  if (c.scalar_input() && !start_bias.empty()) std::copy(start_bias.begin(), start_bias.end(), &embedding[res]);

  for (int n = 0; n < c.num_layers(); ++n) {
    const std::string i = "." + std::to_string(n) + ".";
    const bool last = n + 1 == c.num_layers();
    PackedLayer layer;
    layer.dilation = c.dilation(n);
    // Conv weight rows are already in im2col column order, so stacking rows is all it
    // takes, and the packer reads filter and gate rows where they lie.
    layer.filter_gate = quant::pack_linear(model, {"filter_convs" + i + "weight", "gate_convs" + i + "weight"}, res * k,
                                           stacked_bias(model, {"filter_convs" + i + "bias", "gate_convs" + i + "bias"}));
    // The last layer's residual output feeds nothing, so only its skip rows are packed.
    std::vector<std::string> convs{"residual_convs" + i, "skip_convs" + i};
    if (last) convs.erase(convs.begin());
    std::vector<std::string> weights, biases;
    for (const auto& conv : convs) weights.push_back(conv + "weight"), biases.push_back(conv + "bias");
    layer.residual_skip = quant::pack_linear(model, weights, dil, stacked_bias(model, biases));
    layer.skip_offset = last ? 0 : res;
    layers.push_back(std::move(layer));
  }
  // The end convs always have biases.
  end1 = quant::pack_linear(model, {"end_conv_1.weight"}, c.skip_channels,
                            MatrixRows<float>(1, {model.weights("end_conv_1.bias")}));
  end2 = quant::pack_linear(model, {"end_conv_2.weight"}, c.end_channels,
                            MatrixRows<float>(1, {model.weights("end_conv_2.bias")}));
  if (c.has_global()) {
    const auto e = model.weights("global_embedding.weight");
    global_embedding.assign(e.begin(), e.end());
    global_proj = stack_projections(model, "global_filter_convs", "global_gate_convs", c.global_channels);
  }
  if (c.has_local()) {
    local_proj = stack_projections(model, "local_filter_convs", "local_gate_convs", c.local_channels);
  }
}

void PackedModel::start_row(int id, float* out) const {
  const int res = config.residual_channels;
  if (!config.scalar_input()) {
    std::memcpy(out, &embedding[size_t(id) * res], res * sizeof(float));
    return;
  }
  const float x = sample_of_code(id);
  for (int r = 0; r < res; ++r) out[r] = embedding[r] * x + embedding[size_t(res) + r];
}

size_t PackedModel::weight_bytes() const {
  size_t bytes = end1.weight_bytes() + end2.weight_bytes();
  for (const auto& l : layers) bytes += l.filter_gate.weight_bytes() + l.residual_skip.weight_bytes();
  return bytes;
}

ConditioningTerms::ConditioningTerms(const PackedModel& model, const Conditioning& conditioning, bool streaming)
    : model_(model), streaming_(streaming) {
  const ModelConfig& c = model.config;
  if (!streaming) {
    conditioning.check(c);
  } else if (c.has_local()) {  // the speaker is checked now, the features as they come
    Conditioning speaker_only;
    speaker_only.speaker = conditioning.speaker;
    speaker_only.local_frames = 1;
    speaker_only.local_features.resize(c.local_channels);
    speaker_only.check(c);
  }
  active_ = c.has_global() || c.has_local();
  width_ = c.num_layers() * model.pre_width();
  hop_ = c.has_local() ? c.local_hop : 0;
  if (streaming && !c.has_local()) throw Error("streaming conditioning needs a model with local features");
  if (c.has_local()) {
    features_ = conditioning.local_features.data();
    held_frames_ = streaming ? 0 : conditioning.local_frames;
    frames_ = held_frames_;
    finished_ = !streaming;
  }
  if (c.has_upsampling()) {
    lookahead_ = fastwave::lookahead_frames(c);  // the member of the same name returns this
    hop_ = 1;
    frames_ = held_frames_ * c.local_hop;
  }
  if (c.has_global()) {
    global_row_.resize(width_);
    const float* e = model.global_embedding.data() + size_t(conditioning.speaker) * c.global_channels;
    // The reference GEMM, whatever the ISA: integer schemes then sample the same ids on
    // every ISA, at a negligible cost (once per sequence here, once per local frame below).
    kernels::reference_kernels().gemm_f32(model.global_proj.view(), e, c.global_channels, 1, global_row_.data(),
                                          width_);
  }
}

const Upsampler& ConditioningTerms::upsampler_for(int64_t sample0, int64_t sample1) const {
  // A window's rows are exact from `lookahead_` frames after its first frame to as many
  // before its last, and up to an edge that is the held frames' own.
  constexpr int64_t kWindowFrames = 128;  // 2 s at hop 256: ~10% of frames upsampled twice
  const ModelConfig& c = model_.config;
  const int64_t held_end = first_frame_ + held_frames_;
  const int64_t need_first = std::max(first_frame_, sample0 / c.local_hop - lookahead_);
  const int64_t need_end = std::min(held_end, (sample1 - 1) / c.local_hop + 1 + lookahead_);
  if (!upsampler_ || need_first < window_first_ || need_end > window_first_ + window_frames_) {
    window_first_ = need_first;
    window_frames_ = std::min(held_end - need_first, std::max(need_end - need_first, kWindowFrames));
    const float* first = features_ + (window_first_ - first_frame_) * c.local_channels;
    upsampler_ = std::make_unique<Upsampler>(c, model_.upsample, std::span(first, size_t(window_frames_) * c.local_channels),
                                             int(window_frames_));
  }
  return *upsampler_;
}

int64_t ConditioningTerms::settled_samples() const {
  const ModelConfig& c = model_.config;
  if (!c.has_local()) return std::numeric_limits<int64_t>::max();
  return c.has_upsampling() ? frames_ : frames_ * c.local_hop;
}

void ConditioningTerms::append(std::span<const float> frames, bool last, int64_t first_needed) {
  const ModelConfig& c = model_.config;
  if (!streaming_) throw Error("this stream was given all its features at the start");
  if (finished_) throw Error("features appended after the last");
  if (frames.size() % size_t(c.local_channels) != 0) {
    throw Error("features must be whole frames of " + std::to_string(c.local_channels) + " values");
  }
  // Frames no row still to come can reach are dropped: the positions from first_needed on
  // read frames from its frame - lookahead on.
  const int64_t keep_from = std::clamp<int64_t>(first_needed / c.local_hop - lookahead_, first_frame_,
                                                first_frame_ + held_frames_);
  window_.erase(window_.begin(), window_.begin() + (keep_from - first_frame_) * c.local_channels);
  held_frames_ -= keep_from - first_frame_;
  first_frame_ = keep_from;
  window_.insert(window_.end(), frames.begin(), frames.end());
  held_frames_ += int64_t(frames.size()) / c.local_channels;
  features_ = window_.data();
  finished_ = last;
  if (last && first_frame_ + held_frames_ == 0) throw Error("a stream needs at least one frame of features");
  const int64_t received = first_frame_ + held_frames_;
  const int64_t settled = last ? received : std::max<int64_t>(0, received - lookahead_);
  frames_ = c.has_upsampling() ? settled * c.local_hop : settled;  // rows: samples, or frames
  upsampler_.reset();  // its frames moved (and its last ones may have been an edge then)
}

void ConditioningTerms::compute(int64_t f0, int64_t f1, float* out) const {
  const ModelConfig& c = model_.config;
  const int64_t rows = f1 - f0;
  if (c.has_local()) {
    // Offline the frames held start at 0; streaming, at first_frame_.
    const int64_t base = c.has_upsampling() ? first_frame_ * c.local_hop : first_frame_;
    if (f0 < base || f1 > frames_) throw Error("conditioning rows asked for are not held");
    if (c.has_upsampling()) {
      const Upsampler& upsampler = upsampler_for(f0, f1);
      const int64_t window = window_first_ * c.local_hop;  // the upsampler's first sample
      if (upsampler.can_map_first()) {
        upsampler.mapped_rows(f0 - window, f1 - window, width_,
                              [&](const float* x, int64_t count, float* y) {
                                project_rows(model_.local_proj, x, c.local_channels, count, y, width_);
                              },
                              out);
      } else {
        std::vector<float> upsampled(size_t(rows) * c.local_channels);
        upsampler.rows(f0 - window, f1 - window, upsampled.data());
        project_rows(model_.local_proj, upsampled.data(), c.local_channels, rows, out, width_);
      }
    } else {
      kernels::reference_kernels().gemm_f32(model_.local_proj.view(), features_ + (f0 - base) * c.local_channels,
                                            c.local_channels, static_cast<int>(rows), out, width_);
    }
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
