// The generation step of the fast method (Paine et al. 2016), for one stream or many:
// each layer keeps a ring buffer of its last (kernel_size-1)*dilation+1 inputs per stream,
// and a step runs every conv of the network once for all the streams given, as GEMMs
// whose columns are the streams, so each weight is loaded once per step for all of them.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "engine/packed_model.h"
#include "fastwave/network.h"
#include "kernels/kernels.h"

namespace fastwave {

// What one stream remembers: its ring buffers, position and conditioning. Not movable
// (the conditioning terms point at the conditioning it owns).
class FastStream {
 public:
  FastStream(const Network& network, const Conditioning& conditioning);
  FastStream(const FastStream&) = delete;
  FastStream& operator=(const FastStream&) = delete;

  void reset();
  int64_t position() const { return position_; }
  const Conditioning& conditioning() const { return conditioning_; }

 private:
  friend class FastStepper;
  Conditioning conditioning_;
  ConditioningTerms terms_;
  std::vector<std::vector<float>> rings_;  // per layer, slots x residual_channels
  std::vector<int> heads_;                 // per layer, the slot of the current position
  // Conditioning rows (all layers) of frames [cond_frame_, cond_frame_ + cond_rows_), which
  // hold this position's.
  std::vector<float> cond_;
  int64_t cond_frame_ = -1;
  int64_t cond_rows_ = 0;
  const float* cond_row() const {
    return &cond_[size_t(terms_.frame_of(position_) - cond_frame_) * terms_.width()];
  }
  int64_t position_ = 0;
};

// Scratch for stepping up to `capacity` streams of one network at a time.
class FastStepper {
 public:
  FastStepper(const Network& network, int capacity);

  // Pushes ids[b] into *streams[b] at its position and computes the logits of the next id
  // of each, read back with logits(b) until the next step. Throws for an id out of range
  // or a position past the local features.
  void step(std::span<FastStream* const> streams, std::span<const int> ids);
  std::span<const float> logits(int b) const;

 private:
  // Every layer through the kernel table's fused layer kernel, one stream at a time.
  void fused_layers(std::span<FastStream* const> streams, std::span<const int> ids);
  // Every layer as GEMMs over the streams, through Linear: any weight format.
  void generic_layers(std::span<FastStream* const> streams);

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
};

}  // namespace fastwave
