// The fused layer kernel: every ISA against the reference bit for bit, and each against
// the unfused step it replaces (quantize, product, conditioning, gate, quantize, product,
// sums through Linear::apply with the same table), on awkward sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "kernels/kernels.h"
#include "kernels/linear.h"

namespace fastwave::kernels {
namespace {

int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

std::vector<float> uniform(size_t n, float range, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Random integer weights as the quantizer stores them (int8 in [-127, 127], int4 in [-7, 7]).
Linear random_integer_linear(bool int4, int rows, int cols, float input_scale, std::mt19937& rng) {
  const int group = 16;
  std::uniform_int_distribution<int> code(int4 ? -7 : -127, int4 ? 7 : 127);
  std::vector<int8_t> w(size_t(rows) * cols);
  for (auto& v : w) v = int8_t(code(rng));
  const auto bias = uniform(rows, 0.5f, rng);
  if (int4) {
    std::uniform_real_distribution<float> scale(0.01f, 0.1f);
    std::vector<float> scales(size_t(rows) * ((cols + group - 1) / group));
    for (float& s : scales) s = scale(rng);
    return Linear::int4(rows, cols, group, w, scales, bias, input_scale);
  }
  std::uniform_real_distribution<float> scale(0.001f, 0.01f);
  std::vector<float> scales(rows);
  for (float& s : scales) s = scale(rng);
  return Linear::int8(rows, cols, w, scales, bias, input_scale);
}

IntegerMatrixView view_of(const Linear& l) {
  IntegerMatrixView v{};
  v.is_int4 = l.format() == WeightFormat::kInt4;
  if (v.is_int4) v.int4 = l.int4_view();
  else v.int8 = l.int8_view();
  v.input_scale = l.input_scale();
  v.padded_cols = l.padded_cols();
  return v;
}

struct Shape {
  int residual, dilation, skip, kernel_size;
  bool conditioning, last, filter_gate_int4, residual_skip_int4, static_scales;
};

std::string describe(const Shape& s) {
  return "res " + std::to_string(s.residual) + " dil " + std::to_string(s.dilation) + " skip " +
         std::to_string(s.skip) + " k " + std::to_string(s.kernel_size) + (s.conditioning ? " cond" : "") +
         (s.last ? " last" : "") + (s.filter_gate_int4 ? " fg-int4" : " fg-int8") +
         (s.residual_skip_int4 ? " rs-int4" : " rs-int8") + (s.static_scales ? " static" : " dynamic");
}

// One layer's inputs and the state it updates.
struct Layer {
  Shape shape;
  Linear filter_gate, residual_skip;
  std::vector<std::vector<float>> taps;
  std::vector<float> conditioning, skip;
  int skip_offset = 0;

  Layer(const Shape& s, std::mt19937& rng) : shape(s) {
    filter_gate = random_integer_linear(s.filter_gate_int4, 2 * s.dilation, s.kernel_size * s.residual,
                                        s.static_scales ? 0.02f : 0.0f, rng);
    const int rs_rows = s.last ? s.skip : s.residual + s.skip;
    residual_skip = random_integer_linear(s.residual_skip_int4, rs_rows, s.dilation, s.static_scales ? 0.008f : 0.0f, rng);
    skip_offset = s.last ? 0 : s.residual;
    for (int j = 0; j < s.kernel_size; ++j) taps.push_back(uniform(s.residual, 2.0f, rng));
    if (s.conditioning) conditioning = uniform(2 * s.dilation, 1.0f, rng);
    skip = uniform(s.skip, 1.0f, rng);
  }
};

// The fused kernel of `k` on a copy of the layer's state; returns the residual output then
// skip. `in_place`: the residual output overwrites the last tap.
std::vector<float> run_fused(const KernelTable& k, const Layer& l, bool in_place = false) {
  const Shape& s = l.shape;
  auto bytes = [](size_t floats) { return AlignedFloats(static_cast<float*>(allocate_aligned(floats * sizeof(float)))); };
  AlignedArray<uint8_t> codes(static_cast<uint8_t*>(
      allocate_aligned(round_up(std::max(l.filter_gate.padded_cols(), l.residual_skip.padded_cols()), 64))));
  AlignedFloats columns = bytes(round_up(s.kernel_size * s.residual, 16)), pre = bytes(round_up(2 * s.dilation, 16)),
                z = bytes(round_up(s.dilation, 16)), rs = bytes(round_up(l.residual_skip.rows(), 16));
  std::vector<std::vector<float>> tap_copies = l.taps;
  std::vector<const float*> taps;
  for (const auto& t : tap_copies) taps.push_back(t.data());
  std::vector<float> residual(s.residual, 1e30f), skip = l.skip;  // residual: all overwritten
  if (in_place) std::swap(residual, tap_copies.back());
  FusedLayerArgs a{};
  a.taps = taps.data();
  a.kernel_size = s.kernel_size;
  a.residual_channels = s.residual;
  a.dilation_channels = s.dilation;
  a.filter_gate = view_of(l.filter_gate);
  a.residual_skip = view_of(l.residual_skip);
  a.conditioning = s.conditioning ? l.conditioning.data() : nullptr;
  a.residual = s.last ? nullptr : residual.data();
  if (in_place && !s.last) a.residual = tap_copies.back().data();
  a.skip = skip.data();
  a.skip_offset = l.skip_offset;
  a.skip_channels = s.skip;
  a.codes = codes.get();
  a.columns = columns.get();
  a.pre = pre.get();
  a.z = z.get();
  a.rs = rs.get();
  k.fused_layer(a);
  if (in_place) residual = tap_copies.back();
  if (s.last) residual.assign(s.residual, 1e30f);
  residual.insert(residual.end(), skip.begin(), skip.end());
  return residual;
}

// The same layer the way the unfused step computes it, with the same table.
std::vector<float> run_unfused(const KernelTable& k, const Layer& l) {
  const Shape& s = l.shape;
  std::vector<float> columns(size_t(s.kernel_size) * s.residual);
  for (int c = 0; c < s.residual; ++c) {
    for (int j = 0; j < s.kernel_size; ++j) columns[size_t(c) * s.kernel_size + j] = l.taps[j][c];
  }
  std::vector<float> pre(2 * s.dilation), z(s.dilation), rs(l.residual_skip.rows());
  l.filter_gate.apply(columns.data(), int(columns.size()), 1, pre.data(), int(pre.size()), k);
  if (s.conditioning) k.accumulate(l.conditioning.data(), 2 * s.dilation, pre.data());
  k.gated_activation(pre.data(), s.dilation, z.data());
  l.residual_skip.apply(z.data(), s.dilation, 1, rs.data(), int(rs.size()), k);
  std::vector<float> residual = l.taps.back(), skip = l.skip;
  if (!s.last) k.accumulate(rs.data(), s.residual, residual.data());
  else residual.assign(s.residual, 1e30f);
  k.accumulate(rs.data() + l.skip_offset, s.skip, skip.data());
  residual.insert(residual.end(), skip.begin(), skip.end());
  return residual;
}

std::vector<Shape> awkward_shapes() {
  std::vector<Shape> shapes;
  const int sizes[][3] = {{32, 32, 256}, {5, 3, 17}, {16, 16, 16}, {17, 31, 7}, {33, 15, 40}, {1, 1, 1}, {48, 64, 33}};
  for (const auto& [res, dil, skip] : sizes) {
    for (int k : {2, 3}) {
      for (int variant = 0; variant < 8; ++variant) {
        const bool cond = variant & 1, last = variant & 2, int4 = variant & 4;
        shapes.push_back({res, dil, skip, k, cond, last, int4, int4 != last, variant == 2 || variant == 5});
      }
    }
  }
  return shapes;
}

TEST(FusedLayer, EveryIsaMatchesTheReferenceBitForBit) {
  std::mt19937 rng(23);
  for (const Shape& shape : awkward_shapes()) {
    const Layer layer(shape, rng);
    const std::vector<float> expected = run_fused(reference_kernels(), layer);
    for (const auto* k : available_kernels()) {
      const std::vector<float> got = run_fused(*k, layer);
      ASSERT_EQ(got.size(), expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], expected[i]) << k->name << ", " << describe(shape) << ", output " << i;
      }
    }
  }
}

TEST(FusedLayer, EqualsTheUnfusedStepOfTheSameTable) {
  std::mt19937 rng(29);
  for (const Shape& shape : awkward_shapes()) {
    const Layer layer(shape, rng);
    for (const auto* k : available_kernels()) {
      const std::vector<float> fused = run_fused(*k, layer), unfused = run_unfused(*k, layer);
      for (size_t i = 0; i < fused.size(); ++i) {
        ASSERT_EQ(fused[i], unfused[i]) << k->name << ", " << describe(shape) << ", output " << i;
      }
    }
  }
}

// Activations large enough to clamp at +-127 and small enough to round to zero codes, with
// one all-zero tap (the causal padding at the start of a sequence).
TEST(FusedLayer, MatchesOnClampedAndZeroInputs) {
  std::mt19937 rng(31);
  for (const auto* k : available_kernels()) {
    for (bool int4 : {false, true}) {
      Layer layer({32, 32, 256, 2, true, false, int4, int4, true}, rng);
      for (float& v : layer.taps[1]) v *= 100.0f;
      std::fill(layer.taps[0].begin(), layer.taps[0].end(), 0.0f);
      EXPECT_EQ(run_fused(*k, layer), run_fused(reference_kernels(), layer)) << k->name;
    }
  }
}

// The step passes the next layer's ring as the residual output; a caller may also update
// the input in place.
TEST(FusedLayer, ResidualOutputMayBeTheLastTap) {
  std::mt19937 rng(37);
  for (const auto* k : available_kernels()) {
    for (int kernel_size : {2, 3}) {
      const Layer layer({17, 31, 7, kernel_size, true, false, false, true, false}, rng);
      EXPECT_EQ(run_fused(*k, layer, true), run_fused(reference_kernels(), layer)) << k->name;
    }
  }
}

}  // namespace
}  // namespace fastwave::kernels
