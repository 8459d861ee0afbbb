// config.preemphasis: the codes are of e[n] = x[n] - a x[n-1], and decoding undoes it,
// in one piece or many.
#include <gtest/gtest.h>

#include <cmath>

#include "../test_util.h"
#include "fastwave/audio.h"
#include "fastwave/distribution.h"

namespace fastwave {
namespace {

constexpr double kA = 0.85;

ModelConfig emphasised(bool mixture) {
  ModelConfig c = testing::small_config();
  c.classes = 256;
  if (mixture) {
    c.output = ModelConfig::Output::kLogisticMixture;
    c.mixtures = 2;
    c.classes = 65536;
  }
  c.preemphasis = kA;
  return c;
}

// Speech-like: a low tone under a quieter high one, with a loud stretch that clips.
std::vector<float> test_signal() {
  std::vector<float> x(3001);
  for (size_t t = 0; t < x.size(); ++t) {
    x[t] = float(0.4 * std::sin(0.031 * double(t)) + 0.05 * std::sin(1.9 * double(t)));
  }
  for (size_t t = 2000; t < 2100; ++t) x[t] = t % 2 ? 1.0f : -1.0f;  // e[n] = +-1.85: clamped
  return x;
}

TEST(Preemphasis, CodesAreThoseOfTheEmphasisedSignal) {
  const auto x = test_signal();
  for (bool mixture : {false, true}) {
    const ModelConfig c = emphasised(mixture);
    const auto codes = encode_audio(c, x);
    ASSERT_EQ(codes.size(), x.size());
    for (size_t n = 0; n < x.size(); ++n) {
      const double e = double(x[n]) - kA * (n ? double(x[n - 1]) : 0.0);
      const int expected = mixture ? code_of_sample(e) : mulaw_encode(float(e), c.classes);
      ASSERT_EQ(codes[n], expected) << "sample " << n << (mixture ? " (16-bit)" : " (mu-law)");
    }
  }
}

TEST(Preemphasis, DecodingUndoesItWithinTheCodingError) {
  auto x = test_signal();
  x.resize(2000);  // before the clipped stretch
  for (bool mixture : {false, true}) {
    const ModelConfig c = emphasised(mixture);
    const auto back = decode_codes(c, encode_audio(c, x));
    ASSERT_EQ(back.size(), x.size());
    // Each code's error passes through 1 / (1 - a z^-1): at most 1 / (1 - a) times the
    // largest step error (half a 16-bit step; mu-law's half step near 0.45, 3.6% of 0.45).
    const double step_error = mixture ? 0.5 / 32768 : 0.018;
    double worst = 0;
    for (size_t n = 0; n < x.size(); ++n) worst = std::max(worst, std::fabs(double(back[n]) - x[n]));
    EXPECT_LE(worst, step_error / (1 - kA) + 1e-6) << (mixture ? "16-bit" : "mu-law");
  }
  ModelConfig plain = emphasised(false);
  plain.preemphasis = 0;  // without it, a code decodes to its own value
  EXPECT_EQ(decode_codes(plain, std::vector<int>{0, 255, 128}), (std::vector<float>{-1.0f, 1.0f,
                                                                                    mulaw_decode(128, 256)}));
}

TEST(Preemphasis, PiecesDecodeAsTheWhole) {
  const ModelConfig c = emphasised(false);
  const auto codes = encode_audio(c, test_signal());
  const auto whole = decode_codes(c, codes);
  AudioDecoder decoder(c);
  std::vector<float> pieces;
  size_t at = 0;
  for (size_t length : {size_t(1), size_t(0), size_t(7), size_t(300), codes.size()}) {
    const size_t n = std::min(length, codes.size() - at);
    const auto piece = decoder.decode(std::span<const int>(codes).subspan(at, n));
    pieces.insert(pieces.end(), piece.begin(), piece.end());
    at += n;
  }
  EXPECT_EQ(pieces, whole);
}

TEST(Preemphasis, ConfigKeyRoundTripsAndIsChecked) {
  const ModelConfig c = emphasised(false);
  EXPECT_NE(c.to_json().find("\"preemphasis\":0.85"), std::string::npos);
  EXPECT_EQ(ModelConfig::from_json(c.to_json()).preemphasis, kA);
  EXPECT_EQ(testing::small_config().to_json().find("preemphasis"), std::string::npos);  // 0: not written
  for (double bad : {-0.1, 1.0, 1.5}) {
    ModelConfig b = c;
    b.preemphasis = bad;
    EXPECT_THROW(b.validate(), Error) << bad;
  }
  std::string json = c.to_json();
  json.replace(json.find("0.85"), 4, "true");
  EXPECT_THROW(ModelConfig::from_json(json), Error);
}

}  // namespace
}  // namespace fastwave
