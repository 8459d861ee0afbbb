// The fused layer kernel: every ISA against the reference bit for bit, and each against
// the unfused step it replaces (quantize, product, conditioning, gate, quantize, product,
// sums through Linear::apply with the same table), on awkward sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <string>

#include "kernels/kernels.h"
#include "kernels/linear.h"
#include "random_layer.h"

namespace fastwave::kernels {
namespace {

using namespace test_layers;  // NOLINT: the shared random-layer helpers

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

// Scratch for any of `layers`, as the step allocates it.
struct Scratch {
  int codes_width = 0, rs_width = 0;
  AlignedArray<uint8_t> codes;
  AlignedFloats rs, columns, pre, z;

  explicit Scratch(const std::vector<const Layer*>& layers) {
    int k_res = 0, dil = 0;
    for (const Layer* l : layers) {
      codes_width = std::max({codes_width, l->filter_gate.padded_cols(), l->residual_skip.padded_cols()});
      rs_width = std::max(rs_width, l->residual_skip.rows());
      k_res = std::max(k_res, l->shape.kernel_size * l->shape.residual);
      dil = std::max(dil, l->shape.dilation);
    }
    codes_width = round_up(codes_width, 64);
    codes.reset(static_cast<uint8_t*>(allocate_aligned(2 * size_t(codes_width))));
    rs = floats(round_up(rs_width, 16));
    columns = floats(round_up(k_res, 16));
    pre = floats(round_up(2 * dil, 16));
    z = floats(round_up(dil, 16));
  }
  static AlignedFloats floats(size_t n) { return allocate_floats(n); }
};

FusedLayerArgs args_for(const Layer& l, Scratch& scratch, const float* const* taps, float* residual, float* skip) {
  const Shape& s = l.shape;
  FusedLayerArgs a{};
  a.taps = taps;
  a.kernel_size = s.kernel_size;
  a.residual_channels = s.residual;
  a.dilation_channels = s.dilation;
  a.filter_gate = view_of(l.filter_gate);
  a.residual_skip = view_of(l.residual_skip);
  a.conditioning = s.conditioning ? l.conditioning.data() : nullptr;
  a.residual = s.last ? nullptr : residual;
  a.skip = skip;
  a.skip_offset = l.skip_offset;
  a.skip_channels = s.skip;
  a.codes = scratch.codes.get();
  a.rs = scratch.rs.get();
  a.codes_width = scratch.codes_width;
  a.columns = scratch.columns.get();
  a.pre = scratch.pre.get();
  a.z = scratch.z.get();
  return a;
}

// The fused kernel of `k` on a copy of the layer's state; returns the residual output then
// skip. `in_place`: the residual output overwrites the last tap.
std::vector<float> run_fused(const KernelTable& k, const Layer& l, bool in_place = false) {
  const Shape& s = l.shape;
  Scratch scratch({&l});
  std::vector<std::vector<float>> tap_copies = l.taps;
  std::vector<const float*> taps;
  for (const auto& t : tap_copies) taps.push_back(t.data());
  std::vector<float> residual(s.residual, 1e30f), skip = l.skip;  // residual: all overwritten
  const FusedLayerArgs a =
      args_for(l, scratch, taps.data(), in_place ? tap_copies.back().data() : residual.data(), skip.data());
  k.fused_layers(&a, 1);
  if (in_place && !s.last) residual = tap_copies.back();
  residual.insert(residual.end(), skip.begin(), skip.end());
  return residual;
}

// The same layer the way the unfused step computes it, with the same table; the last tap
// and the skip sum so far may be given instead of the layer's own.
std::vector<float> run_unfused(const KernelTable& k, const Layer& l, const std::vector<float>* last_tap = nullptr,
                               const std::vector<float>* skip_so_far = nullptr) {
  const Shape& s = l.shape;
  const std::vector<float>& now = last_tap ? *last_tap : l.taps.back();
  std::vector<float> columns(size_t(s.kernel_size) * s.residual);
  for (int c = 0; c < s.residual; ++c) {
    for (int j = 0; j < s.kernel_size; ++j) {
      columns[size_t(c) * s.kernel_size + j] = j + 1 == s.kernel_size ? now[c] : l.taps[j][c];
    }
  }
  std::vector<float> pre(2 * s.dilation), z(s.dilation), rs(l.residual_skip.rows());
  l.filter_gate.apply(columns.data(), int(columns.size()), 1, pre.data(), int(pre.size()), k);
  if (s.conditioning) k.accumulate(l.conditioning.data(), 2 * s.dilation, pre.data());
  k.gated_activation(pre.data(), s.dilation, z.data());
  l.residual_skip.apply(z.data(), s.dilation, 1, rs.data(), int(rs.size()), k);
  std::vector<float> residual = now, skip = skip_so_far ? *skip_so_far : l.skip;
  if (!s.last) k.accumulate(rs.data(), s.residual, residual.data());
  else residual.assign(s.residual, 1e30f);  // untouched, as in run_fused
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

// A stack of layers in one call, each layer's residual output the next one's last tap, as
// the step runs them: an implementation may interleave layers (the AVX-512 one leaves each
// layer's skip rows to the next), and must still match layer-by-layer references.
TEST(FusedLayer, StacksOfLayersMatchLayerByLayer) {
  std::mt19937 rng(41);
  for (const auto& [res, dil, skip, k] : {std::array{32, 32, 256, 2}, {17, 31, 7, 2}, {5, 3, 17, 3}, {33, 15, 40, 2}}) {
    std::vector<Layer> layers;
    const int count = 6;
    for (int n = 0; n < count; ++n) {
      const bool int4 = n % 3 == 1;
      layers.emplace_back(Shape{res, dil, skip, k, n % 2 == 0, n + 1 == count, int4, n % 3 != 0, n == 4}, rng);
    }
    std::vector<const Layer*> pointers;
    for (const Layer& l : layers) pointers.push_back(&l);
    const std::vector<float> first_skip = layers[0].skip;

    // Layer by layer through the unfused kernels of the reference.
    std::vector<float> x = layers[0].taps.back(), expected_skip = first_skip;
    std::vector<std::vector<float>> expected_residuals;
    for (int n = 0; n < count; ++n) {
      const std::vector<float> out = run_unfused(reference_kernels(), layers[n], &x, &expected_skip);
      x.assign(out.begin(), out.begin() + res);
      expected_skip.assign(out.begin() + res, out.end());
      expected_residuals.push_back(x);
    }

    for (const auto* table : available_kernels()) {
      Scratch scratch(pointers);
      std::vector<std::vector<float>> residuals(count, std::vector<float>(res, 1e30f));
      std::vector<std::vector<const float*>> taps(count);
      std::vector<float> skip_sum = first_skip;
      std::vector<FusedLayerArgs> args;
      for (int n = 0; n < count; ++n) {
        for (int j = 0; j + 1 < k; ++j) taps[n].push_back(layers[n].taps[j].data());
        taps[n].push_back(n == 0 ? layers[0].taps.back().data() : residuals[n - 1].data());
        args.push_back(args_for(layers[n], scratch, taps[n].data(), residuals[n].data(), skip_sum.data()));
      }
      table->fused_layers(args.data(), count);
      for (int n = 0; n + 1 < count; ++n) {
        EXPECT_EQ(residuals[n], expected_residuals[n]) << table->name << " res " << res << " layer " << n;
      }
      EXPECT_EQ(skip_sum, expected_skip) << table->name << " res " << res;
    }
  }
}

}  // namespace
}  // namespace fastwave::kernels
