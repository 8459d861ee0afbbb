// bf16, int8 and int4 kernels of every ISA against the reference: integer paths bit for
// bit, bf16 within a float tolerance; and each format close to the float result.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "fastwave/error.h"
#include "kernels/linear.h"

namespace fastwave::kernels {

void PrintTo(Layout format, std::ostream* os) {
  *os << (format == Layout::kBf16 ? "bf16" : format == Layout::kInt8 ? "int8" : format == Layout::kInt4 ? "int4" : "f32");
}

namespace {

struct Data {
  std::vector<float> w, bias, x;
};

Data random_data(int rows, int cols, int count, int ldx, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1, 1);
  Data d;
  for (int i = 0; i < rows * cols; ++i) d.w.push_back(dist(rng));
  for (int i = 0; i < rows; ++i) d.bias.push_back(dist(rng));
  for (int i = 0; i < count * ldx; ++i) d.x.push_back(2.0f * dist(rng));
  return d;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  reference_kernels().convert_bf16(v.data(), int(v.size()), int(v.size()), out.data());
  return out;
}

// Symmetric per-row int8 and per-group int4, as the quantizer will do it.
Linear make(Layout format, int rows, int cols, const Data& d, float input_scale, int group = 16) {
  switch (format) {
    case Layout::kF32: return Linear::f32(rows, cols, d.w, d.bias);
    case Layout::kBf16: return Linear::bf16(rows, cols, to_bf16(d.w), d.bias);
    case Layout::kInt8: {
      std::vector<int8_t> q(d.w.size());
      std::vector<float> scale(rows);
      for (int r = 0; r < rows; ++r) {
        float max = 1e-12f;
        for (int c = 0; c < cols; ++c) max = std::fmax(max, std::fabs(d.w[r * cols + c]));
        scale[r] = max / 127;
        for (int c = 0; c < cols; ++c) q[r * cols + c] = int8_t(std::lrint(d.w[r * cols + c] / scale[r]));
      }
      return Linear::int8(rows, cols, q, scale, d.bias, input_scale);
    }
    case Layout::kInt4: {
      const int groups = (cols + group - 1) / group;
      std::vector<int8_t> q(d.w.size());
      std::vector<float> scale(size_t(rows) * groups);
      for (int r = 0; r < rows; ++r) {
        for (int g = 0; g < groups; ++g) {
          float max = 1e-12f;
          for (int c = g * group; c < std::min(cols, (g + 1) * group); ++c) max = std::fmax(max, std::fabs(d.w[r * cols + c]));
          scale[r * groups + g] = max / 7;
          for (int c = g * group; c < std::min(cols, (g + 1) * group); ++c) {
            q[r * cols + c] = int8_t(std::lrint(d.w[r * cols + c] / scale[r * groups + g]));
          }
        }
      }
      return Linear::int4(rows, cols, group, q, scale, d.bias, input_scale);
    }
  }
  return {};
}

class QuantizedKernels : public ::testing::TestWithParam<Layout> {};

TEST_P(QuantizedKernels, EveryIsaMatchesTheReference) {
  const Layout format = GetParam();
  std::mt19937 rng(17);
  for (int rows : {1, 5, 16, 17, 40, 100}) {
    for (int cols : {1, 3, 4, 7, 8, 13, 32, 64, 67, 130}) {
      for (int count : {1, 2, 5, 8, 13, 20}) {  // 8 and 4 inputs per tile, then single ones
        for (float input_scale : {0.0f, 0.01f}) {
          const int ldx = cols + 2, ldy = rows + 3;
          const Data d = random_data(rows, cols, count, ldx, rng);
          const Linear linear = make(format, rows, cols, d, input_scale);
          std::vector<float> expected(count * ldy, -3.0f);
          linear.apply(d.x.data(), ldx, count, expected.data(), ldy, reference_kernels());
          for (const auto* table : available_kernels()) {
            std::vector<float> actual(count * ldy, -3.0f);
            linear.apply(d.x.data(), ldx, count, actual.data(), ldy, *table);
            for (int n = 0; n < count; ++n) {
              for (int r = 0; r < ldy; ++r) {
                const float e = expected[n * ldy + r], a = actual[n * ldy + r];
                if (r >= rows || format != Layout::kBf16) {
                  ASSERT_EQ(a, e) << table->name << " rows=" << rows << " cols=" << cols << " n=" << n << " r=" << r;
                } else {
                  // bf16 products are exact in float; only the summation order differs.
                  ASSERT_NEAR(a, e, 4.0 * cols * FLT_EPSILON * (2.0 * cols + 1)) << table->name;
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST_P(QuantizedKernels, LeadingRowsAreTheFirstRowsOfTheFullProduct) {
  const Layout format = GetParam();
  std::mt19937 rng(9);
  const int rows = 53, cols = 40, count = 6;
  const Data d = random_data(rows, cols, count, cols, rng);
  const Linear linear = make(format, rows, cols, d, 0);
  for (const auto* table : available_kernels()) {
    std::vector<float> full(count * rows), part(count * rows, -7.0f);
    linear.apply(d.x.data(), cols, count, full.data(), rows, *table);
    for (int leading : {1, 16, 17, 32, 53}) {
      linear.apply_leading_rows(leading, d.x.data(), cols, count, part.data(), rows, *table);
      for (int n = 0; n < count; ++n) {
        for (int r = 0; r < leading; ++r) {
          ASSERT_EQ(part[n * rows + r], full[n * rows + r]) << table->name << " " << leading;
        }
      }
    }
    EXPECT_THROW(linear.apply_leading_rows(rows + 1, d.x.data(), cols, 1, part.data(), rows, *table), fastwave::Error);
  }
}

TEST_P(QuantizedKernels, StayCloseToTheFloatResult) {
  const Layout format = GetParam();
  std::mt19937 rng(5);
  const int rows = 64, cols = 256;
  const Data d = random_data(rows, cols, 1, cols, rng);
  std::vector<float> exact(rows), approx(rows);
  make(Layout::kF32, rows, cols, d, 0).apply(d.x.data(), cols, 1, exact.data(), rows, reference_kernels());
  make(format, rows, cols, d, 0).apply(d.x.data(), cols, 1, approx.data(), rows, active_kernels());
  double error = 0, energy = 0;
  for (int r = 0; r < rows; ++r) error += std::pow(approx[r] - exact[r], 2), energy += std::pow(exact[r], 2);
  // Relative RMS error: bf16 ~0.3%, int8 ~1%, int4 ~10% for uniform random data.
  const double limit = format == Layout::kBf16 ? 0.01 : format == Layout::kInt8 ? 0.03 : 0.2;
  EXPECT_LT(std::sqrt(error / energy), limit);
}

INSTANTIATE_TEST_SUITE_P(Formats, QuantizedKernels,
                         ::testing::Values(Layout::kBf16, Layout::kInt8, Layout::kInt4),
                         [](const auto& info) {
                           return info.param == Layout::kBf16 ? "bf16"
                                  : info.param == Layout::kInt8 ? "int8"
                                                                      : "int4";
                         });

TEST(ActivationQuantization, EveryIsaRoundsLikeTheReference) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-3, 3);
  for (const auto* table : available_kernels()) {
    for (int n : {1, 7, 16, 33, 100}) {
      std::vector<float> x(n);
      for (float& v : x) v = dist(rng);
      x[0] = 1e-39f;  // a denormal
      for (float scale : {0.0f, 0.004f, 1.0f}) {
        std::vector<uint8_t> expected(n + 9), actual(n + 9);
        const float s1 = reference_kernels().quantize_u8(x.data(), n, n + 9, scale, expected.data());
        const float s2 = table->quantize_u8(x.data(), n, n + 9, scale, actual.data());
        EXPECT_EQ(s1, s2) << table->name;
        EXPECT_EQ(actual, expected) << table->name;
        EXPECT_EQ(actual.back(), 128);
      }
      std::vector<uint16_t> b1(n + 3), b2(n + 3);
      reference_kernels().convert_bf16(x.data(), n, n + 3, b1.data());
      table->convert_bf16(x.data(), n, n + 3, b2.data());
      EXPECT_EQ(b1, b2) << table->name;
    }
  }
  std::vector<uint8_t> zeros(4);
  const std::vector<float> all_zero(4, 0.0f);
  EXPECT_EQ(reference_kernels().quantize_u8(all_zero.data(), 4, 4, 0.0f, zeros.data()), 1.0f);
  EXPECT_EQ(zeros, std::vector<uint8_t>(4, 128));
}

}  // namespace
}  // namespace fastwave::kernels
