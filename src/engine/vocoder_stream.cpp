// VocoderStream: a FastStream whose features arrive in pieces, sampled as generate() samples.
#include <string>

#include "engine/fast_step.h"
#include "fastwave/distribution.h"
#include "fastwave/error.h"
#include "fastwave/vocoder.h"

namespace fastwave {

struct VocoderStream::State {
  State(std::shared_ptr<const Network> shared, const VocoderStreamOptions& options)
      : network(std::move(shared)),
        stream(*network, Conditioning{options.speaker, {}, 0}, nullptr, true),
        stepper(*network, 1),
        temperature(options.temperature),
        uniforms(options.seed) {}

  std::shared_ptr<const Network> network;
  FastStream stream;
  FastStepper stepper;
  float temperature;
  UniformSource uniforms;
  // The code to push at the stream's position: sample 0 is silence, as generate()'s prime.
  int next_code = -1;
  bool finished = false;
};

VocoderStream::VocoderStream(std::shared_ptr<const Network> network, const VocoderStreamOptions& options) {
  if (!network) throw Error("VocoderStream: no network");
  const ModelConfig& c = network->config();
  if (!c.has_local()) throw Error("a vocoder stream needs a model with local conditioning");
  if (!(options.temperature >= 0.0f)) throw Error("temperature must be >= 0");
  state_ = std::make_unique<State>(std::move(network), options);
  state_->next_code = c.classes / 2;
}

VocoderStream::~VocoderStream() = default;

int VocoderStream::lookahead_frames() const { return state_->stream.lookahead_frames(); }

std::vector<int> VocoderStream::push(std::span<const float> frames) { return append(frames, false); }

std::vector<int> VocoderStream::finish() { return append({}, true); }

std::vector<int> VocoderStream::append(std::span<const float> frames, bool last) {
  State& s = *state_;
  if (s.finished) throw Error("the vocoder stream has finished: no more frames");
  s.stream.append_features(frames, last);
  s.finished = last;
  const ModelConfig& c = s.network->config();
  std::vector<int> codes;
  if (emitted_ == 0 && s.stream.settled_positions() > 0) {
    codes.push_back(s.next_code);  // the silence at sample 0
    ++emitted_;
  }
  // Sample k comes from the logits after pushing sample k-1 at position k-1, so it exists
  // once position k is settled (offline: k < frames x hop).
  FastStream* streams[] = {&s.stream};
  while (emitted_ > 0 && emitted_ < s.stream.settled_positions()) {
    s.stepper.step(streams, {&s.next_code, 1});
    s.next_code = sample_code(c, s.stepper.logits(0), s.temperature, s.uniforms);
    codes.push_back(s.next_code);
    ++emitted_;
  }
  return codes;
}

}  // namespace fastwave
