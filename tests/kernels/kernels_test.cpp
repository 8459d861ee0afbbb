// Every kernel table this CPU can run, against the reference, on awkward sizes.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

std::vector<float> random_values(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(Kernels, ReferenceComesFirstAndActiveIsAvailable) {
  const auto tables = available_kernels();
  ASSERT_FALSE(tables.empty());
  EXPECT_STREQ(tables.front()->name, "ref");
  bool found = false;
  for (const auto* t : tables) found = found || t == &active_kernels();
  EXPECT_TRUE(found);
}

TEST(Kernels, GemmMatchesReferenceOnAwkwardSizes) {
  std::mt19937 rng(7);
  const auto& ref = reference_kernels();
  for (const auto* table : available_kernels()) {
    for (int rows : {1, 3, 7, 16, 17, 33, 64, 100, 257}) {
      for (int cols : {1, 2, 5, 16, 31, 64, 129, 1023}) {
        for (int count : {1, 2, 3, 4, 5, 9}) {
          const auto w = random_values(size_t(rows) * cols, rng);
          const auto bias = random_values(rows, rng);
          const PackedMatrix packed(rows, cols, w, rows % 2 ? std::span<const float>{} : std::span<const float>(bias));
          const int ldx = cols + 3, ldy = rows + 5;  // strides wider than the data
          const auto x = random_values(size_t(count) * ldx, rng);
          std::vector<float> expected(size_t(count) * ldy, -7.0f), actual(size_t(count) * ldy, -7.0f);
          ref.gemm_f32(packed.view(), x.data(), ldx, count, expected.data(), ldy);
          table->gemm_f32(packed.view(), x.data(), ldx, count, actual.data(), ldy);
          for (int n = 0; n < count; ++n) {
            for (int r = 0; r < ldy; ++r) {
              if (r >= rows) {  // padding between rows of y is never written
                ASSERT_EQ(actual[n * ldy + r], -7.0f) << table->name;
                continue;
              }
              // Float error grows with the reduction length and the size of the terms.
              double magnitude = std::fabs(bias[r]);
              for (int c = 0; c < cols; ++c) magnitude += std::fabs(w[size_t(r) * cols + c] * x[n * ldx + c]);
              const double tolerance = 2.0 * cols * FLT_EPSILON * magnitude + 1e-6;
              ASSERT_NEAR(actual[n * ldy + r], expected[n * ldy + r], tolerance)
                  << table->name << " rows=" << rows << " cols=" << cols << " count=" << count << " r=" << r;
            }
          }
        }
      }
    }
  }
}

TEST(Kernels, GatedActivationMatchesReference) {
  std::mt19937 rng(3);
  const auto& ref = reference_kernels();
  for (const auto* table : available_kernels()) {
    for (int channels : {1, 7, 8, 15, 16, 17, 32, 33, 100}) {
      auto pre = random_values(2 * size_t(channels), rng, 12.0f);
      // Extremes must stay finite and saturate.
      pre[0] = -1000.0f;
      if (channels > 1) pre[channels] = -1000.0f, pre[1] = 1000.0f, pre[channels + 1] = 1000.0f;
      std::vector<float> expected(channels), actual(channels);
      ref.gated_activation(pre.data(), channels, expected.data());
      table->gated_activation(pre.data(), channels, actual.data());
      for (int i = 0; i < channels; ++i) {
        ASSERT_TRUE(std::isfinite(actual[i])) << table->name;
        // Bit for bit: integer schemes quantize this output next (see kernels_ref.cpp).
        ASSERT_EQ(actual[i], expected[i]) << table->name << " i=" << i << " pre " << pre[i] << ", " << pre[channels + i];
        // And the specification itself is tanh * sigmoid to a few ulps.
        const double exact = std::tanh(double(pre[i])) / (1.0 + std::exp(-double(pre[channels + i])));
        ASSERT_NEAR(expected[i], exact, 2e-6 + 2e-6 * std::fabs(exact)) << " i=" << i;
      }
    }
  }
}

TEST(Kernels, ScaledExpMatchesReference) {
  std::mt19937 rng(9);
  const auto& ref = reference_kernels();
  for (const auto* table : available_kernels()) {
    for (int n : {1, 7, 8, 15, 16, 17, 256, 257}) {
      auto x = random_values(n, rng, 30.0f);
      x[0] = -1e4f;  // underflows to zero, never NaN
      std::vector<float> expected(n), actual(n);
      ref.scaled_exp(x.data(), n, 5.0f, 0.7f, expected.data());
      table->scaled_exp(x.data(), n, 5.0f, 0.7f, actual.data());
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(actual[i], expected[i]) << table->name << " x " << x[i];
        const double exact = std::exp(double((x[i] - 5.0f) * 0.7f));  // of the same float argument
        ASSERT_NEAR(expected[i], exact, 2e-6 * exact + 1e-30) << " x " << x[i];
      }
    }
  }
}

TEST(Kernels, AccumulateMatchesReference) {
  std::mt19937 rng(10);
  const auto& ref = reference_kernels();
  for (const auto* table : available_kernels()) {
    for (int n : {1, 7, 8, 15, 16, 17, 32, 256, 257}) {
      const auto x = random_values(n, rng, 3.0f);
      auto expected = random_values(n + 1, rng, 3.0f);  // one past n must stay untouched
      auto actual = expected;
      ref.accumulate(x.data(), n, expected.data());
      table->accumulate(x.data(), n, actual.data());
      ASSERT_EQ(actual, expected) << table->name << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace fastwave::kernels
