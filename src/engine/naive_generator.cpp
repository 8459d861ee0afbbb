// Naive generation: every sample recomputes the network over its whole receptive field,
// as pytorch-wavenet's generate() does. Slow by design; it is the oracle for the fast path.
#include <string>

#include "engine/generators.h"
#include "engine/packed_model.h"
#include "engine/sequence_forward.h"
#include "fastwave/error.h"

namespace fastwave {
namespace {

class NaiveGenerator final : public Generator {
 public:
  NaiveGenerator(std::shared_ptr<const Network> network, const Conditioning& conditioning)
      : network_(std::move(network)),
        model_(network_->packed()),
        conditioning_(conditioning),
        terms_(model_, conditioning_),
        forward_(model_, terms_, network_->kernels()),
        logits_(model_.config.outputs()) {}

  void reset() override { history_.clear(); }

  std::span<const float> push(int id) override {
    check_push(model_.config, conditioning_, id, position());
    history_.push_back(id);
    forward_.run(history_, position() - 1, position(), logits_.data());
    return logits_;
  }

  std::span<const float> feed(std::span<const int> ids) override {
    if (ids.empty()) throw Error("nothing to feed");
    for (int id : ids) {
      check_push(model_.config, conditioning_, id, position());
      history_.push_back(id);
    }
    forward_.run(history_, position() - 1, position(), logits_.data());
    return logits_;
  }

  int64_t position() const override { return static_cast<int64_t>(history_.size()); }

 private:
  std::shared_ptr<const Network> network_;
  const PackedModel& model_;
  Conditioning conditioning_;
  ConditioningTerms terms_;
  SequenceForward forward_;
  std::vector<int> history_;
  std::vector<float> logits_;
};

}  // namespace

std::unique_ptr<Generator> make_naive_generator(std::shared_ptr<const Network> network,
                                                const Conditioning& conditioning) {
  return std::make_unique<NaiveGenerator>(std::move(network), conditioning);
}

}  // namespace fastwave
