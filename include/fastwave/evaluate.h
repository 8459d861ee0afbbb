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

// How far a model (a quantized one, say) is from a reference on the same audio: the
// quantities llama.cpp reports for its quantization types.
struct Fidelity {
  int64_t positions = 0;
  double reference_nll_bits = 0;  // per sample
  double nll_bits = 0;
  double kl_mean = 0;             // KL(reference || model), nats per sample
  double kl_p50 = 0, kl_p90 = 0, kl_p99 = 0, kl_max = 0;
  double top1_agreement = 0;      // share of positions where both rank the same class first
  double nll_change() const { return reference_nll_bits > 0 ? nll_bits / reference_nll_bits - 1 : 0; }
};

// Adds files one at a time; result() summarises everything added.
class FidelityAccumulator {
 public:
  void add(std::span<const float> reference_logits, std::span<const float> logits, std::span<const int> ids,
           int classes);
  Fidelity result() const;

 private:
  std::vector<double> kl_;
  double reference_nll_ = 0, nll_ = 0;
  int64_t agree_ = 0;
};

}  // namespace fastwave
