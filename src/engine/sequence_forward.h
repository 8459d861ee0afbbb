// The whole network over a span of positions at once, each layer one GEMM over time.
// Serves teacher-forced evaluation and naive generation.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "engine/packed_model.h"

namespace fastwave {

class SequenceForward {
 public:
  SequenceForward(const PackedModel& model, const ConditioningTerms& conditioning,
                  const kernels::KernelTable& kernels);

  // logits[(t - begin) * classes] for positions t in [begin, end), given ids[0..end).
  // Computes from max(0, begin - receptive_field + 1): every position that can matter.
  void run(std::span<const int> ids, int64_t begin, int64_t end, float* logits);

  // Sees the input of every matrix product for positions [begin, end) before it runs
  // (TeacherForcing::Observer has the point numbering).
  using Observer = std::function<void(int point, const float* x, int64_t rows, int width)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }

 private:
  const PackedModel& model_;
  const ConditioningTerms& conditioning_;
  const kernels::KernelTable& kernels_;
  // Scratch, reused across calls: residual stream, im2col, pre-activations, gate output,
  // residual+skip conv output, skip sum of the output positions, end hidden, conditioning.
  std::vector<float> x_, columns_, pre_, z_, residual_skip_, skip_, hidden_, cond_;
  Observer observer_;
};

}  // namespace fastwave
