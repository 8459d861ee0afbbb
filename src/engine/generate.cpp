#include <limits>
#include <string>

#include "engine/generators.h"
#include "fastwave/distribution.h"
#include "fastwave/error.h"
#include "fastwave/memory.h"

namespace fastwave {

void Conditioning::check(const ModelConfig& config) const {
  if (config.has_global()) {
    if (speaker < 0 || speaker >= config.speakers) {
      throw Error("this model needs a speaker id in [0, " + std::to_string(config.speakers - 1) +
                  "]" + (speaker < 0 ? " (--speaker)" : ", got " + std::to_string(speaker)));
    }
  } else if (speaker >= 0) {
    throw Error("this model has no speakers; drop the speaker id");
  }
  if (config.has_local()) {
    if (local_frames <= 0) throw Error("this model needs local conditioning features");
    if (local_features.size() != size_t(local_frames) * config.local_channels) {
      throw Error("local features must be [frames, " + std::to_string(config.local_channels) + "]");
    }
  } else if (local_frames > 0 || !local_features.empty()) {
    throw Error("this model takes no local conditioning features");
  }
}

int64_t Conditioning::max_samples(const ModelConfig& config) const {
  if (!config.has_local()) return std::numeric_limits<int64_t>::max();
  return int64_t(local_frames) * config.local_hop;
}

void check_push(const ModelConfig& config, int id, int64_t position, int64_t settled, bool finished) {
  if (id < 0 || id >= config.classes) {
    throw Error("sample id " + std::to_string(id) + " is not in [0, " + std::to_string(config.classes) + ")");
  }
  if (position >= settled) {
    throw Error(finished ? "local features end at sample " + std::to_string(settled)
                         : "the features received so far settle samples up to " + std::to_string(settled));
  }
}

void check_push(const ModelConfig& config, const Conditioning& conditioning, int id, int64_t position) {
  check_push(config, id, position, conditioning.max_samples(config), true);
}

std::span<const float> Generator::feed(std::span<const int> ids) {
  if (ids.empty()) throw Error("nothing to feed");
  std::span<const float> logits;
  for (int id : ids) logits = push(id);
  return logits;
}

std::unique_ptr<Generator> make_generator(std::shared_ptr<const Network> network, Method method,
                                          const Conditioning& conditioning) {
  if (!network) throw Error("make_generator: no network");
  conditioning.check(network->config());
  const WorkingMemory memory = working_memory(network->config());
  if (method == Method::kNaive) check_memory(memory.naive_generation, "naive generation with this model");
  else check_memory(memory.fast_generation, "generation with this model");
  return method == Method::kNaive ? make_naive_generator(std::move(network), conditioning)
                                  : make_fast_generator(std::move(network), conditioning);
}

std::unique_ptr<Generator> make_generator(const Model& model, Method method, const Conditioning& conditioning) {
  conditioning.check(model.config());
  return make_generator(Network::build(model), method, conditioning);
}

std::vector<int> generate(Generator& generator, const ModelConfig& config, const GenerateOptions& options) {
  if (options.samples < 0) throw Error("cannot generate a negative number of samples");
  if (!(options.temperature >= 0.0f)) throw Error("temperature must be >= 0");
  const std::vector<int> prime = options.prime.empty() ? std::vector<int>{config.classes / 2} : options.prime;
  UniformSource uniforms(options.seed);
  std::span<const float> logits = generator.feed(prime);

  // No reserve(samples): memory follows the samples made, not the number asked for.
  std::vector<int> out;
  const int64_t report_every = std::max<int64_t>(1, config.sample_rate / 10);
  constexpr size_t kSinkBlock = 4096;
  for (int64_t i = 0; i < options.samples; ++i) {
    const int id = sample_code(config, logits, options.temperature, uniforms);
    out.push_back(id);
    if (i + 1 < options.samples) logits = generator.push(id);
    if (options.sink && (out.size() == kSinkBlock || i + 1 == options.samples)) {
      options.sink(out);
      out.clear();
    }
    if (options.progress && ((i + 1) % report_every == 0 || i + 1 == options.samples)) {
      options.progress(i + 1, options.samples);
    }
  }
  return out;
}

}  // namespace fastwave
