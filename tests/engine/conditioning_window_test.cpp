// The conditioning terms of an upsampling vocoder are computed over a window of frames
// around the rows asked for: rows asked in any order and size are exactly those of one
// window over the whole utterance, and a long utterance holds only a window.
#include <gtest/gtest.h>

#include <utility>

#include "../test_util.h"
#include "engine/packed_model.h"
#include "fastwave/memory.h"
#include "fastwave/network.h"

namespace fastwave {
namespace {

ModelConfig vocoder_config(int freq_kernel, bool transposed) {
  ModelConfig c = testing::small_config();
  c.local_channels = 5;
  c = testing::with_upsampling(c);  // hop 6
  c.upsample_freq_kernel = freq_kernel;
  if (transposed) {
    c.upsample_transposed = true;
    c.upsample_conv_in = false;
    c.cin_pad = 0;
  }
  return c;
}

void expect_windows_match_the_whole(const ModelConfig& c) {
  const auto network = Network::build(Model::random(c, 11));
  const int frames = 700;  // several windows
  Conditioning conditioning;
  conditioning.local_frames = frames;
  conditioning.local_features.resize(size_t(frames) * c.local_channels);
  for (size_t i = 0; i < conditioning.local_features.size(); ++i) {
    conditioning.local_features[i] = 0.2f * float((i * 11) % 17) - 1.6f;
  }
  const int64_t samples = int64_t(frames) * c.local_hop;
  ConditioningTerms whole_terms(network->packed(), conditioning);
  const int width = whole_terms.width();
  std::vector<float> whole(size_t(samples) * width);
  whole_terms.compute(0, samples, whole.data());  // one window: every frame

  ConditioningTerms terms(network->packed(), conditioning);
  // In order by refills, then jumps forward and back, across window edges, and large.
  std::vector<std::pair<int64_t, int64_t>> asks;
  for (int64_t t = 0; t < 2000; t += 32) asks.emplace_back(t, t + 32);
  for (auto ask : {std::pair<int64_t, int64_t>{4000, 4001}, {3990, 4100}, {10, 40}, {samples - 5, samples},
                   {767, 769}, {1000, 3000}, {0, 1}, {2500, 2532}}) {
    asks.push_back(ask);
  }
  for (const auto& [t0, t1] : asks) {
    std::vector<float> rows(size_t(t1 - t0) * width);
    terms.compute(t0, t1, rows.data());
    const std::vector<float> expected(whole.begin() + t0 * width, whole.begin() + t1 * width);
    ASSERT_EQ(rows, expected) << "rows " << t0 << ".." << t1;
  }
}

TEST(ConditioningWindow, RowsInAnyOrderAreThoseOfTheWholeUtterance) {
  expect_windows_match_the_whole(vocoder_config(3, false));  // frequency kernel: upsample, then project
  expect_windows_match_the_whole(vocoder_config(1, false));  // project first, then the last stage
  expect_windows_match_the_whole(vocoder_config(1, true));   // transposed stages
}

// A long utterance is not upsampled whole: an hour of a 16 kHz vocoder's features would
// take 4.6 GB as upsampled frames; a window takes a few MB.
TEST(ConditioningWindow, ALongUtteranceNeedsOnlyAWindowOfMemory) {
  const ModelConfig c = vocoder_config(3, false);
  const auto network = Network::build(Model::random(c, 12));
  Conditioning conditioning;
  conditioning.local_frames = 200000;  // 1.2 M samples: 24 MB upsampled whole
  conditioning.local_features.assign(size_t(conditioning.local_frames) * c.local_channels, 0.5f);
  const uint64_t saved = memory_limit();
  set_memory_limit(8000000);
  ConditioningTerms terms(network->packed(), conditioning);
  std::vector<float> rows(size_t(32) * terms.width());
  EXPECT_NO_THROW(terms.compute(600000, 600032, rows.data()));
  set_memory_limit(saved);
}

}  // namespace
}  // namespace fastwave
