// The generation step of the fast method (Paine et al. 2016), for one stream or many:
// each layer keeps a ring buffer of its last (kernel_size-1)*dilation+1 inputs per stream,
// and a step runs every conv of the network once for all the streams given: one stream
// through the batch-1 fused kernel, many side by side through the lanes kernels or as GEMMs
// whose columns are the streams, so each weight is loaded once per step for many of them.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/packed_model.h"
#include "fastwave/network.h"
#include "kernels/kernels.h"

namespace fastwave {

// Zeroed memory for rings, advised for huge pages once it spans one: a step touches two
// slots of every ring of every stream (64 violin streams hold 33 MB of rings), which on
// 4 kB pages is a TLB entry per slot. (Not measured apart from the other changes.)
kernels::AlignedFloats allocate_rings(size_t floats);

// Memory for the rings of many streams in one block (allocate_rings).
class RingArena {
 public:
  RingArena(const Network& network, int streams);
  // The floats of one stream's rings: every layer's ring, each starting on a cache line.
  static size_t floats_per_stream(const Network& network);
  float* stream(int i) const { return memory_.get() + size_t(i) * per_stream_; }

 private:
  size_t per_stream_;
  kernels::AlignedFloats memory_;
};

// What one stream remembers: its ring buffers, position and conditioning. Not movable
// (the conditioning terms point at the conditioning it owns).
class FastStream {
 public:
  // The rings live in `rings` (RingArena::floats_per_stream floats, 64-byte aligned) when
  // given, else in memory of the stream's own.
  // With `streamed_features` the local features are not in `conditioning` but arrive
  // through append_features() (only its speaker is used).
  FastStream(const Network& network, const Conditioning& conditioning, float* rings = nullptr,
             bool streamed_features = false);
  // A stream with no rings of its own, to be bound to a stepper's lanes (FastStepper::bind),
  // which keeps them.
  struct RingsInLanes {};
  FastStream(const Network& network, const Conditioning& conditioning, RingsInLanes);
  FastStream(const FastStream&) = delete;
  FastStream& operator=(const FastStream&) = delete;

  // Forgets all history; refused once streamed features were dropped behind the position,
  // and for a stream whose rings are in lanes once it has stepped.
  void reset();
  int64_t position() const { return position_; }
  const Conditioning& conditioning() const { return conditioning_; }

  // Streamed features: appends frames [n][local_channels] (`last`: no more will come).
  void append_features(std::span<const float> frames, bool last);
  // Positions whose features are settled: pushes are allowed below this.
  int64_t settled_positions() const;
  // Frames after a frame that its positions depend on (the upsampling network's reach).
  int lookahead_frames() const { return terms_.lookahead_frames(); }

 private:
  friend class FastStepper;
  Conditioning conditioning_;
  ConditioningTerms terms_;
  kernels::AlignedFloats own_rings_;
  std::vector<float*> rings_;              // per layer, slots x residual_channels
  std::vector<int> slots_;                 // per layer
  float* ring_start_ = nullptr;            // ring_floats_ floats: every layer's ring
  size_t ring_floats_ = 0;
  std::vector<int> heads_;                 // per layer, the slot of the current position
  // Conditioning rows (all layers) of frames [cond_frame_, cond_frame_ + cond_rows_), which
  // hold this position's.
  std::vector<float> cond_;
  int64_t cond_frame_ = -1;
  int64_t cond_rows_ = 0;
  const float* cond_row() const {
    return &cond_[size_t(terms_.frame_of(position_) - cond_frame_) * terms_.width()];
  }
  // The lanes step copies a stream's conditioning row only when its stamp changes: a new
  // stamp, unique over all streams, whenever the frame in use changes (0: none yet).
  int64_t stamped_frame_ = -1;
  uint64_t cond_stamp_ = 0;
  int64_t position_ = 0;
};

// Scratch for stepping up to `capacity` streams of one network at a time.
class FastStepper {
 public:
  FastStepper(const Network& network, int capacity);
  const Network& network() const { return network_; }

  // Pushes ids[b] into *streams[b] at its position and computes the logits of the next id
  // of each, read back with logits(b) until the next step. Throws for an id out of range
  // or a position past the local features.
  void step(std::span<FastStream* const> streams, std::span<const int> ids);
  std::span<const float> logits(int b) const;

  // Whether this stepper steps many streams side by side in lanes (the kernel table has
  // lanes kernels, every layer is in integer formats, the capacity is large enough).
  bool steps_in_lanes() const { return !lanes_args_.empty(); }

