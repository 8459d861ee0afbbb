#include <gtest/gtest.h>

#include <cmath>

#include "../test_util.h"

namespace fastwave {
namespace {

// 16-bit samples survive a write and a read exactly (the codes of mixture models).
TEST(Wav, SixteenBitSamplesRoundTripExactly) {
  testing::TempDir dir;
  std::vector<float> x;
  for (int s : {-32768, -32767, -12345, -1, 0, 1, 2, 12345, 32766, 32767}) x.push_back(float(s) / 32768.0f);
  write_wav(dir.file("x.wav"), x, 16000);
  EXPECT_EQ(read_audio(dir.file("x.wav"), 16000), x);
  // Beyond full scale clips; NaN is silence.
  write_wav(dir.file("y.wav"), std::vector<float>{1.5f, -2.0f, std::nanf("")}, 16000);
  EXPECT_EQ(read_audio(dir.file("y.wav"), 16000), (std::vector<float>{32767.0f / 32768, -1.0f, 0.0f}));
}

TEST(MuLaw, SilenceIsTheMiddleClassAndRoundTripsWithinAStep) {
  EXPECT_EQ(mulaw_encode(0.0f, 256), 128);
  EXPECT_EQ(mulaw_encode(-1.0f, 256), 0);
  EXPECT_EQ(mulaw_encode(1.0f, 256), 255);
  EXPECT_EQ(mulaw_encode(7.0f, 256), 255);  // clipped
  for (int id = 0; id < 256; ++id) EXPECT_EQ(mulaw_encode(mulaw_decode(id, 256), 256), id);
  int previous = 0;
  for (float x = -1.0f; x <= 1.0f; x += 0.001f) {
    const int id = mulaw_encode(x, 256);
    EXPECT_GE(id, previous);
    previous = id;
  }
}

TEST(Wav, WritesAndReadsBackAtTheSameRate) {
  testing::TempDir dir;
  std::vector<float> tone(1600);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(0.05f * i);
  write_wav(dir.file("tone.wav"), tone, 16000);
  const auto back = read_audio(dir.file("tone.wav"), 16000);
  ASSERT_EQ(back.size(), tone.size());
  for (size_t i = 0; i < tone.size(); ++i) ASSERT_NEAR(back[i], tone[i], 1.0 / 32768 + 1e-6);
  // Nothing but the file is left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(Wav, ResamplesOtherRates) {
  testing::TempDir dir;
  std::vector<float> tone(8000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.5f * std::sin(2 * M_PI * 440 * i / 8000.0);
  write_wav(dir.file("8k.wav"), tone, 8000);
  const auto up = read_audio(dir.file("8k.wav"), 16000);
  EXPECT_NEAR(double(up.size()), 16000.0, 2.0);
  // The tone keeps its amplitude through the resampler (away from the edges).
  float peak = 0;
  for (size_t i = 1000; i < 15000; ++i) peak = std::max(peak, std::fabs(up[i]));
  EXPECT_NEAR(peak, 0.5f, 0.01f);
}

TEST(Wav, RejectsFilesThatAreNotAudio) {
  testing::TempDir dir;
  testing::write_bytes(dir.file("junk.wav"), {'R', 'I', 'F', 'F', 1, 2, 3});
  EXPECT_THROW(read_audio(dir.file("junk.wav"), 16000), Error);
  EXPECT_THROW(read_audio(dir.file("missing.wav"), 16000), Error);
}

TEST(Ids, ReadsAndRejects) {
  testing::TempDir dir;
  write_ids(dir.file("ids.txt"), std::vector<int>{1, 2, 255, 0});
  EXPECT_EQ(read_ids(dir.file("ids.txt"), 256), (std::vector<int>{1, 2, 255, 0}));
  EXPECT_THROW(read_ids(dir.file("ids.txt"), 100), Error);  // 255 is not a class
  testing::write_bytes(dir.file("bad.txt"), {'1', ' ', 'x', '\n'});
  EXPECT_THROW(read_ids(dir.file("bad.txt"), 256), Error);
}

TEST(Npy, RoundTrips) {
  testing::TempDir dir;
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  write_npy(dir.file("a.npy"), values, {2, 3});
  std::vector<int64_t> shape;
  EXPECT_EQ(read_npy(dir.file("a.npy"), &shape), values);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3}));
  const auto bytes = testing::read_bytes(dir.file("a.npy"));
  EXPECT_EQ((bytes.size() - 24) % 64, 0u);  // header padded to 64 bytes
}

}  // namespace
}  // namespace fastwave
