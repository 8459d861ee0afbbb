// Teacher-forced evaluation over a whole sequence, computed for all positions at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "fastwave/generator.h"

namespace fastwave {

struct EvalResult {
  double nll_bits_per_sample = 0;  // mean over positions 1..n-1
  int64_t positions = 0;           // number of predicted ids (n-1)
};

// Teacher-forced logits of a whole sequence, delivered in order a block at a time, so
// that memory stays one chunk per thread however long the sequence: row t (config.outputs() values)
// predicts ids[t+1] from ids[0..t]; there are n-1 rows (the last id predicts nothing).
// Each block is up to `threads` chunks, computed in parallel as GEMMs over time. Checks
// the model's working memory against memory_limit() before allocating. `model`, `ids`
// and `conditioning` must outlive this object.
class TeacherForcing {
 public:
  TeacherForcing(std::shared_ptr<const Network> network, std::span<const int> ids,
                 const Conditioning& conditioning = {}, int threads = 1);
  // Builds a private Network.
  TeacherForcing(const Model& model, std::span<const int> ids, const Conditioning& conditioning = {},
                 int threads = 1);
  ~TeacherForcing();
  TeacherForcing(const TeacherForcing&) = delete;
  TeacherForcing& operator=(const TeacherForcing&) = delete;

  int64_t rows() const;
  // The next block of rows, starting at *first_row; empty when all rows were delivered.
  // Valid until the next call. Two objects with the same config, ids and threads deliver
  // blocks of the same rows (for comparing two models in step).
  std::span<const float> next(int64_t* first_row);

  // Sees the input of every matrix product for the rows being delivered (never the
  // context rows before them), before it runs: point 2n is layer n's filter/gate input,
  // 2n+1 its residual/skip input, 2L and 2L+1 the end convs' (`layers` = L). Calibration
  // collects activation ranges through it. With an observer the chunks run one at a time.
  using Observer = std::function<void(int point, const float* x, int64_t rows, int width)>;
  void set_observer(Observer observer);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Every logit at once (rows x config.outputs()): for short sequences; prefer TeacherForcing.
std::vector<float> teacher_forced_logits(const Model& model, std::span<const int> ids,
                                         const Conditioning& conditioning = {},
                                         int threads = 1);

// Negative log-likelihood of `ids` in bits per sample, streamed through TeacherForcing;
// fills `logits_out` if non-null (which then holds every logit).
EvalResult evaluate(const Model& model, std::span<const int> ids,
                    const Conditioning& conditioning = {}, int threads = 1,
                    std::vector<float>* logits_out = nullptr);

// Mean NLL in bits of each row's target, from logits laid out as above: row t of `logits`
// predicts ids[t+1] (pass ids.subspan(first_row) for a block).
// A softmax over `classes` logits per row:
double nll_bits(std::span<const float> logits, std::span<const int> ids, int classes);
// Any output (config.outputs() values per row; code_nll_bits in fastwave/distribution.h):
double nll_bits(const ModelConfig& config, std::span<const float> logits, std::span<const int> ids);

// How far a model (a quantized one, say) is from a reference on the same audio: the
// quantities llama.cpp reports for its quantization types.
struct Fidelity {
  int64_t positions = 0;
  double reference_nll_bits = 0;  // per sample
  double nll_bits = 0;
  double kl_mean = 0;             // KL(reference || model), nats per sample (output_kl)
  double kl_p50 = 0, kl_p90 = 0, kl_p99 = 0, kl_max = 0;
  double top1_agreement = 0;      // share of positions whose output_mode agrees
  double nll_change() const { return reference_nll_bits > 0 ? nll_bits / reference_nll_bits - 1 : 0; }
};

// Adds files one at a time; result() summarises everything added. Rows are
// config.outputs() wide; row t predicts ids[t + 1].
class FidelityAccumulator {
 public:
  void add(std::span<const float> reference_logits, std::span<const float> logits, std::span<const int> ids,
           const ModelConfig& config);
  Fidelity result() const;

 private:
  std::vector<float> kl_;  // per position, for the percentiles: 4 bytes each
  double reference_nll_ = 0, nll_ = 0, kl_sum_ = 0;
  int64_t agree_ = 0;
  UniformSource uniforms_{0x6b6c};  // a mixture's KL draws: the same numbers every run
};

}  // namespace fastwave
