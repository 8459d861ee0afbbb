#include "engine/fast_step.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdlib>
#include <new>
#include <optional>

#include <sys/mman.h>

#include "engine/generators.h"
#include "fastwave/error.h"

namespace fastwave {
namespace {

using kernels::round_up;

// The codes scratch: as wide as the widest integer product's input, in whole cache lines.
int widest_codes(const std::vector<kernels::IntegerMatrixView>& filter_gates,
                 const std::vector<kernels::IntegerMatrixView>& residual_skips) {
  int widest = 0;
  for (size_t n = 0; n < filter_gates.size(); ++n) {
    widest = std::max({widest, filter_gates[n].padded_cols, residual_skips[n].padded_cols});
  }
  return round_up(widest, 64);
}

// From this many streams on, the lanes kernel; below, the GEMMs over streams (a group of
// kLanes lanes mostly empty wastes more than sharing the weight loads saves: on violin
// int8, one core, 8 streams ran at 54k samples/s in lanes against 66k, 10 streams alike).
constexpr int kMinLanesBatch = 10;

// The slots of a layer's ring: its last (kernel_size-1)*dilation+1 inputs.
int ring_slots(const ModelConfig& c, const PackedLayer& layer) { return (c.kernel_size - 1) * layer.dilation + 1; }

// Every layer's lanes kernel for `streams` streams side by side; prefetch(n) fetches the
// rows layer n reads from its rings (written `dilation` steps ago, out of the caches) and
// writes, and runs while the layer before computes.
template <class Prefetch>
void run_lanes_kernels(const kernels::KernelTable& kernels, std::vector<kernels::LanesLayerArgs>& layers, int streams,
                       Prefetch&& prefetch) {
  const int count = int(layers.size());
  prefetch(0);
  for (int n = 0; n < count; ++n) {
    if (n + 1 < count) prefetch(n + 1);
    layers[n].streams = streams;
    kernels.fused_layer_lanes(layers[n]);
  }
}

// Stamps of computed conditioning rows, unique in the process: a stream slot of the lanes
// layout holds the rows of the stamp it last copied.
std::atomic<uint64_t> conditioning_stamps{0};

// The fields the fused and the lanes kernels' arguments share: the shape of layer n.
template <class LayerArgs>
void set_layer_shape(LayerArgs& a, const PackedModel& model, int n, const kernels::IntegerMatrixView& filter_gate,
                     const kernels::IntegerMatrixView& residual_skip) {
  const ModelConfig& c = model.config;
  a.kernel_size = c.kernel_size;
  a.residual_channels = c.residual_channels;
  a.dilation_channels = c.dilation_channels;
  a.filter_gate = filter_gate;
  a.residual_skip = residual_skip;
  a.skip_offset = model.layers[n].skip_offset;
  a.skip_channels = c.skip_channels;
}

}  // namespace

size_t RingArena::floats_per_stream(const Network& network) {
  const ModelConfig& c = network.config();
  size_t floats = 0;
  for (const auto& layer : network.packed().layers) {
    floats += size_t(round_up(ring_slots(c, layer) * c.residual_channels, 16));
  }
  return floats;
}

kernels::AlignedFloats allocate_rings(size_t floats) {
  const size_t bytes = std::max<size_t>(floats, 1) * sizeof(float);
  constexpr size_t kHugePage = size_t(2) << 20;
  if (bytes < kHugePage) {
    kernels::AlignedFloats memory = kernels::allocate_floats(bytes / sizeof(float));
    std::fill(memory.get(), memory.get() + bytes / sizeof(float), 0.0f);
    return memory;
  }
  // Whole huge pages, advised before the first touch (the zeroing) so they are huge from the start.
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (!p) throw std::bad_alloc();
  madvise(p, rounded, MADV_HUGEPAGE);  // only advice: 4 kB pages work too
  std::memset(p, 0, rounded);
  return kernels::AlignedFloats(static_cast<float*>(p));
}

RingArena::RingArena(const Network& network, int streams)
    : per_stream_(floats_per_stream(network)), memory_(allocate_rings(per_stream_ * std::max(streams, 1))) {}

FastStream::FastStream(const Network& network, const Conditioning& conditioning, float* rings,
                       bool streamed_features)
    : conditioning_(conditioning),
      terms_(network.packed(), conditioning_, streamed_features) {
  const ModelConfig& c = network.config();
  if (!rings) {
    own_rings_ = kernels::allocate_floats(RingArena::floats_per_stream(network));
    rings = own_rings_.get();
  }
  ring_start_ = rings;
  ring_floats_ = RingArena::floats_per_stream(network);
  for (const auto& layer : network.packed().layers) {
    const int slots = ring_slots(c, layer);
    rings_.push_back(rings);
    slots_.push_back(slots);
    rings += round_up(slots * c.residual_channels, 16);
  }
  cond_.resize(terms_.active() ? size_t(terms_.width()) * terms_.rows_per_refill() : 0);
  reset();
}

FastStream::FastStream(const Network& network, const Conditioning& conditioning, RingsInLanes)
    : conditioning_(conditioning), terms_(network.packed(), conditioning_, false) {
  cond_.resize(terms_.active() ? size_t(terms_.width()) * terms_.rows_per_refill() : 0);
  reset();
}

void FastStream::append_features(std::span<const float> frames, bool last) {
  terms_.append(frames, last, position_);  // refused unless the stream was made streaming
}

int64_t FastStream::settled_positions() const { return terms_.settled_samples(); }

void FastStream::reset() {
  if (terms_.streaming() && position_ > 0) throw Error("a stream of streamed features cannot start again");
  if (rings_.empty() && position_ > 0) throw Error("a stream whose rings are in lanes cannot start again");
  // Zeroed rings are the causal zero padding: slots not yet written read as zero.
  std::fill(ring_start_, ring_start_ + ring_floats_, 0.0f);
  heads_.assign(rings_.size(), 0);
  position_ = 0;
  cond_frame_ = -1;
  cond_rows_ = 0;
  stamped_frame_ = -1;
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
  logits_.resize(b * c.outputs());

  // The fused kernels when every layer is in integer formats, else the generic path.
  std::vector<kernels::IntegerMatrixView> filter_gates, residual_skips;
  for (const PackedLayer& layer : network.packed().layers) {
    const auto filter_gate = layer.filter_gate.integer_view(), residual_skip = layer.residual_skip.integer_view();
    if (!filter_gate || !residual_skip) return;
    filter_gates.push_back(*filter_gate);
    residual_skips.push_back(*residual_skip);
  }
  if (network.kernels().fused_layers) set_up_fused(filter_gates, residual_skips);
  if (network.kernels().fused_layer_lanes && capacity >= kMinLanesBatch) set_up_lanes(filter_gates, residual_skips);
}

void FastStepper::bind(std::span<FastStream* const> streams) {
  using kernels::kLanes;
  if (!steps_in_lanes()) throw Error("bind: this stepper does not step streams in lanes");
  if (!bound_.empty()) throw Error("bind: the stepper has bound streams already");
  if (streams.empty() || int(streams.size()) > capacity_) {
    throw Error("bind: " + std::to_string(streams.size()) + " streams for a stepper of " + std::to_string(capacity_));
  }
  for (const FastStream* s : streams) {
    if (!s->rings_.empty() || s->position_ != 0) throw Error("bind: a stream to bind has rings of its own or has stepped");
  }
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int layers = c.num_layers(), k = c.kernel_size, groups = (int(streams.size()) + kLanes - 1) / kLanes;
  bound_.assign(streams.begin(), streams.end());
  bound_live_ = int(streams.size());
  // A slot of a group is [residual_channels][kLanes] floats: whole cache lines.
  size_t floats = 0;
  for (const PackedLayer& layer : model.layers) {
    bound_ring_offsets_.push_back(floats);
    floats += size_t(ring_slots(c, layer)) * c.residual_channels * kLanes * groups;
  }
  bound_rings_ = allocate_rings(floats);
  bound_heads_.assign(layers, 0);
  bound_taps_.resize(size_t(layers) * groups * k);
  bound_residuals_.resize(size_t(layers) * groups);
  start_row_.resize(c.residual_channels);
  for (int n = 0; n < layers; ++n) {
    kernels::LanesLayerArgs& a = lanes_args_[n];
    a.taps = nullptr;
    a.residual = nullptr;
    a.group_taps = &bound_taps_[size_t(n) * groups * k];
    a.group_residual = n + 1 < layers ? &bound_residuals_[size_t(n) * groups] : nullptr;
  }
}

void FastStepper::step_bound(std::span<const int> ids) {
  const int live = int(ids.size());
  if (bound_.empty()) throw Error("step_bound: no streams are bound");
  if (live < 1 || live > bound_live_) {
    throw Error("step_bound: " + std::to_string(live) + " streams, of which " + std::to_string(bound_live_) +
                " may still step");
  }
  bound_live_ = live;
  const std::span<FastStream* const> streams(bound_.data(), size_t(live));
  refresh_conditioning(streams, ids);
  bound_layers(ids);
  end_of_step(streams, true);
}

void FastStepper::set_up_fused(const std::vector<kernels::IntegerMatrixView>& filter_gates,
                               const std::vector<kernels::IntegerMatrixView>& residual_skips) {
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  int widest_rs = 0;
  for (const PackedLayer& layer : model.layers) widest_rs = std::max(widest_rs, layer.residual_skip.rows());
  // Everything but the per-step pointers is the same at every step.
  const int codes_width = widest_codes(filter_gates, residual_skips);
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
    set_layer_shape(a, model, n, filter_gates[n], residual_skips[n]);
    a.codes = fused_codes_.get();
    a.rs = fused_rs_.get();
    a.codes_width = codes_width;
    a.columns = fused_columns_.get();
    a.pre = fused_pre_.get();
    a.z = fused_z_.get();
  }
}