  // Binds streams (made with RingsInLanes, at position 0, at most the capacity, and only
  // where steps_in_lanes()) to lanes for their whole life: stream b in lane b % kLanes of
  // group b / kLanes. The stepper keeps their rings side by side, per layer and group
  // [slot][residual_channels][kLanes] with one head per layer for all, so the lanes kernel
  // reads each tap and writes each residual row as whole vectors, with no transposes.
  void bind(std::span<FastStream* const> streams);
  // One step of the first ids.size() bound streams, as step() would take them (logits(b)
  // likewise). The others have finished for good: their lanes may be overwritten, so a
  // step never takes more streams than the one before it.
  void step_bound(std::span<const int> ids);

 private:
  // Every layer through the kernel table's fused layer kernel, one stream at a time.
  void fused_layers(std::span<FastStream* const> streams, std::span<const int> ids);
  // Every layer through the kernel table's lanes kernel, the streams side by side.
  void lanes_layers(std::span<FastStream* const> streams, std::span<const int> ids);
  // The same for the first `live` bound streams, their rings in lanes.
  void bound_layers(std::span<const int> ids);
  // Each stream's conditioning rows for its position, computed when they change.
  void refresh_conditioning(std::span<FastStream* const> streams, std::span<const int> ids);
  // Stream s's conditioning rows (all layers) into lane b of the lanes layout, when changed.
  void copy_conditioning_to_lane(const FastStream& s, int b);
  // The end products and the positions moved on, after the layers (`from_lanes`: the skip
  // sums are in the lanes layout).
  void end_of_step(std::span<FastStream* const> streams, bool from_lanes);
  // The lanes kernel's skip sums into skip_, for the end products through Linear.
  void skip_from_lanes(int batch);
  // Every layer as GEMMs over the streams, through Linear: any weight format.
  void generic_layers(std::span<FastStream* const> streams);
  // Slot `back` positions before stream s's head in its ring of `layer`.
  static float* ring_slot(FastStream& s, int layer, int back, int residual_channels);
  void set_up_fused(const std::vector<kernels::IntegerMatrixView>& filter_gates,
                    const std::vector<kernels::IntegerMatrixView>& residual_skips);
  void set_up_lanes(const std::vector<kernels::IntegerMatrixView>& filter_gates,
                    const std::vector<kernels::IntegerMatrixView>& residual_skips);

  const Network& network_;
  int capacity_;
  // [capacity][width] each.
  std::vector<float> x_, columns_, pre_, z_, residual_skip_, skip_, hidden_, logits_;
  // The fused kernel's arguments for every layer (pointed at one stream at a time; empty
  // when some layer is not in integer formats), its tap pointers and its 64-byte aligned
  // scratch.
  std::vector<kernels::FusedLayerArgs> fused_args_;
  std::vector<const float*> fused_taps_;
  kernels::AlignedArray<uint8_t> fused_codes_;
  kernels::AlignedFloats fused_rs_, fused_columns_, fused_pre_, fused_z_;
  // The lanes kernel's arguments for every layer (empty when the table has no lanes kernel
  // or some layer is not in integer formats), the per-stream pointers they point at, the
  // streams' skip sums and conditioning side by side, and scratch.
  std::vector<kernels::LanesLayerArgs> lanes_args_;
  std::vector<const float*> lanes_taps_;  // [layers][capacity][kernel_size]
  std::vector<float*> lanes_residuals_;   // [layers][capacity]
  kernels::AlignedFloats lanes_skip_;          // [groups][skip][kLanes]
  kernels::AlignedFloats lanes_conditioning_;  // [layers][groups][2*dilation][kLanes]
  std::vector<uint64_t> lanes_conditioning_stamps_;  // per stream slot: whose rows it holds
  kernels::AlignedFloats lanes_columns_, lanes_pre_, lanes_z_, lanes_residual_, lanes_rs_;
  kernels::AlignedArray<int32_t> lanes_codes_;
  kernels::AlignedArray<int8_t> lanes_filter_gate_weights_, lanes_residual_skip_weights_;
  // The lanes end kernel's arguments, when both end matrices are in integer formats too.
  std::optional<kernels::LanesEndArgs> lanes_end_;
  kernels::AlignedFloats lanes_hidden_, lanes_logits_;
  // Bound streams: their rings (layer by layer, group by group), where each layer's start,
  // the heads, and the kernel's per-group tap and residual pointers.
  std::vector<FastStream*> bound_;
  int bound_live_ = 0;
  kernels::AlignedFloats bound_rings_;
  std::vector<size_t> bound_ring_offsets_;  // per layer: its first group's ring
  std::vector<int> bound_heads_;            // per layer
  std::vector<const float*> bound_taps_;    // [layers][groups][kernel_size]
  std::vector<float*> bound_residuals_;     // [layers][groups]
  std::vector<float> start_row_;            // one stream's embedding before it goes to its lane
};

}  // namespace fastwave
