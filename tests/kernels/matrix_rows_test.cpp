// Packing from row blocks: a matrix stacked from blocks, or decoded row by row, packs into
// exactly the bytes the whole row-major array packs into, in every layout.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "fastwave/error.h"
#include "kernels/linear.h"
#include "kernels/matrix_rows.h"

namespace fastwave::kernels {
namespace {

template <typename T>
void append(std::vector<uint8_t>& out, const T* values, size_t count) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(values);
  out.insert(out.end(), bytes, bytes + count * sizeof(T));
}

// Every byte the kernels read of a Linear: weights, bias, scales, corrections.
std::vector<uint8_t> packed_bytes(const Linear& l) {
  const auto weights = l.packed_weights();
  std::vector<uint8_t> out(weights.begin(), weights.end());
  const size_t padded_rows = size_t(l.f32_view().panels) * kPanelRows;
  switch (l.layout()) {
    case Layout::kF32: {
      const PackedView v = l.f32_view();
      append(out, v.bias, padded_rows);
      break;
    }
    case Layout::kBf16: {
      const Bf16View v = l.bf16_view();
      append(out, v.bias, padded_rows);
      break;
    }
    case Layout::kInt8: {
      const Int8View v = l.int8_view();
      append(out, v.bias, padded_rows);
      append(out, v.scale, padded_rows);
      append(out, v.correction, padded_rows);
      break;
    }
    case Layout::kInt4: {
      const Int4View v = l.int4_view();
      append(out, v.bias, padded_rows);
      append(out, v.scale, padded_rows * v.groups);
      append(out, v.correction, padded_rows * v.groups);
      break;
    }
  }
  return out;
}

// `values` [rows][cols] as two blocks split after `first_rows` rows.
template <typename T>
MatrixRows<T> split(const std::vector<T>& values, int cols, int first_rows) {
  const std::span<const T> all(values);
  return MatrixRows<T>(cols, {all.first(size_t(first_rows) * cols), all.subspan(size_t(first_rows) * cols)});
}

// `values` [rows][cols] decoded row by row, as packed codes are.
MatrixRows<int8_t> decoded(const std::vector<int8_t>& values, int rows, int cols) {
  return MatrixRows<int8_t>(rows, cols, [&values, cols](int r, std::span<int8_t> out) {
    std::memcpy(out.data(), values.data() + size_t(r) * cols, size_t(cols));
  });
}

TEST(MatrixRows, ReadsRowsAcrossBlocksAndDecodes) {
  const std::vector<float> a{1, 2, 3, 4}, b{5, 6};
  const MatrixRows<float> rows(2, {a, b});
  EXPECT_EQ(rows.rows(), 3);
  EXPECT_EQ(rows.row(1), a.data() + 2);
  EXPECT_EQ(rows.row(2), b.data());
  EXPECT_THROW(rows.row(3), Error);
  EXPECT_THROW(MatrixRows<float>(3, {a}), Error) << "4 values are not whole rows of 3";
  EXPECT_TRUE(MatrixRows<float>().empty());

  const std::vector<int8_t> codes{1, 2, 3, 4, 5, 6};
  const MatrixRows<int8_t> d = decoded(codes, 3, 2);
  std::vector<int8_t> scratch(2);
  EXPECT_EQ(d.row(2, scratch), scratch.data());
  EXPECT_EQ(scratch, (std::vector<int8_t>{5, 6}));
  EXPECT_THROW(d.row(0), Error) << "decoding needs scratch";
}

TEST(MatrixRows, StackedBlocksPackLikeTheWholeArrayInEveryLayout) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> real(-1, 1);
  std::uniform_int_distribution<int> int8_code(-127, 127), int4_code(-8, 7);
  for (const auto& [rows, cols, first] : {std::tuple{21, 13, 7}, std::tuple{48, 64, 16}, std::tuple{3, 37, 1}}) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols) + " split after " + std::to_string(first));
    std::vector<float> w(size_t(rows) * cols), bias(rows), row_scale(rows);
    for (auto& v : w) v = real(rng);
    for (auto& v : bias) v = real(rng);
    for (auto& v : row_scale) v = 0.5f + real(rng) * 0.25f;
    std::vector<uint16_t> halves(w.size());
    reference_kernels().convert_bf16(w.data(), int(w.size()), int(w.size()), halves.data());
    std::vector<int8_t> q8(w.size()), q4(w.size());
    for (auto& v : q8) v = int8_t(int8_code(rng));
    for (auto& v : q4) v = int8_t(int4_code(rng));
    const int group = 8, groups = (cols + group - 1) / group;
    std::vector<float> group_scale(size_t(rows) * groups);
    for (auto& v : group_scale) v = 0.5f + real(rng) * 0.25f;

    EXPECT_EQ(packed_bytes(Linear::f32(split(w, cols, first), split(bias, 1, first))),
              packed_bytes(Linear::f32(rows, cols, w, bias)));
    EXPECT_EQ(packed_bytes(Linear::f32(split(w, cols, first), {})), packed_bytes(Linear::f32(rows, cols, w, {})));
    EXPECT_EQ(packed_bytes(Linear::bf16(split(halves, cols, first), split(bias, 1, first))),
              packed_bytes(Linear::bf16(rows, cols, halves, bias)));
    for (float input_scale : {0.0f, 0.02f}) {
      const Linear int8_whole = Linear::int8(rows, cols, q8, row_scale, bias, input_scale);
      EXPECT_EQ(packed_bytes(Linear::int8(split(q8, cols, first), split(row_scale, 1, first), split(bias, 1, first),
                                          input_scale)),
                packed_bytes(int8_whole));
      EXPECT_EQ(packed_bytes(Linear::int8(decoded(q8, rows, cols), split(row_scale, 1, first), split(bias, 1, first),
                                          input_scale)),
                packed_bytes(int8_whole));
      const Linear int4_whole = Linear::int4(rows, cols, group, q4, group_scale, bias, input_scale);
      EXPECT_EQ(packed_bytes(Linear::int4(group, split(q4, cols, first), split(group_scale, groups, first),
                                          split(bias, 1, first), input_scale)),
                packed_bytes(int4_whole));
      EXPECT_EQ(packed_bytes(Linear::int4(group, decoded(q4, rows, cols), split(group_scale, groups, first),
                                          split(bias, 1, first), input_scale)),
                packed_bytes(int4_whole));
    }
  }
}

TEST(MatrixRows, PackersRefuseMismatchedParts) {
  const std::vector<float> w(12, 0.5f), three(3, 1.0f), four(4, 1.0f);
  EXPECT_THROW(Linear::f32(MatrixRows<float>(3, {w}), MatrixRows<float>(1, {three})), Error) << "4 rows, 3 biases";
  EXPECT_NO_THROW(Linear::f32(MatrixRows<float>(3, {w}), MatrixRows<float>(1, {four})));
  const std::vector<int8_t> codes(12, 1);
  EXPECT_THROW(Linear::int8(MatrixRows<int8_t>(3, {codes}), MatrixRows<float>(1, {three}), {}, 0), Error);
  EXPECT_THROW(Linear::int4(8, MatrixRows<int8_t>(3, {codes}), MatrixRows<float>(2, {four}), {}, 0), Error)
      << "one group of 8 covers 3 columns: scales must be [4][1]";
}

}  // namespace
}  // namespace fastwave::kernels
