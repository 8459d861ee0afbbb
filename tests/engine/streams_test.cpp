// Many streams over one Network: every stream of a batch equals the same stream generated
// alone, whatever the other streams' lengths, primes, speakers, local features and
// temperatures, on every kernel table and with one or two threads.
#include <gtest/gtest.h>

#include "../test_util.h"
#include "engine/fast_step.h"
#include "kernels/kernels.h"

namespace fastwave {
namespace {

ModelConfig conditioned_config() {
  ModelConfig c = testing::small_config();
  c.speakers = 3;
  c.global_channels = 4;
  c.local_channels = 5;
  c.local_hop = 16;
  return c;
}

std::vector<StreamRequest> varied_requests(const ModelConfig& c, int count = 6) {
  std::vector<StreamRequest> requests;
  const int64_t lengths[] = {0, 1, 57, 300, 301, 129};
  for (int b = 0; b < count; ++b) {
    StreamRequest r;
    r.samples = lengths[b % 6];
    r.seed = 100 + b;
    r.temperature = b % 6 == 2 ? 0.0f : (b % 2 ? 0.8f : 1.0f);
    for (int i = 0; i < (b % 6) * 7 + b / 6; ++i) r.prime.push_back((i * 13 + b) % c.classes);
    r.conditioning.speaker = b % c.speakers;
    const int64_t needed = int64_t(r.prime.size() + std::max<int64_t>(r.samples, 1));
    r.conditioning.local_frames = int(needed / c.local_hop + 1);
    for (int i = 0; i < r.conditioning.local_frames * c.local_channels; ++i) {
      r.conditioning.local_features.push_back(0.1f * float((i * 7 + b) % 11) - 0.5f);
    }
    requests.push_back(std::move(r));
  }
  return requests;
}

std::vector<int> alone(const std::shared_ptr<const Network>& network, const StreamRequest& r) {
  auto generator = make_generator(network, Method::kFast, r.conditioning);
  GenerateOptions options;
  options.samples = r.samples;
  options.temperature = r.temperature;
  options.seed = r.seed;
  options.prime = r.prime;
  return generate(*generator, network->config(), options);
}

void expect_streams_match_alone(const Model& model, bool exact, int count = 6) {
  const auto requests = varied_requests(model.config(), count);
  for (const auto* k : kernels::available_kernels()) {
    const auto network = Network::build(model, k->name);
    for (int threads : {1, 2}) {
      StreamsOptions options;
      options.threads = threads;
      int64_t last_done = -1, total = -1;
      options.progress = [&](int64_t done, int64_t all) {
        last_done = done;
        total = all;
      };
      const auto batch = generate_streams(*network, requests, options);
      ASSERT_EQ(batch.size(), requests.size());
      EXPECT_EQ(last_done, total);
      for (size_t b = 0; b < requests.size(); ++b) {
        const auto single = alone(network, requests[b]);
        ASSERT_EQ(batch[b].size(), size_t(requests[b].samples)) << k->name << " stream " << b;
        if (exact) {
          EXPECT_EQ(batch[b], single) << k->name << " threads " << threads << " stream " << b;
        } else {
          // Float products batched round differently; ids agree until a near tie.
          size_t same = 0;
          while (same < single.size() && batch[b][same] == single[same]) ++same;
          EXPECT_GE(same, std::min<size_t>(single.size(), 50)) << k->name << " stream " << b;
        }
      }
    }
  }
}

TEST(Streams, IntegerSchemesMatchTheStreamAloneExactly) {
  const Model model = Model::random(conditioned_config(), 21);
  for (Scheme scheme : {Scheme::kInt8Dynamic, Scheme::kInt4}) {
    QuantizeOptions options;
    options.scheme = scheme;
    SCOPED_TRACE(scheme_name(scheme));
    expect_streams_match_alone(quantize(model, options), true);
  }
}

// Enough streams for the lanes kernels (groups of 16 side by side): 34 streams are two
// whole groups and a part of one on one thread, a whole and a partial group per thread on two.
TEST(Streams, IntegerSchemesMatchTheStreamAloneExactlyInLanes) {
  const Model model = Model::random(conditioned_config(), 25);
  for (Scheme scheme : {Scheme::kInt8Dynamic, Scheme::kInt4}) {
    QuantizeOptions options;
    options.scheme = scheme;
    SCOPED_TRACE(scheme_name(scheme));
    expect_streams_match_alone(quantize(model, options), true, 34);
  }
}

// A vocoder's conditioning changes every sample (upsampled features): each lane must take
// its stream's row of the current position, not of the last refill.
TEST(Streams, VocoderStreamsMatchTheStreamAloneExactlyInLanes) {
  const ModelConfig c = testing::with_upsampling(conditioned_config());
  QuantizeOptions options;
  options.scheme = Scheme::kInt8Dynamic;
  expect_streams_match_alone(quantize(Model::random(c, 26), options), true, 34);
}

// A mixture output samples with several uniforms per code: each stream keeps its own order.
TEST(Streams, MixtureOutputStreamsMatchTheStreamAloneExactlyInLanes) {
  ModelConfig c = conditioned_config();
  c.output = ModelConfig::Output::kLogisticMixture;
  c.mixtures = 3;
  c.classes = 65536;
  QuantizeOptions options;
  options.scheme = Scheme::kInt8Dynamic;
  expect_streams_match_alone(quantize(Model::random(c, 27), options), true, 34);
}

TEST(Streams, FloatSchemesMatchTheStreamAlone) {
  const Model model = Model::random(conditioned_config(), 22);
  expect_streams_match_alone(model, false);
  QuantizeOptions options;
  options.scheme = Scheme::kBf16;
  expect_streams_match_alone(quantize(model, options), false);
}

TEST(Streams, OneNetworkServesManyGenerators) {
  const Model model = Model::random(testing::small_config(), 23);
  const auto network = Network::build(model);
  auto a = make_generator(network, Method::kFast);
  auto b = make_generator(network, Method::kFast);
  a->push(5);
  const auto logits_a = a->push(5);
  const std::vector<float> first(logits_a.begin(), logits_a.end());
  b->push(5);
  const auto second = b->push(5);
  EXPECT_EQ(first, std::vector<float>(second.begin(), second.end()));
  EXPECT_EQ(network.use_count(), 3);  // the two generators share it
}

// Streams bound to a stepper's lanes step only through it, and only ever fewer of them.
TEST(Streams, BoundStreamsStepOnlyThroughTheirStepper) {
  QuantizeOptions options;
  options.scheme = Scheme::kInt8Dynamic;
  const auto network = Network::build(quantize(Model::random(testing::small_config(), 28), options));
  const int count = 20;
  FastStepper stepper(*network, count);
  if (!stepper.steps_in_lanes()) GTEST_SKIP() << "no lanes kernels on this machine";
  std::vector<std::unique_ptr<FastStream>> owned;
  std::vector<FastStream*> streams;
  for (int b = 0; b < count; ++b) {
    owned.push_back(std::make_unique<FastStream>(*network, Conditioning{}, FastStream::RingsInLanes{}));
    streams.push_back(owned.back().get());
  }
  FastStream with_rings(*network, Conditioning{});
  FastStream* one_with_rings[] = {&with_rings};
  EXPECT_THROW(stepper.bind(one_with_rings), Error);
  FastStepper other(*network, 1);
  const int silence = network->config().classes / 2;
  EXPECT_THROW(other.step({&streams[0], 1}, {&silence, 1}), Error);  // its rings are in lanes

  stepper.bind(streams);
  const std::vector<int> ids(count, silence);
  stepper.step_bound(ids);
  EXPECT_EQ(streams[count - 1]->position(), 1);
  stepper.step_bound(std::span<const int>(ids).first(count - 3));
  EXPECT_EQ(streams[count - 1]->position(), 1);  // finished
  EXPECT_EQ(streams[0]->position(), 2);
  EXPECT_THROW(stepper.step_bound(ids), Error);  // a finished stream cannot come back
  EXPECT_THROW(stepper.step(streams, ids), Error);
  EXPECT_THROW(stepper.bind(streams), Error);
  EXPECT_THROW(streams[0]->reset(), Error);  // its history is in the stepper's lanes
}

TEST(Streams, RejectsBadRequests) {
  const Model model = Model::random(conditioned_config(), 24);
  const auto network = Network::build(model);
  std::vector<StreamRequest> requests(1);
  EXPECT_THROW(generate_streams(*network, requests), Error);  // no speaker, no features
  EXPECT_THROW(Network::build(model, "vax"), Error);
  requests = varied_requests(model.config());
  requests[1].samples = -1;
  EXPECT_THROW(generate_streams(*network, requests), Error);
  requests = varied_requests(model.config());
  StreamsOptions zero_threads;
  zero_threads.threads = 0;
  EXPECT_THROW(generate_streams(*network, requests, zero_threads), Error);
}

}  // namespace
}  // namespace fastwave
