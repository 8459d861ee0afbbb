// Many streams over one Network: each thread steps its share of the streams as one batch.
#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
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
  // Steps until done: the prime, then one per sample after the first (which the prime's
  // last step gives).
  int64_t steps() const { return int64_t(prime.size()) + std::max<int64_t>(request->samples - 1, 0); }
};

// Steps a thread's share of the lanes to the end, the longest first, so that the lanes
// still running are always the first ones, as streams bound to lanes for life need.
void run_lanes(FastStepper& stepper, std::span<Lane> lanes, std::atomic<int64_t>& done_samples,
               const std::function<void()>& report) {
  const Network& network = stepper.network();
  std::stable_sort(lanes.begin(), lanes.end(), [](const Lane& a, const Lane& b) { return a.steps() > b.steps(); });
  std::vector<FastStream*> streams;
  for (const Lane& lane : lanes) streams.push_back(lane.stream.get());
  if (stepper.steps_in_lanes()) stepper.bind(streams);
  std::vector<int> ids;
  std::vector<Lane*> active;
  for (int64_t step = 1;; ++step) {
    streams.clear();
    ids.clear();
    active.clear();
    for (Lane& lane : lanes) {
      if (lane.done) break;  // the others are done too
      active.push_back(&lane);
      streams.push_back(lane.stream.get());
      ids.push_back(lane.fed < lane.prime.size() ? lane.prime[lane.fed] : lane.next_id);
    }
    if (active.empty()) break;
    if (stepper.steps_in_lanes()) stepper.step_bound(ids);
    else stepper.step(streams, ids);
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
  for (size_t i = 0; i < requests.size(); ++i) {
    const StreamRequest& r = requests[i];
    if (r.samples < 0) throw Error("stream " + std::to_string(i) + ": cannot generate a negative number of samples");
    if (!(r.temperature >= 0.0f)) throw Error("stream " + std::to_string(i) + ": temperature must be >= 0");
    r.conditioning.check(config);
  }
  if (requests.empty()) return out;
  // Each thread steps a share of the streams with a stepper of its own; where it steps
  // them in lanes it keeps their rings, else they live in one arena.
  const int threads = std::min<int>(options.threads, int(requests.size()));
  const size_t share = (requests.size() + threads - 1) / threads;
  std::vector<std::unique_ptr<FastStepper>> steppers;
  size_t in_arena = 0;
  for (size_t begin = 0; begin < requests.size(); begin += share) {
    steppers.push_back(std::make_unique<FastStepper>(network, int(std::min(share, requests.size() - begin))));
    if (!steppers.back()->steps_in_lanes()) in_arena += std::min(share, requests.size() - begin);
  }
  const RingArena rings(network, int(in_arena));  // outlives the lanes' streams
  std::vector<Lane> lanes;
  lanes.reserve(requests.size());
  int64_t total = 0;
  in_arena = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const StreamRequest& r = requests[i];
    out[i].reserve(size_t(r.samples));
    auto stream = steppers[i / share]->steps_in_lanes()
                      ? std::make_unique<FastStream>(network, r.conditioning, FastStream::RingsInLanes{})
                      : std::make_unique<FastStream>(network, r.conditioning, rings.stream(int(in_arena++)));
    lanes.push_back({&r, r.prime.empty() ? std::vector<int>{config.classes / 2} : r.prime, std::move(stream),
                     UniformSource(r.seed), &out[i]});
    total += r.samples;
  }

  std::atomic<int64_t> done{0};
  const auto report = [&] {
    if (options.progress) options.progress(done.load(), total);
  };
  std::vector<std::exception_ptr> errors(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const size_t begin = t * share, end = std::min(lanes.size(), begin + share);
    if (begin >= end) break;
    auto work = [&, t, begin, end] {
      try {
        run_lanes(*steppers[t], std::span<Lane>(lanes).subspan(begin, end - begin), done,
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
