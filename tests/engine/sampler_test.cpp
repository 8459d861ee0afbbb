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

TEST(Sampler, ManyClassesFollowTheSoftmaxOverAGridOfDraws) {
  // 256 classes (16 blocks of the search) and a temperature: the share of a fine grid of
  // uniforms landing on each class is its probability, to within the grid's resolution.
  std::vector<float> logits(256);
  for (int i = 0; i < 256; ++i) logits[i] = std::sin(0.37f * i) * 3.0f;
  const float temperature = 0.8f;
  std::vector<double> p(256);
  double z = 0;
  for (int i = 0; i < 256; ++i) z += p[i] = std::exp(double(logits[i]) / temperature);
  const int draws = 200000;
  std::vector<int> counts(256, 0);
  for (int k = 0; k < draws; ++k) ++counts[sample_id(logits, temperature, (k + 0.5) / draws)];
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(double(counts[i]) / draws, p[i] / z, 2.0 / draws) << "class " << i;
  EXPECT_EQ(sample_id(logits, temperature, 0.0), 0);
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