void FastStepper::set_up_lanes(const std::vector<kernels::IntegerMatrixView>& filter_gates,
                               const std::vector<kernels::IntegerMatrixView>& residual_skips) {
  using kernels::kLanes;
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int layers = c.num_layers(), k = c.kernel_size, groups = (capacity_ + kLanes - 1) / kLanes;
  const size_t lanes = size_t(groups) * kLanes;
  // The scratch an int4 matrix is unpacked into: whole panels of int8 weights.
  size_t widest_weights = 0;
  auto fit_weights = [&](const kernels::IntegerMatrixView& m) {
    const int rows = m.is_int4 ? m.int4.rows : m.int8.rows;
    widest_weights = std::max(widest_weights, size_t(round_up(rows, kernels::kPanelRows)) * m.padded_cols);
  };
  int widest_rs = 0;
  for (int n = 0; n < layers; ++n) {
    widest_rs = std::max(widest_rs, model.layers[n].residual_skip.rows());
    fit_weights(filter_gates[n]);
    fit_weights(residual_skips[n]);
  }
  const auto end1 = model.end1.integer_view(), end2 = model.end2.integer_view();
  const bool lanes_end = network_.kernels().lanes_end && end1 && end2;
  int codes_width = widest_codes(filter_gates, residual_skips);
  if (lanes_end) {
    codes_width = std::max({codes_width, round_up(end1->padded_cols, 64), round_up(end2->padded_cols, 64)});
    fit_weights(*end1);
    fit_weights(*end2);
  }
  auto lane_rows = [](size_t rows) { return kernels::allocate_floats(rows * kLanes * kernels::kLaneTileGroups); };
  lanes_columns_ = lane_rows(size_t(k) * c.residual_channels);
  lanes_pre_ = lane_rows(size_t(model.pre_width()));
  lanes_z_ = lane_rows(size_t(c.dilation_channels));
  lanes_residual_ = lane_rows(size_t(c.residual_channels));
  lanes_rs_ = lane_rows(size_t(widest_rs));
  lanes_codes_.reset(static_cast<int32_t*>(kernels::allocate_aligned(size_t(codes_width) * kLanes * kernels::kLaneTileGroups)));
  auto weights = [&] { return kernels::AlignedArray<int8_t>(static_cast<int8_t*>(kernels::allocate_aligned(widest_weights))); };
  lanes_filter_gate_weights_ = weights();
  lanes_residual_skip_weights_ = weights();
  lanes_skip_ = kernels::allocate_floats(size_t(c.skip_channels) * lanes);
  lanes_hidden_ = lane_rows(size_t(c.end_channels));
  lanes_logits_ = lane_rows(size_t(c.outputs()));
  if (network_.packed().config.has_global() || network_.packed().config.has_local()) {
    lanes_conditioning_ = kernels::allocate_floats(size_t(layers) * model.pre_width() * lanes);
  }
  lanes_conditioning_stamps_.assign(lanes, 0);
  lanes_taps_.resize(size_t(layers) * capacity_ * k);
  lanes_residuals_.resize(size_t(layers) * capacity_);
  lanes_args_.resize(layers);
  for (int n = 0; n < layers; ++n) {
    kernels::LanesLayerArgs& a = lanes_args_[n];
    a.taps = &lanes_taps_[size_t(n) * capacity_ * k];
    a.residual = n + 1 < layers ? &lanes_residuals_[size_t(n) * capacity_] : nullptr;
    a.conditioning = lanes_conditioning_ ? lanes_conditioning_.get() + size_t(n) * model.pre_width() * lanes : nullptr;
    a.skip = lanes_skip_.get();
    set_layer_shape(a, model, n, filter_gates[n], residual_skips[n]);
    a.scratch = {lanes_columns_.get(),         lanes_codes_.get(),  lanes_pre_.get(),    lanes_z_.get(),
                 lanes_residual_.get(),        lanes_rs_.get(),     lanes_hidden_.get(), lanes_logits_.get(),
                 lanes_filter_gate_weights_.get(), lanes_residual_skip_weights_.get()};
  }
  if (!lanes_end) return;
  kernels::LanesEndArgs e{};
  e.skip = lanes_skip_.get();
  e.skip_channels = c.skip_channels;
  e.end_channels = c.end_channels;
  e.classes = c.outputs();
  e.end1 = *end1;
  e.end2 = *end2;
  e.logits = logits_.data();
  e.scratch = lanes_args_.front().scratch;
  lanes_end_ = e;
}

