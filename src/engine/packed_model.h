// A Model rearranged for computation: per layer, filter and gate convs fused into one
// matrix and residual and skip convs fused into another, each in its own weight format;
// conditioning projections stacked across layers.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "engine/upsample.h"
#include "fastwave/generator.h"
#include "kernels/linear.h"

namespace fastwave {

struct PackedLayer {
  int dilation = 1;
  // [2*dilation_channels, residual_channels*kernel_size]: column c*kernel_size + j is
  // channel c at tap j (tap k-1 is the current sample), the order of a Conv1d weight row;
  // rows are filter outputs then gate outputs.
  kernels::Linear filter_gate;
  // [residual + skip, dilation]: the residual conv's rows, then the skip conv's. The last
  // layer's residual output feeds nothing, so there it holds only the skip rows.
  kernels::Linear residual_skip;
  int skip_offset = 0;  // first skip row in residual_skip's output
};

struct PackedModel {
  explicit PackedModel(const Model& model);

  ModelConfig config;
  // One-hot input: [classes][residual], start conv columns plus bias. Scalar input: two
  // rows, the start conv's weights and its bias.
  std::vector<float> embedding;
  std::vector<PackedLayer> layers;
  kernels::Linear end1, end2;
  std::vector<float> global_embedding;  // [speakers][global_channels]
  kernels::PackedMatrix global_proj;    // [layers*2*dilation, global_channels]
  kernels::PackedMatrix local_proj;     // [layers*2*dilation, local_channels]
  UpsampleWeights upsample;             // empty without upsample_scales

  // The start conv's output for sample code `id` into out[residual].
  void start_row(int id, float* out) const;
  int pre_width() const { return 2 * config.dilation_channels; }
  // Bytes of weights (and scales) the layer and end matrices stream per sample.
  size_t weight_bytes() const;
};

// The conditioning terms added to every layer's pre-activations: one row of
// layers*2*dilation values per local frame (or a single row for global-only). With an
// upsampling network the frames are upsampled here and a "frame" is one sample.
//
// Offline the conditioning holds every frame. Streaming (the conditioning holds none yet),
// frames arrive with append() and rows exist as far as the frames received settle them:
// the upsampling network reaches lookahead_frames() ahead, so until the last frame the
// rows of the last lookahead_frames() frames wait. Only the frames that rows still to come
// can reach are kept, so a stream's memory stays bounded however long it runs. Either way
// the upsampling network runs over a window of the frames held around the rows asked for
// (upsampled features take 80 bytes per sample: a minute would be 77 MB), so compute()
// changes a cache: one object serves one thread.
class ConditioningTerms {
 public:
  // Keeps references to both (offline, to the conditioning's features): they must outlive
  // this object. The projections run on the
  // reference GEMM, or for upsampled rows on a float loop of fixed summation order
  // (project_rows), and upsampling is plain scalar code, so the terms are the same bits on
  // every ISA, and the same bits streamed as offline.
  ConditioningTerms(const PackedModel& model, const Conditioning& conditioning, bool streaming = false);

  bool active() const { return active_; }
  int width() const { return width_; }
  int64_t frame_of(int64_t position) const { return hop_ ? position / hop_ : 0; }
  // Rows there are: frames (samples when upsampled); 1 for global-only. Streaming, the
  // rows settled so far.
  int64_t frames() const { return frames_; }
  // Rows worth computing at once as the fast step moves on: with upsampling a row lasts one
  // sample, and one GEMM over many rows reads the projection once instead of per sample.
  int rows_per_refill() const { return model_.config.has_upsampling() ? 32 : 1; }
  // Rows for frames [f0, f1) into out[(f - f0) * width()].
  void compute(int64_t f0, int64_t f1, float* out) const;

  // Frames after a frame that its rows depend on (0 without upsampling).
  int lookahead_frames() const { return lookahead_; }
  // Streaming: appends `frames` [n][local_channels]; `last` when no more will come. No
  // position before `first_needed` (a sample) will be asked for again.
  void append(std::span<const float> frames, bool last, int64_t first_needed);
  bool streaming() const { return streaming_; }
  bool finished() const { return finished_; }
  // Samples whose rows are settled (all of them offline); unlimited without local features.
  int64_t settled_samples() const;

 private:
  // An upsampler over held frames that gives rows [sample0, sample1) exactly as one over
  // the whole utterance would (the cached window, or a new one).
  const Upsampler& upsampler_for(int64_t sample0, int64_t sample1) const;
  const PackedModel& model_;
  bool active_ = false, streaming_ = false, finished_ = true;
  int width_ = 0;
  int hop_ = 0;
  int64_t frames_ = 1;
  int lookahead_ = 0;
  std::vector<float> global_row_;
  // The local features held: frames [first_frame_, first_frame_ + held_frames_) at
  // features_ (the conditioning's own offline; window_ streaming).
  const float* features_ = nullptr;
  int64_t first_frame_ = 0, held_frames_ = 0;
  std::vector<float> window_;
  // With an upsampling network: frames [window_first_, window_first_ + window_frames_) of
  // those held, upsampled; rebuilt when rows outside its exact part are asked for.
  mutable std::unique_ptr<Upsampler> upsampler_;
  mutable int64_t window_first_ = 0, window_frames_ = 0;
};

}  // namespace fastwave
