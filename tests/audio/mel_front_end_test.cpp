// The vocoder's log-mel front end: frame count and alignment, normalisation, and a sine
// landing in its band.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "../test_util.h"

namespace fastwave {
namespace {

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

TEST(MelFrontEnd, SinePeaksInItsBand) {
  const ModelConfig c = default_vocoder_config();
  const MelFrontEnd front_end(c);
  // A sine at the centre of band 20 (HTK mel, evenly spaced between min_hz and max_hz).
  const double lo = hz_to_mel(c.local_mel->min_hz), hi = hz_to_mel(c.local_mel->max_hz);
  const double hz = mel_to_hz(lo + (hi - lo) * 21 / (c.local_channels + 1));
  std::vector<float> x(c.sample_rate);
  for (size_t t = 0; t < x.size(); ++t) x[t] = 0.5f * float(std::sin(2 * M_PI * hz * double(t) / c.sample_rate));
  const auto mel = front_end.compute(x);
  ASSERT_EQ(front_end.frames(int64_t(x.size())), int64_t(x.size()) / c.local_hop);
  ASSERT_EQ(mel.size(), size_t(x.size() / c.local_hop) * c.local_channels);
  for (int64_t f = 4; f + 4 < front_end.frames(int64_t(x.size())); ++f) {
    const float* row = &mel[size_t(f) * c.local_channels];
    EXPECT_EQ(std::max_element(row, row + c.local_channels) - row, 20) << "frame " << f;
  }
}

TEST(MelFrontEnd, FramesAreCentredOnTheSamplesTheyCondition) {
  const ModelConfig c = default_vocoder_config();
  const MelFrontEnd front_end(c);
  const int hop = c.local_hop;
  // A burst filling exactly frame 10's samples; silence elsewhere maps to 0 (the floor).
  std::vector<float> x(20 * hop + 100, 0.0f);
  for (int t = 10 * hop; t < 11 * hop; ++t) x[t] = 0.5f * float(std::sin(0.3 * t));
  const auto mel = front_end.compute(x);
  ASSERT_EQ(front_end.frames(int64_t(x.size())), 20);
  auto energy = [&](int f) {
    double sum = 0;
    for (int b = 0; b < c.local_channels; ++b) sum += mel[size_t(f) * c.local_channels + b];
    return sum;
  };
  for (int f = 0; f < 20; ++f) {
    if (f != 10) {
      EXPECT_GT(energy(10), energy(f)) << "frame " << f;
    }
  }
  EXPECT_EQ(energy(0), 0.0);  // the window (4 hops) does not reach the burst
  EXPECT_EQ(energy(19), 0.0);
}

TEST(MelFrontEnd, NeedsAModelThatRecordsOne) {
  EXPECT_THROW(MelFrontEnd(testing::small_config()), Error);
}

}  // namespace
}  // namespace fastwave