float* FastStepper::ring_slot(FastStream& s, int layer, int back, int residual_channels) {
  // A ring has (k-1)*dilation+1 slots; `back` slots before the head.
  int at = s.heads_[layer] - back;
  if (at < 0) at += s.slots_[layer];
  return s.rings_[layer] + size_t(at) * residual_channels;
}

std::span<const float> FastStepper::logits(int b) const {
  const int width = network_.config().outputs();
  return {logits_.data() + size_t(b) * width, size_t(width)};
}

void FastStepper::step(std::span<FastStream* const> streams, std::span<const int> ids) {
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int batch = int(streams.size());
  if (batch < 1 || batch > capacity_ || ids.size() != streams.size()) {
    throw Error("step: " + std::to_string(batch) + " streams for a stepper of " + std::to_string(capacity_));
  }
  if (!bound_.empty()) throw Error("step: a stepper with bound streams steps them with step_bound");
  for (const FastStream* s : streams) {
    if (s->rings_.empty()) throw Error("step: a stream made for lanes steps only through the stepper it is bound to");
  }
  refresh_conditioning(streams, ids);

  // One stream: the fused kernel. Several: the lanes kernel, which loads each weight once
  // for kLanes streams, else GEMMs over the streams (the fused kernel stream by stream
  // measured slower from 2 streams).
  bool in_lanes = false;
  if (batch == 1 && !fused_args_.empty()) {
    fused_layers(streams, ids);
  } else if (batch >= kMinLanesBatch && !lanes_args_.empty()) {
    lanes_layers(streams, ids);
    in_lanes = true;
  } else {
    for (int b = 0; b < batch; ++b) {
      model.start_row(ids[b], &x_[size_t(b) * c.residual_channels]);
    }
    generic_layers(streams);
  }
  end_of_step(streams, in_lanes);
}

