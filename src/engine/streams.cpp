// Many streams over one Network: each thread steps its share of the streams as one batch.
#include <atomic>
#include <exception>
#include <thread>

#include "engine/fast_step.h"
#include "engine/sampler.h"
#include "fastwave/error.h"
#include "fastwave/generator.h"

namespace fastwave {
namespace {

constexpr int64_t kProgressEvery = 4096;  // steps between progress reports

// One stream's progress through its prime and its samples, exactly as generate() goes.
struct Lane {
  const StreamRequest* request;
  std::vector<int> prime;
  std::unique_ptr<FastStream> stream;
  UniformSource uniforms;
  std::vector<int>* out;
  size_t fed = 0;
  int next_id = 0;
  bool done = false;
};

void run_lanes(const Network& network, std::span<Lane> lanes, std::atomic<int64_t>& done_samples,
               const std::function<void()>& report) {
  FastStepper stepper(network, int(lanes.size()));
  std::vector<FastStream*> streams;
  std::vector<int> ids;
  std::vector<Lane*> active;
  for (int64_t step = 1;; ++step) {
    streams.clear();
    ids.clear();
    active.clear();
    for (Lane& lane : lanes) {
      if (lane.done) continue;
      active.push_back(&lane);
      streams.push_back(lane.stream.get());
      ids.push_back(lane.fed < lane.prime.size() ? lane.prime[lane.fed] : lane.next_id);
    }
    if (active.empty()) break;
    stepper.step(streams, ids);
    int64_t sampled = 0;
    for (size_t b = 0; b < active.size(); ++b) {
      Lane& lane = *active[b];
      if (++lane.fed < lane.prime.size()) continue;
      if (int64_t(lane.out->size()) == lane.request->samples) {
        lane.done = true;  // samples == 0: only the prime
        continue;
      }
      const int id = sample_code_with(network.kernels(), network.config(), stepper.logits(int(b)),
                                      lane.request->temperature, lane.uniforms);
      lane.out->push_back(id);
      ++sampled;
      if (int64_t(lane.out->size()) == lane.request->samples) lane.done = true;
      lane.next_id = id;
    }
    done_samples += sampled;
    if (report && step % kProgressEvery == 0) report();
  }
}

}  // namespace

std::vector<std::vector<int>> generate_streams(const Network& network, std::span<const StreamRequest> requests,
                                               const StreamsOptions& options) {
  const ModelConfig& config = network.config();
  if (options.threads < 1) throw Error("threads must be at least 1");
  std::vector<std::vector<int>> out(requests.size());
  const RingArena rings(network, int(requests.size()));  // outlives the lanes' streams
  std::vector<Lane> lanes;
  lanes.reserve(requests.size());
  int64_t total = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const StreamRequest& r = requests[i];
    if (r.samples < 0) throw Error("stream " + std::to_string(i) + ": cannot generate a negative number of samples");
    if (!(r.temperature >= 0.0f)) throw Error("stream " + std::to_string(i) + ": temperature must be >= 0");
    r.conditioning.check(config);
    out[i].reserve(size_t(r.samples));
    lanes.push_back({&r, r.prime.empty() ? std::vector<int>{config.classes / 2} : r.prime,
                     std::make_unique<FastStream>(network, r.conditioning, rings.stream(int(i))), UniformSource(r.seed), &out[i]});
    total += r.samples;
  }
  if (lanes.empty()) return out;

  std::atomic<int64_t> done{0};
  const auto report = [&] {
    if (options.progress) options.progress(done.load(), total);
  };
  const int threads = std::min<int>(options.threads, int(lanes.size()));
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  const size_t share = (lanes.size() + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const size_t begin = t * share, end = std::min(lanes.size(), begin + share);
    if (begin >= end) break;
    auto work = [&, t, begin, end] {
      try {
        run_lanes(network, std::span<Lane>(lanes).subspan(begin, end - begin), done,
                  t == 0 ? std::function<void()>(report) : std::function<void()>());
      } catch (...) {
        errors[t] = std::current_exception();
      }
    };
    if (t + 1 == threads) work();  // the calling thread takes the last share
    else pool.emplace_back(work);
  }
  for (auto& thread : pool) thread.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  report();
  return out;
}

}  // namespace fastwave
