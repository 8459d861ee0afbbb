// Teacher-forced evaluation over a whole sequence, computed for all positions at once.
#pragma once

#include <span>
#include <vector>

#include "fastwave/generator.h"

namespace fastwave {

struct EvalResult {
  double nll_bits_per_sample = 0;  // mean over positions 1..n-1
  int64_t positions = 0;           // number of predicted ids (n-1)
};

// Logits for every position: row t (size classes) predicts ids[t+1] from ids[0..t].
// Returns n-1 rows (the last id has nothing to predict). Uses `threads` worker threads.
std::vector<float> teacher_forced_logits(const Model& model, std::span<const int> ids,
                                         const Conditioning& conditioning = {},
                                         int threads = 1);

// Negative log-likelihood of `ids` in bits per sample; fills `logits_out` if non-null.
EvalResult evaluate(const Model& model, std::span<const int> ids,
                    const Conditioning& conditioning = {}, int threads = 1,
                    std::vector<float>* logits_out = nullptr);

// NLL in bits of each row's target, from logits laid out as above.
double nll_bits(std::span<const float> logits, std::span<const int> ids, int classes);

}  // namespace fastwave
