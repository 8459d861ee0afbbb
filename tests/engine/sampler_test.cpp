#include <gtest/gtest.h>

#include <cmath>

#include "fastwave/generator.h"

namespace fastwave {
namespace {

TEST(Sampler, TemperatureZeroIsArgmax) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  for (double u : {0.0, 0.5, 0.999}) EXPECT_EQ(sample_id(logits, 0.0f, u), 1);
}

TEST(Sampler, InverseCdfFollowsTheSoftmax) {
  const std::vector<float> logits = {std::log(0.25f), std::log(0.5f), std::log(0.25f)};
  EXPECT_EQ(sample_id(logits, 1.0f, 0.0), 0);
  EXPECT_EQ(sample_id(logits, 1.0f, 0.24), 0);
  EXPECT_EQ(sample_id(logits, 1.0f, 0.26), 1);
  EXPECT_EQ(sample_id(logits, 1.0f, 0.74), 1);
  EXPECT_EQ(sample_id(logits, 1.0f, 0.76), 2);
  EXPECT_EQ(sample_id(logits, 1.0f, 0.9999999), 2);
}

TEST(Sampler, UniformSourceIsSeededAndInRange) {
  UniformSource a(5), b(5), c(6);
  double mean = 0;
  for (int i = 0; i < 10000; ++i) {
    const double x = a.next();
    EXPECT_EQ(x, b.next());
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    mean += x / 10000;
  }
  EXPECT_NEAR(mean, 0.5, 0.02);
  EXPECT_NE(UniformSource(5).next(), c.next());
}

}  // namespace
}  // namespace fastwave