void FastStepper::refresh_conditioning(std::span<FastStream* const> streams, std::span<const int> ids) {
  const ModelConfig& c = network_.config();
  for (size_t b = 0; b < streams.size(); ++b) {
    FastStream& s = *streams[b];
    check_push(c, ids[b], s.position_, s.settled_positions(), s.terms_.finished());
    const int64_t frame = s.terms_.frame_of(s.position_);
    if (s.terms_.active() && (frame < s.cond_frame_ || frame >= s.cond_frame_ + s.cond_rows_)) {
      s.cond_frame_ = frame;
      s.cond_rows_ = std::min<int64_t>(s.terms_.rows_per_refill(), s.terms_.frames() - frame);
      s.terms_.compute(s.cond_frame_, s.cond_frame_ + s.cond_rows_, s.cond_.data());
    }
    if (s.terms_.active() && frame != s.stamped_frame_) {  // the row in use changed
      s.stamped_frame_ = frame;
      s.cond_stamp_ = ++conditioning_stamps;
    }
  }
}

void FastStepper::end_of_step(std::span<FastStream* const> streams, bool from_lanes) {
  const PackedModel& model = network_.packed();
  const kernels::KernelTable& kernels = network_.kernels();
  const ModelConfig& c = model.config;
  const int batch = int(streams.size());
  if (from_lanes && lanes_end_) {  // the end products side by side too, from the skip sums
    lanes_end_->streams = batch;
    kernels.lanes_end(*lanes_end_);
    for (int b = 0; b < batch; ++b) ++streams[b]->position_;
    return;
  }
  if (from_lanes) skip_from_lanes(batch);
  const size_t skips = size_t(batch) * c.skip_channels, hidden = size_t(batch) * c.end_channels;
  for (size_t i = 0; i < skips; ++i) skip_[i] = std::max(skip_[i], 0.0f);
  model.end1.apply(skip_.data(), c.skip_channels, batch, hidden_.data(), c.end_channels, kernels);
  for (size_t i = 0; i < hidden; ++i) hidden_[i] = std::max(hidden_[i], 0.0f);
  model.end2.apply(hidden_.data(), c.end_channels, batch, logits_.data(), c.outputs(), kernels);
  for (int b = 0; b < batch; ++b) ++streams[b]->position_;
}

