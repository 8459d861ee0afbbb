#include "engine/fast_step.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "engine/generators.h"
#include "fastwave/error.h"

namespace fastwave {
namespace {

int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// The fused layer kernel takes int8 and int4 matrices only.
std::optional<kernels::IntegerMatrixView> integer_view(const kernels::Linear& l) {
  using kernels::Layout;
  if (l.layout() != Layout::kInt8 && l.layout() != Layout::kInt4) return std::nullopt;
  kernels::IntegerMatrixView v{};
  v.is_int4 = l.layout() == Layout::kInt4;
  if (v.is_int4) v.int4 = l.int4_view();
  else v.int8 = l.int8_view();
  v.input_scale = l.input_scale();
  v.padded_cols = l.padded_cols();
  return v;
}

}  // namespace

FastStream::FastStream(const Network& network, const Conditioning& conditioning)
    : conditioning_(conditioning), terms_(network.packed(), conditioning_) {
  const ModelConfig& c = network.config();
  for (const auto& layer : network.packed().layers) {
    rings_.emplace_back(size_t((c.kernel_size - 1) * layer.dilation + 1) * c.residual_channels);
  }
  cond_.resize(terms_.active() ? size_t(terms_.width()) * terms_.rows_per_refill() : 0);
  reset();
}

void FastStream::reset() {
  // Zeroed rings are the causal zero padding: slots not yet written read as zero.
  for (auto& ring : rings_) std::fill(ring.begin(), ring.end(), 0.0f);
  heads_.assign(rings_.size(), 0);
  position_ = 0;
  cond_frame_ = -1;
  cond_rows_ = 0;
}

FastStepper::FastStepper(const Network& network, int capacity) : network_(network), capacity_(capacity) {
  if (capacity < 1) throw Error("a step needs at least one stream");
  const ModelConfig& c = network.config();
  const size_t b = size_t(capacity);
  x_.resize(b * c.residual_channels);
  columns_.resize(b * c.kernel_size * c.residual_channels);
  pre_.resize(b * network.packed().pre_width());
  z_.resize(b * c.dilation_channels);
  residual_skip_.resize(b * (c.residual_channels + c.skip_channels));
  skip_.resize(b * c.skip_channels);
  hidden_.resize(b * c.end_channels);
  logits_.resize(b * c.classes);

  const PackedModel& model = network.packed();
  if (!network.kernels().fused_layers) return;
  // The fused kernel when every layer is in integer formats, else the generic path.
  std::vector<kernels::IntegerMatrixView> filter_gates, residual_skips;
  int widest_codes = 0, widest_rs = 0;
  for (const PackedLayer& layer : model.layers) {
    const auto filter_gate = integer_view(layer.filter_gate), residual_skip = integer_view(layer.residual_skip);
    if (!filter_gate || !residual_skip) return;
    filter_gates.push_back(*filter_gate);
    residual_skips.push_back(*residual_skip);
    widest_codes = std::max({widest_codes, filter_gate->padded_cols, residual_skip->padded_cols});
    widest_rs = std::max(widest_rs, layer.residual_skip.rows());
  }
  // Everything but the per-step pointers is the same at every step.
  const int codes_width = round_up(widest_codes, 64);
  fused_codes_.reset(static_cast<uint8_t*>(kernels::allocate_aligned(2 * size_t(codes_width))));
  fused_rs_ = kernels::allocate_floats(size_t(round_up(widest_rs, 16)));
  fused_columns_ = kernels::allocate_floats(size_t(round_up(c.kernel_size * c.residual_channels, 16)));
  fused_pre_ = kernels::allocate_floats(size_t(round_up(model.pre_width(), 16)));
  fused_z_ = kernels::allocate_floats(size_t(round_up(c.dilation_channels, 16)));
  fused_taps_.resize(size_t(c.num_layers()) * c.kernel_size);
  fused_args_.resize(c.num_layers());
  for (int n = 0; n < c.num_layers(); ++n) {
    kernels::FusedLayerArgs& a = fused_args_[n];
    a.taps = &fused_taps_[size_t(n) * c.kernel_size];
    a.kernel_size = c.kernel_size;
    a.residual_channels = c.residual_channels;
    a.dilation_channels = c.dilation_channels;
    a.filter_gate = filter_gates[n];
    a.residual_skip = residual_skips[n];
    a.skip_offset = model.layers[n].skip_offset;
    a.skip_channels = c.skip_channels;
    a.codes = fused_codes_.get();
    a.rs = fused_rs_.get();
    a.codes_width = codes_width;
    a.columns = fused_columns_.get();
    a.pre = fused_pre_.get();
    a.z = fused_z_.get();
  }
}

std::span<const float> FastStepper::logits(int b) const {
  const int classes = network_.config().classes;
  return {logits_.data() + size_t(b) * classes, size_t(classes)};
}

void FastStepper::step(std::span<FastStream* const> streams, std::span<const int> ids) {
  const PackedModel& model = network_.packed();
  const kernels::KernelTable& kernels = network_.kernels();
  const ModelConfig& c = model.config;
  const int batch = int(streams.size());
  if (batch < 1 || batch > capacity_ || ids.size() != streams.size()) {
    throw Error("step: " + std::to_string(batch) + " streams for a stepper of " + std::to_string(capacity_));
  }
  const int res = c.residual_channels;

  for (int b = 0; b < batch; ++b) {
    FastStream& s = *streams[b];
    check_push(c, s.conditioning_, ids[b], s.position_);
    const int64_t frame = s.terms_.frame_of(s.position_);
    if (s.terms_.active() && (frame < s.cond_frame_ || frame >= s.cond_frame_ + s.cond_rows_)) {
      s.cond_frame_ = frame;
      s.cond_rows_ = std::min<int64_t>(s.terms_.rows_per_refill(), s.terms_.frames() - frame);
      s.terms_.compute(s.cond_frame_, s.cond_frame_ + s.cond_rows_, s.cond_.data());
    }
  }

  // One stream: the fused kernel. Several: GEMMs over the streams, which load each weight
  // once for all of them (the fused kernel stream by stream measured slower from 2 streams).
  if (batch == 1 && !fused_args_.empty()) {
    fused_layers(streams, ids);
  } else {
    for (int b = 0; b < batch; ++b) {
      std::memcpy(&x_[size_t(b) * res], &model.embedding[size_t(ids[b]) * res], res * sizeof(float));
    }
    generic_layers(streams);
  }

  const size_t skips = size_t(batch) * c.skip_channels, hidden = size_t(batch) * c.end_channels;
  for (size_t i = 0; i < skips; ++i) skip_[i] = std::max(skip_[i], 0.0f);
  model.end1.apply(skip_.data(), c.skip_channels, batch, hidden_.data(), c.end_channels, kernels);
  for (size_t i = 0; i < hidden; ++i) hidden_[i] = std::max(hidden_[i], 0.0f);
  model.end2.apply(hidden_.data(), c.end_channels, batch, logits_.data(), c.classes, kernels);
  for (int b = 0; b < batch; ++b) ++streams[b]->position_;
}

void FastStepper::fused_layers(std::span<FastStream* const> streams, std::span<const int> ids) {
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int res = c.residual_channels, k = c.kernel_size, layers = c.num_layers(), pre_width = model.pre_width();
  const int batch = int(streams.size());
  // The residual stream lives in the rings: the embedding goes straight into the first
  // layer's ring, and each layer writes its output into the next layer's ring. A ring has
  // (k-1)*dilation+1 slots; `back` slots before the head.
  auto slot = [&](FastStream& s, int layer, int back) {
    const int slots = (k - 1) * model.layers[layer].dilation + 1;
    int at = s.heads_[layer] - back;
    if (at < 0) at += slots;
    return s.rings_[layer].data() + size_t(at) * res;
  };
  // Points every layer's arguments at stream b's state and moves its ring heads on.
  auto prepare = [&](int b) {
    FastStream& s = *streams[b];
    for (int n = 0; n < layers; ++n) {
      kernels::FusedLayerArgs& a = fused_args_[n];
      const int dilation = model.layers[n].dilation;
      for (int j = 0; j < k; ++j) fused_taps_[size_t(n) * k + j] = slot(s, n, (k - 1 - j) * dilation);
      a.conditioning = s.terms_.active() ? s.cond_row() + size_t(n) * pre_width : nullptr;
      a.residual = n + 1 < layers ? slot(s, n + 1, 0) : nullptr;  // the last layer has no residual rows
      a.skip = &skip_[size_t(b) * c.skip_channels];
    }
    for (int n = 0; n < layers; ++n) {
      const int slots = (k - 1) * model.layers[n].dilation + 1;
      s.heads_[n] = s.heads_[n] + 1 == slots ? 0 : s.heads_[n] + 1;
    }
  };
  for (int b = 0; b < batch; ++b) {
    std::memcpy(slot(*streams[b], 0, 0), &model.embedding[size_t(ids[b]) * res], res * sizeof(float));
  }
  std::fill(skip_.begin(), skip_.begin() + size_t(batch) * c.skip_channels, 0.0f);
  for (int b = 0; b < batch; ++b) {
    prepare(b);
    network_.kernels().fused_layers(fused_args_.data(), layers);
  }
}

void FastStepper::generic_layers(std::span<FastStream* const> streams) {
  const PackedModel& model = network_.packed();
  const kernels::KernelTable& kernels = network_.kernels();
  const ModelConfig& c = model.config;
  const int batch = int(streams.size());
  const int res = c.residual_channels, dil = c.dilation_channels, k = c.kernel_size;
  const int layers = c.num_layers(), pre_width = model.pre_width();
  const int rs_width = res + c.skip_channels, kres = k * res;
  for (int n = 0; n < layers; ++n) {
    const PackedLayer& layer = model.layers[n];
    for (int b = 0; b < batch; ++b) {
      FastStream& s = *streams[b];
      std::vector<float>& ring = s.rings_[n];
      const int slots = int(ring.size()) / res;
      const int head = s.heads_[n];
      std::memcpy(&ring[size_t(head) * res], &x_[size_t(b) * res], res * sizeof(float));
      float* columns = &columns_[size_t(b) * kres];
      auto tap = [&](int j) {
        int slot = head - (k - 1 - j) * layer.dilation;
        if (slot < 0) slot += slots;
        return &ring[size_t(slot) * res];
      };
      if (k == 2) {  // WaveNet's usual taps: a fixed stride the compiler turns into unpacks
        const float *past = tap(0), *now = tap(1);
        for (int ch = 0; ch < res; ++ch) {
          columns[2 * ch] = past[ch];
          columns[2 * ch + 1] = now[ch];
        }
      } else {
        for (int j = 0; j < k; ++j) {
          const float* x = tap(j);
          for (int ch = 0; ch < res; ++ch) columns[size_t(ch) * k + j] = x[ch];
        }
      }
      s.heads_[n] = head + 1 == slots ? 0 : head + 1;
    }
    layer.filter_gate.apply(columns_.data(), kres, batch, pre_.data(), pre_width, kernels);
    for (int b = 0; b < batch; ++b) {
      const FastStream& s = *streams[b];
      float* pre = &pre_[size_t(b) * pre_width];
      if (s.terms_.active()) {
        const float* term = s.cond_row() + size_t(n) * pre_width;
        for (int i = 0; i < pre_width; ++i) pre[i] += term[i];
      }
      kernels.gated_activation(pre, dil, &z_[size_t(b) * dil]);
    }
    layer.residual_skip.apply(z_.data(), dil, batch, residual_skip_.data(), rs_width, kernels);
    for (int b = 0; b < batch; ++b) {
      const float* rs = &residual_skip_[size_t(b) * rs_width];
      // The last layer has no residual rows.
      if (n + 1 < layers) kernels.accumulate(rs, res, &x_[size_t(b) * res]);
      const float* part = rs + layer.skip_offset;
      float* skip = &skip_[size_t(b) * c.skip_channels];
      if (n == 0) {
        std::copy(part, part + c.skip_channels, skip);
      } else {
        kernels.accumulate(part, c.skip_channels, skip);
      }
    }
  }
}

}  // namespace fastwave
