// Streaming vocoding: frames pushed in any pieces give exactly the codes of vocoding the
// whole utterance at once, each sample as soon as the frames received settle it.
#include <gtest/gtest.h>

#include "../test_util.h"
#include "fastwave/vocoder.h"

namespace fastwave {
namespace {

ModelConfig vocoder_config() {
  ModelConfig c = testing::small_config();
  c.local_channels = 5;
  return testing::with_upsampling(c);  // hop 6, conv_in over 3 frames, stages 2 and 3
}

std::vector<float> features(const ModelConfig& c, int frames) {
  std::vector<float> f(size_t(frames) * c.local_channels);
  for (size_t i = 0; i < f.size(); ++i) f[i] = 0.3f * float((i * 7) % 13) - 1.5f;
  return f;
}

// What `fastwave vocode` writes for the whole utterance: silence at sample 0, then generate().
std::vector<int> offline(const std::shared_ptr<const Network>& network, const std::vector<float>& mel,
                         const VocoderStreamOptions& o) {
  const ModelConfig& c = network->config();
  Conditioning conditioning{o.speaker, mel, int(mel.size() / c.local_channels)};
  auto generator = make_generator(network, Method::kFast, conditioning);
  GenerateOptions options;
  options.samples = conditioning.max_samples(c) - 1;
  options.seed = o.seed;
  options.temperature = o.temperature;
  std::vector<int> codes = {c.classes / 2};
  const auto sampled = generate(*generator, c, options);
  codes.insert(codes.end(), sampled.begin(), sampled.end());
  return codes;
}

// The codes of streaming `mel` in pieces of `pieces` frames (cycled), then finish().
std::vector<int> streamed(const std::shared_ptr<const Network>& network, const std::vector<float>& mel,
                          const VocoderStreamOptions& o, const std::vector<int>& pieces) {
  const ModelConfig& c = network->config();
  const int frames = int(mel.size() / c.local_channels);
  VocoderStream stream(network, o);
  std::vector<int> codes;
  int sent = 0;
  for (size_t i = 0; sent < frames; ++i) {
    const int n = std::min(pieces[i % pieces.size()], frames - sent);
    const auto more = stream.push(std::span(mel).subspan(size_t(sent) * c.local_channels, size_t(n) * c.local_channels));
    sent += n;
    codes.insert(codes.end(), more.begin(), more.end());
    // Everything up to lookahead frames before the last one received is out already.
    EXPECT_EQ(stream.samples(), int64_t(std::max(0, sent - stream.lookahead_frames())) * c.local_hop);
  }
  const auto rest = stream.finish();
  codes.insert(codes.end(), rest.begin(), rest.end());
  EXPECT_EQ(stream.samples(), int64_t(frames) * c.local_hop);
  return codes;
}

void expect_streaming_matches_offline(const Model& model, const VocoderStreamOptions& o, int frames = 23) {
  const auto network = Network::build(model);
  const auto mel = features(model.config(), frames);
  const auto whole = offline(network, mel, o);
  ASSERT_EQ(whole.size(), size_t(frames) * model.config().local_hop);
  for (const std::vector<int>& pieces : std::vector<std::vector<int>>{{frames}, {1}, {3, 0, 1, 7}, {2, 5}}) {
    EXPECT_EQ(streamed(network, mel, o, pieces), whole) << "pieces of " << pieces[0] << ", " << pieces.back();
  }
}

TEST(VocoderStream, LookAheadIsTheUpsamplingNetworksReach) {
  const auto network = Network::build(Model::random(vocoder_config(), 1));
  EXPECT_EQ(VocoderStream(network).lookahead_frames(), 3);  // conv_in's 1 frame + one per stage
  ModelConfig plain = testing::small_config();
  plain.local_channels = 5;
  plain.local_hop = 4;
  EXPECT_EQ(VocoderStream(Network::build(Model::random(plain, 1))).lookahead_frames(), 0);
}

TEST(VocoderStream, FloatVocoderMatchesOffline) {
  expect_streaming_matches_offline(Model::random(vocoder_config(), 2), {-1, 1.0f, 7});
}

TEST(VocoderStream, Int8VocoderMatchesOfflineGreedyAndSampled) {
  QuantizeOptions q;
  q.scheme = Scheme::kInt8Dynamic;
  const Model model = quantize(Model::random(vocoder_config(), 3), q);
  expect_streaming_matches_offline(model, {-1, 0.0f, 1});
  expect_streaming_matches_offline(model, {-1, 0.9f, 2});
}

TEST(VocoderStream, WithoutUpsamplingFramesSettleAtOnce) {
  ModelConfig c = testing::small_config();
  c.local_channels = 5;
  c.local_hop = 4;
  expect_streaming_matches_offline(Model::random(c, 4), {-1, 1.0f, 3});
}

TEST(VocoderStream, TransposedUpsamplingSpeakersAndMixturesMatchOffline) {
  ModelConfig c = vocoder_config();
  c.upsample_transposed = true;  // r9y9's 2018 stages: no conv_in
  c.upsample_conv_in = false;
  c.cin_pad = 0;
  c.speakers = 3;
  c.global_channels = 4;
  expect_streaming_matches_offline(Model::random(c, 5), {2, 1.0f, 4});
  ModelConfig mixture = vocoder_config();
  mixture.output = ModelConfig::Output::kLogisticMixture;
  mixture.mixtures = 3;
  mixture.classes = 65536;
  expect_streaming_matches_offline(Model::random(mixture, 6), {-1, 1.0f, 5});
}

// Long enough that the frames held are trimmed many times over.
TEST(VocoderStream, LongStreamFrameByFrameMatchesOffline) {
  const auto network = Network::build(Model::random(vocoder_config(), 7));
  const auto mel = features(network->config(), 400);
  EXPECT_EQ(streamed(network, mel, {-1, 1.0f, 9}, {1}), offline(network, mel, {-1, 1.0f, 9}));
}

TEST(VocoderStream, RefusesMisuse) {
  const auto network = Network::build(Model::random(vocoder_config(), 8));
  EXPECT_THROW(VocoderStream(network).finish(), Error);  // no frames at all
  VocoderStream stream(network);
  EXPECT_THROW(stream.push(std::vector<float>(7)), Error);  // not whole frames of 5
  stream.push(features(network->config(), 2));
  stream.finish();
  EXPECT_THROW(stream.push(features(network->config(), 1)), Error);
  EXPECT_THROW(VocoderStream(Network::build(Model::random(testing::small_config(), 9))), Error);
  ModelConfig speakers = vocoder_config();
  speakers.speakers = 2;
  speakers.global_channels = 3;
  EXPECT_THROW(VocoderStream(Network::build(Model::random(speakers, 10)), {5, 1.0f, 0}), Error);
}

}  // namespace
}  // namespace fastwave