void FastStepper::fused_layers(std::span<FastStream* const> streams, std::span<const int> ids) {
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int k = c.kernel_size, layers = c.num_layers(), pre_width = model.pre_width();
  const int res = c.residual_channels, batch = int(streams.size());
  // The residual stream lives in the rings: the embedding goes straight into the first
  // layer's ring, and each layer writes its output into the next layer's ring.
  auto slot = [res](FastStream& s, int layer, int back) { return ring_slot(s, layer, back, res); };
  // Points every layer's arguments at stream b's state and moves its ring heads on (layer
  // n's after its taps, and before layer n + 1's head is read as n's residual output).
  auto prepare = [&](int b) {
    FastStream& s = *streams[b];
    const float* conditioning = s.terms_.active() ? s.cond_row() : nullptr;
    float* skip = &skip_[size_t(b) * c.skip_channels];
    for (int n = 0; n < layers; ++n) {
      kernels::FusedLayerArgs& a = fused_args_[n];
      const int dilation = model.layers[n].dilation;
      for (int j = 0; j < k; ++j) fused_taps_[size_t(n) * k + j] = slot(s, n, (k - 1 - j) * dilation);
      a.conditioning = conditioning ? conditioning + size_t(n) * pre_width : nullptr;
      a.residual = n + 1 < layers ? slot(s, n + 1, 0) : nullptr;  // the last layer has no residual rows
      a.skip = skip;
      s.heads_[n] = s.heads_[n] + 1 == s.slots_[n] ? 0 : s.heads_[n] + 1;
    }
  };
  for (int b = 0; b < batch; ++b) {
    model.start_row(ids[b], slot(*streams[b], 0, 0));
  }
  std::fill(skip_.begin(), skip_.begin() + size_t(batch) * c.skip_channels, 0.0f);
  for (int b = 0; b < batch; ++b) {
    prepare(b);
    network_.kernels().fused_layers(fused_args_.data(), layers);
  }
}

