// The whole network over a span of positions at once, each layer one GEMM over time.
// Serves teacher-forced evaluation and naive generation.
#pragma once

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

 private:
  const PackedModel& model_;
  const ConditioningTerms& conditioning_;
  const kernels::KernelTable& kernels_;
  // Scratch, reused across calls: residual stream, im2col, pre-activations, gate output,
  // residual conv output, all gate outputs of the output positions, skip, end hidden,
  // conditioning rows.
  std::vector<float> x_, columns_, pre_, z_, residual_out_, z_all_, skip_, hidden_, cond_;
};

}  // namespace fastwave
