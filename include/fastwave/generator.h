// Autoregressive generation: a Generator consumes one µ-law id at a time and returns the
// logits that predict the next one, so it serves both offline generation and live streams.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "fastwave/model.h"
#include "fastwave/network.h"

namespace fastwave {

// Conditioning for one sequence. `local_features` is [frames][local_channels] row-major;
// frame f covers samples [f*local_hop, (f+1)*local_hop).
struct Conditioning {
  int speaker = -1;  // required (0..speakers-1) when the model has global conditioning
  std::vector<float> local_features;
  int local_frames = 0;

  // Throws fastwave::Error if this does not fit `config`.
  void check(const ModelConfig& config) const;
  // Samples that local features cover; unlimited (INT64_MAX) without local conditioning.
  int64_t max_samples(const ModelConfig& config) const;
};

enum class Method {
  kNaive,  // recomputes the whole receptive field per sample: the baseline and the oracle
  kFast,   // Paine et al. 2016: per-layer ring buffers, O(layers) per sample
};

class Generator {
 public:
  virtual ~Generator() = default;
  // Forgets all history: the next push() is position 0.
  virtual void reset() = 0;
  // Feeds the id at the current position; returns logits (size classes) for the next
  // position. The span stays valid until the next call.
  virtual std::span<const float> push(int id) = 0;
  virtual int64_t position() const = 0;
  // Feeds several ids (a prime); returns the logits after the last one. The naive
  // generator computes only those, not one window per id.
  virtual std::span<const float> feed(std::span<const int> ids);
};

// A generator is per-stream state over a shared Network: make many from one network
// to run many streams over one copy of the weights.
std::unique_ptr<Generator> make_generator(std::shared_ptr<const Network> network, Method method,
                                          const Conditioning& conditioning = {});
// Builds a private Network for this one generator.
std::unique_ptr<Generator> make_generator(const Model& model, Method method,
                                          const Conditioning& conditioning = {});

// Picks the next id from logits. Temperature 0 is greedy argmax. The uniform draw is an
// argument, so reference and engine can be compared on identical randomness.
int sample_id(std::span<const float> logits, float temperature, double uniform01);

// A seeded stream of uniforms in [0, 1), identical on every platform.
class UniformSource {
 public:
  explicit UniformSource(uint64_t seed) : state_(seed) {}
  double next();

 private:
  uint64_t state_;
};

struct GenerateOptions {
  int64_t samples = 16000;
  float temperature = 1.0f;
  uint64_t seed = 0;
  std::vector<int> prime;  // ids fed before generating; empty = one silence id
  // Called now and then with (done, total); may be empty.
  std::function<void(int64_t, int64_t)> progress;
  // When set, new ids are handed over in blocks as they are sampled and generate() keeps
  // none (it returns an empty vector), so memory stays flat however long the run.
  std::function<void(std::span<const int>)> sink;
};

// Feeds the prime, then samples `samples` new ids; returns only the new ids (or passes
// them to options.sink).
std::vector<int> generate(Generator& generator, const ModelConfig& config,
                          const GenerateOptions& options);

// One of several streams generated together.
struct StreamRequest {
  Conditioning conditioning;
  std::vector<int> prime;  // ids fed before generating; empty = one silence id
  int64_t samples = 16000;
  float temperature = 1.0f;
  uint64_t seed = 0;
};

struct StreamsOptions {
  int threads = 1;  // threads split the streams; each steps its share as one batch
  // Called now and then with (samples done, samples in all) from one thread; may be empty.
  std::function<void(int64_t, int64_t)> progress;
};

// Generates every stream with the fast method, stepping them together so that each weight
// is loaded once per step for all of them. Stream b's ids are those generate() gives for
// it alone on a fast generator (exactly for integer schemes; float schemes may round the
// batched products differently). Streams may differ in every field of StreamRequest.
std::vector<std::vector<int>> generate_streams(const Network& network,
                                               std::span<const StreamRequest> streams,
                                               const StreamsOptions& options = {});

}  // namespace fastwave
