// Fast generation for one stream: a FastStream over a shared Network, stepped alone.
#include "engine/fast_step.h"
#include "engine/generators.h"

namespace fastwave {
namespace {

class FastGenerator final : public Generator {
 public:
  FastGenerator(std::shared_ptr<const Network> network, const Conditioning& conditioning)
      : network_(std::move(network)), stream_(*network_, conditioning), stepper_(*network_, 1) {}

  void reset() override { stream_.reset(); }

  std::span<const float> push(int id) override {
    FastStream* streams[] = {&stream_};
    stepper_.step(streams, {&id, 1});
    return stepper_.logits(0);
  }

  int64_t position() const override { return stream_.position(); }

 private:
  std::shared_ptr<const Network> network_;
  FastStream stream_;
  FastStepper stepper_;
};

}  // namespace

std::unique_ptr<Generator> make_fast_generator(std::shared_ptr<const Network> network,
                                               const Conditioning& conditioning) {
  return std::make_unique<FastGenerator>(std::move(network), conditioning);
}

}  // namespace fastwave