void FastStepper::copy_conditioning_to_lane(const FastStream& s, int b) {
  using kernels::kLanes;
  // Conditioning rows change once per frame: copied into the stream's lane only then.
  if (!lanes_conditioning_ || lanes_conditioning_stamps_[b] == s.cond_stamp_) return;
  lanes_conditioning_stamps_[b] = s.cond_stamp_;
  const int layers = network_.config().num_layers(), pre_width = network_.packed().pre_width();
  const size_t all_lanes = size_t((capacity_ + kLanes - 1) / kLanes) * kLanes;
  float* lane = lanes_conditioning_.get() + size_t(b / kLanes) * pre_width * kLanes + b % kLanes;
  for (int n = 0; n < layers; ++n) {
    const float* rows = s.cond_row() + size_t(n) * pre_width;
    float* out = lane + size_t(n) * pre_width * all_lanes;
    for (int i = 0; i < pre_width; ++i) out[size_t(i) * kLanes] = rows[i];
  }
}

void FastStepper::lanes_layers(std::span<FastStream* const> streams, std::span<const int> ids) {
  using kernels::kLanes;
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int res = c.residual_channels, k = c.kernel_size, layers = c.num_layers();
  const int batch = int(streams.size()), groups = (batch + kLanes - 1) / kLanes;
  for (int b = 0; b < batch; ++b) {
    FastStream& s = *streams[b];
    model.start_row(ids[b], ring_slot(s, 0, 0, res));
    copy_conditioning_to_lane(s, b);
    // Every layer's taps and residual output (the next layer's ring at its head, before
    // that head moves on), then the heads move on.
    for (int n = 0; n < layers; ++n) {
      const int dilation = model.layers[n].dilation, slots = s.slots_[n], head = s.heads_[n];
      const float** taps = &lanes_taps_[(size_t(n) * capacity_ + b) * k];
      for (int j = 0; j < k; ++j) {
        int at = head - (k - 1 - j) * dilation;
        if (at < 0) at += slots;
        taps[j] = s.rings_[n] + size_t(at) * res;
      }
      if (n + 1 < layers) lanes_residuals_[size_t(n) * capacity_ + b] = s.rings_[n + 1] + size_t(s.heads_[n + 1]) * res;
      s.heads_[n] = head + 1 == slots ? 0 : head + 1;
    }
  }
  std::fill(lanes_skip_.get(), lanes_skip_.get() + size_t(groups) * c.skip_channels * kLanes, 0.0f);
  // The past taps for reading; the last tap, the residual output of the layer before, for writing.
  const size_t tap_bytes = size_t(res) * sizeof(float);
  run_lanes_kernels(network_.kernels(), lanes_args_, batch, [&](int n) {
    const float* const* taps = &lanes_taps_[size_t(n) * capacity_ * k];
    for (int b = 0; b < batch; ++b) {
      for (int j = 0; j < k; ++j) {
        const char* tap = reinterpret_cast<const char*>(taps[size_t(b) * k + j]);
        for (size_t line = 0; line < tap_bytes; line += 64) {
          if (j + 1 < k) __builtin_prefetch(tap + line, 0);
          else __builtin_prefetch(tap + line, 1);
        }
      }
    }
  });
}

