// Teacher-forced evaluation: the sequence is cut into chunks of positions, each chunk
// computed as GEMMs over time (with one receptive field of context); a block of chunks,
// one per thread, is computed in parallel and handed over before the next, so memory
// does not grow with the sequence.
#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "engine/generators.h"
#include "engine/sequence_forward.h"
#include "fastwave/error.h"
#include "fastwave/evaluate.h"
#include "fastwave/distribution.h"
#include "fastwave/memory.h"

namespace fastwave {

namespace {

// One worker per chunk at most: more threads than chunks would only cost memory.
int worker_count(int threads, int64_t rows, int64_t chunk) {
  return int(std::clamp<int64_t>(threads, 1, std::max<int64_t>(1, (rows + chunk - 1) / chunk)));
}

}  // namespace

struct TeacherForcing::State {
  State(std::shared_ptr<const Network> net, std::span<const int> ids, const Conditioning& conditioning, int threads)
      : network(std::move(net)),
        ids(ids),
        width(network->config().outputs()),
        rows(int64_t(ids.size()) - 1),
        chunk(working_memory(network->config()).evaluation_chunk),
        workers(worker_count(threads, rows, chunk)) {
    for (int w = 0; w < workers; ++w) {  // terms cache upsampled frames: one per thread
      terms.emplace_back(std::make_unique<ConditioningTerms>(network->packed(), conditioning));
      forwards.emplace_back(std::make_unique<SequenceForward>(network->packed(), *terms.back(), network->kernels()));
    }
    block.resize(size_t(workers) * chunk * width);
  }

  std::shared_ptr<const Network> network;
  std::span<const int> ids;
  int width;  // outputs per row
  int64_t rows, chunk;
  int workers;
  std::vector<std::unique_ptr<ConditioningTerms>> terms;
  std::vector<std::unique_ptr<SequenceForward>> forwards;
  std::vector<float> block;
  int64_t next_row = 0;
};

namespace {

// Validates everything before the (possibly large) allocations of State.
void check_request(const ModelConfig& c, std::span<const int> ids, const Conditioning& conditioning, int threads) {
  conditioning.check(c);
  if (ids.size() < 2) throw Error("need at least 2 samples to evaluate");
  for (size_t t = 0; t < ids.size(); ++t) check_push(c, conditioning, ids[t], int64_t(t));
  const WorkingMemory memory = working_memory(c);
  const uint64_t workers = uint64_t(worker_count(threads, int64_t(ids.size()) - 1, memory.evaluation_chunk));
  check_memory(memory.packed_weights + workers * memory.evaluation_per_thread, "evaluating with this model");
}

}  // namespace

TeacherForcing::TeacherForcing(std::shared_ptr<const Network> network, std::span<const int> ids,
                               const Conditioning& conditioning, int threads) {
  if (!network) throw Error("TeacherForcing: no network");
  check_request(network->config(), ids, conditioning, threads);
  state_ = std::make_unique<State>(std::move(network), ids, conditioning, threads);
}

TeacherForcing::TeacherForcing(const Model& model, std::span<const int> ids, const Conditioning& conditioning,
                               int threads) {
  check_request(model.config(), ids, conditioning, threads);
  state_ = std::make_unique<State>(Network::build(model), ids, conditioning, threads);
}

void TeacherForcing::set_observer(Observer observer) {
  // One worker: the observer then sees the rows in order, from one thread.
  state_->workers = 1;
  state_->forwards.front()->set_observer(std::move(observer));
}

TeacherForcing::~TeacherForcing() = default;

int64_t TeacherForcing::rows() const { return state_->rows; }

std::span<const float> TeacherForcing::next(int64_t* first_row) {
  State& s = *state_;
  *first_row = s.next_row;
  const int64_t begin = s.next_row, end = std::min(s.rows, begin + s.workers * s.chunk);
  if (begin >= end) return {};
  const int chunks = int((end - begin + s.chunk - 1) / s.chunk);
  std::vector<std::exception_ptr> errors(chunks);
  auto work = [&](int i) {
    try {
      const int64_t b = begin + i * s.chunk, e = std::min(end, b + s.chunk);
      s.forwards[i]->run(s.ids, b, e, &s.block[size_t(i) * s.chunk * s.width]);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < chunks; ++i) pool.emplace_back(work, i);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  s.next_row = end;
  return std::span<const float>(s.block).first(size_t(end - begin) * s.width);
}

std::vector<float> teacher_forced_logits(const Model& model, std::span<const int> ids,
                                         const Conditioning& conditioning, int threads) {
  TeacherForcing forcing(model, ids, conditioning, threads);
  std::vector<float> logits;
  logits.reserve(size_t(forcing.rows()) * model.config().outputs());
  int64_t first = 0;
  for (auto block = forcing.next(&first); !block.empty(); block = forcing.next(&first)) {
    logits.insert(logits.end(), block.begin(), block.end());
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

double nll_bits(const ModelConfig& config, std::span<const float> logits, std::span<const int> ids) {
  if (config.output == ModelConfig::Output::kSoftmax) return nll_bits(logits, ids, config.classes);
  const size_t width = size_t(config.outputs()), rows = logits.size() / width;
  double total = 0;
  for (size_t t = 0; t < rows; ++t) total += code_nll_bits(config, logits.subspan(t * width, width), ids[t + 1]);
  return rows ? total / rows : 0.0;
}

EvalResult evaluate(const Model& model, std::span<const int> ids, const Conditioning& conditioning,
                    int threads, std::vector<float>* logits_out) {
  TeacherForcing forcing(model, ids, conditioning, threads);
  const ModelConfig& config = model.config();
  const size_t width = size_t(config.outputs());
  if (logits_out) logits_out->clear();
  double total_bits = 0;
  int64_t first = 0;
  for (auto block = forcing.next(&first); !block.empty(); block = forcing.next(&first)) {
    total_bits += nll_bits(config, block, ids.subspan(size_t(first))) * double(block.size() / width);
    if (logits_out) logits_out->insert(logits_out->end(), block.begin(), block.end());
  }
  EvalResult result;
  result.positions = forcing.rows();
  result.nll_bits_per_sample = total_bits / double(result.positions);
  return result;
}

}  // namespace fastwave
