// Teacher-forced evaluation: the sequence is cut into chunks of positions, each chunk
// computed as GEMMs over time (with one receptive field of context), chunks spread
// over threads.
#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "engine/generators.h"
#include "engine/sequence_forward.h"
#include "fastwave/error.h"
#include "fastwave/evaluate.h"

namespace fastwave {
namespace {

// Each chunk recomputes one receptive field of context (4093 samples by default): long
// chunks keep that overhead small (25% here) at a few tens of MB of scratch.
constexpr int64_t kChunkPositions = 16384;

}  // namespace

std::vector<float> teacher_forced_logits(const Model& model, std::span<const int> ids,
                                         const Conditioning& conditioning, int threads) {
  const ModelConfig& c = model.config();
  conditioning.check(c);
  if (ids.size() < 2) throw Error("need at least 2 samples to evaluate");
  for (size_t t = 0; t < ids.size(); ++t) check_push(c, conditioning, ids[t], int64_t(t));
  const PackedModel packed(model);
  const auto& kernels = kernels::active_kernels();
  const ConditioningTerms terms(packed, conditioning, kernels);

  const int64_t rows = int64_t(ids.size()) - 1;
  std::vector<float> logits(size_t(rows) * c.classes);
  const int64_t chunks = (rows + kChunkPositions - 1) / kChunkPositions;
  const int workers = int(std::clamp<int64_t>(threads, 1, chunks));
  std::vector<std::exception_ptr> errors(workers);
  auto work = [&](int worker) {
    try {
      SequenceForward forward(packed, terms, kernels);
      for (int64_t chunk = worker; chunk < chunks; chunk += workers) {
        const int64_t begin = chunk * kChunkPositions, end = std::min(rows, begin + kChunkPositions);
        forward.run(ids, begin, end, &logits[size_t(begin) * c.classes]);
      }
    } catch (...) {
      errors[worker] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return logits;
}

double nll_bits(std::span<const float> logits, std::span<const int> ids, int classes) {
  const size_t rows = logits.size() / classes;
  double total = 0;
  for (size_t t = 0; t < rows; ++t) {
    const float* row = &logits[t * classes];
    const float max = *std::max_element(row, row + classes);
    double sum = 0;
    for (int i = 0; i < classes; ++i) sum += std::exp(double(row[i]) - max);
    total += (std::log(sum) + max - row[ids[t + 1]]) / std::log(2.0);
  }
  return rows ? total / rows : 0.0;
}

EvalResult evaluate(const Model& model, std::span<const int> ids, const Conditioning& conditioning,
                    int threads, std::vector<float>* logits_out) {
  std::vector<float> logits = teacher_forced_logits(model, ids, conditioning, threads);
  EvalResult result;
  result.positions = int64_t(ids.size()) - 1;
  result.nll_bits_per_sample = nll_bits(logits, ids, model.config().classes);
  if (logits_out) *logits_out = std::move(logits);
  return result;
}

}  // namespace fastwave