void FastStepper::bound_layers(std::span<const int> ids) {
  using kernels::kLanes;
  const PackedModel& model = network_.packed();
  const ModelConfig& c = model.config;
  const int res = c.residual_channels, k = c.kernel_size, layers = c.num_layers();
  const int live = int(ids.size()), groups = (live + kLanes - 1) / kLanes;
  const int all_groups = (int(bound_.size()) + kLanes - 1) / kLanes;
  const size_t slot_floats = size_t(res) * kLanes;
  // Group g's ring of layer n and its slot `back` positions before the head.
  auto slot = [&](int n, int g, int back) {
    const int slots = ring_slots(c, model.layers[n]);
    int at = bound_heads_[n] - back;
    if (at < 0) at += slots;
    return bound_rings_.get() + bound_ring_offsets_[n] + (size_t(g) * slots + at) * slot_floats;
  };
  // Each stream's embedding into its lane of the first layer's ring, at the head.
  for (int b = 0; b < live; ++b) {
    model.start_row(ids[b], start_row_.data());
    float* lane = slot(0, b / kLanes, 0) + b % kLanes;
    for (int i = 0; i < res; ++i) lane[size_t(i) * kLanes] = start_row_[i];
    copy_conditioning_to_lane(*bound_[b], b);
  }
  // Every layer's taps and residual output (the next layer's ring at its head, before that
  // head moves on), group by group, then the heads move on.
  for (int n = 0; n < layers; ++n) {
    for (int g = 0; g < groups; ++g) {
      for (int j = 0; j < k; ++j) {
        bound_taps_[(size_t(n) * all_groups + g) * k + j] = slot(n, g, (k - 1 - j) * model.layers[n].dilation);
      }
      if (n + 1 < layers) bound_residuals_[size_t(n) * all_groups + g] = slot(n + 1, g, 0);
    }
  }
  for (int n = 0; n < layers; ++n) {
    const int slots = ring_slots(c, model.layers[n]);
    bound_heads_[n] = bound_heads_[n] + 1 == slots ? 0 : bound_heads_[n] + 1;
  }
  std::fill(lanes_skip_.get(), lanes_skip_.get() + size_t(groups) * c.skip_channels * kLanes, 0.0f);
  // The past taps for reading, the rows the layer writes for writing.
  run_lanes_kernels(network_.kernels(), lanes_args_, live, [&](int n) {
    for (int g = 0; g < groups; ++g) {
      for (int j = 0; j + 1 < k; ++j) {
        const char* tap = reinterpret_cast<const char*>(bound_taps_[(size_t(n) * all_groups + g) * k + j]);
        for (size_t line = 0; line < slot_floats * sizeof(float); line += 64) __builtin_prefetch(tap + line, 0);
      }
      if (n + 1 < layers) {
        const char* out = reinterpret_cast<const char*>(bound_residuals_[size_t(n) * all_groups + g]);
        for (size_t line = 0; line < slot_floats * sizeof(float); line += 64) __builtin_prefetch(out + line, 1);
      }
    }
  });
}

void FastStepper::skip_from_lanes(int batch) {
  using kernels::kLanes;
  const ModelConfig& c = network_.config();
  const int groups = (batch + kLanes - 1) / kLanes;
  // The skip sums back in stream order, a row of lanes at a time (reads in order).
  for (int g = 0; g < groups; ++g) {
    const int lanes = std::min(kLanes, batch - g * kLanes);
    float* skip = &skip_[size_t(g) * kLanes * c.skip_channels];
    const float* rows = lanes_skip_.get() + size_t(g) * c.skip_channels * kLanes;
    for (int i = 0; i < c.skip_channels; ++i) {
      for (int l = 0; l < lanes; ++l) skip[size_t(l) * c.skip_channels + i] = rows[size_t(i) * kLanes + l];
    }
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
      float* ring = s.rings_[n];
      const int slots = s.slots_[n];
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
