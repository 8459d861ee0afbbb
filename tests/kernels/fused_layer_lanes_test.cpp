// The lanes layer kernel (many streams side by side): every stream of every table's kernel
// equals that stream through the reference batch-1 fused layer, bit for bit, on awkward
// channel counts, stream counts that fill groups partly, kernel sizes 2 and 3, with and
// without conditioning, int8/int4 mixes and static and dynamic scales; taps and residual
// rows per stream or in the lanes layout of bound streams' rings, written apart or in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "kernels/kernels.h"
#include "kernels/linear.h"
#include "random_layer.h"

namespace fastwave::kernels {
namespace {

using namespace test_layers;  // NOLINT: the shared random-layer helpers

std::string describe(const Shape& s, int streams) {
  return "res " + std::to_string(s.residual) + " dil " + std::to_string(s.dilation) + " skip " +
         std::to_string(s.skip) + " k " + std::to_string(s.kernel_size) + (s.conditioning ? " cond" : "") +
         (s.last ? " last" : "") + (s.filter_gate_int4 ? " fg-int4" : " fg-int8") +
         (s.residual_skip_int4 ? " rs-int4" : " rs-int8") + (s.static_scales ? " static" : " dynamic") + ", " +
         std::to_string(streams) + " streams";
}

// A layer's matrices and, per stream, its taps, conditioning and skip sums so far.
struct Layer {
  Shape shape;
  int streams;
  Linear filter_gate, residual_skip;
  std::vector<std::vector<std::vector<float>>> taps;  // [stream][tap]
  std::vector<std::vector<float>> conditioning, skip;

  Layer(const Shape& s, int stream_count, std::mt19937& rng) : shape(s), streams(stream_count) {
    filter_gate = random_integer_linear(s.filter_gate_int4, 2 * s.dilation, s.kernel_size * s.residual,
                                        s.static_scales ? 0.02f : 0.0f, rng);
    residual_skip = random_integer_linear(s.residual_skip_int4, s.last ? s.skip : s.residual + s.skip, s.dilation,
                                          s.static_scales ? 0.008f : 0.0f, rng);
    for (int b = 0; b < streams; ++b) {
      taps.emplace_back();
      // Stream 1 (when there is one) starts at the causal zero padding; stream 2 clamps.
      for (int j = 0; j < s.kernel_size; ++j) {
        taps[b].push_back(uniform(s.residual, b == 2 ? 200.0f : 2.0f, rng));
        if (b == 1) std::fill(taps[b][j].begin(), taps[b][j].end(), 0.0f);
      }
      conditioning.push_back(s.conditioning ? uniform(2 * s.dilation, 1.0f, rng) : std::vector<float>());
      skip.push_back(uniform(s.skip, 1.0f, rng));
    }
  }
  int skip_offset() const { return shape.last ? 0 : shape.residual; }
};

// The expected result: each stream alone through the reference fused layer. Returns per
// stream its residual output then its skip sums.
std::vector<std::vector<float>> streams_alone(const Layer& l) {
  const Shape& s = l.shape;
  const int codes_width = round_up(std::max(l.filter_gate.padded_cols(), l.residual_skip.padded_cols()), 64);
  AlignedArray<uint8_t> codes(static_cast<uint8_t*>(allocate_aligned(2 * size_t(codes_width))));
  AlignedFloats rs = allocate_floats(size_t(round_up(l.residual_skip.rows(), 16)));
  AlignedFloats columns = allocate_floats(size_t(round_up(s.kernel_size * s.residual, 16)));
  AlignedFloats pre = allocate_floats(size_t(round_up(2 * s.dilation, 16)));
  AlignedFloats z = allocate_floats(size_t(round_up(s.dilation, 16)));
  std::vector<std::vector<float>> out;
  for (int b = 0; b < l.streams; ++b) {
    std::vector<const float*> taps;
    for (const auto& t : l.taps[b]) taps.push_back(t.data());
    std::vector<float> residual(s.residual, 1e30f), skip = l.skip[b];
    FusedLayerArgs a{};
    a.taps = taps.data();
    a.kernel_size = s.kernel_size;
    a.residual_channels = s.residual;
    a.dilation_channels = s.dilation;
    a.filter_gate = view_of(l.filter_gate);
    a.residual_skip = view_of(l.residual_skip);
    a.conditioning = s.conditioning ? l.conditioning[b].data() : nullptr;
    a.residual = s.last ? nullptr : residual.data();
    a.skip = skip.data();
    a.skip_offset = l.skip_offset();
    a.skip_channels = s.skip;
    a.codes = codes.get();
    a.codes_width = codes_width;
    a.rs = rs.get();
    a.columns = columns.get();
    a.pre = pre.get();
    a.z = z.get();
    reference_kernels().fused_layers(&a, 1);
    residual.insert(residual.end(), skip.begin(), skip.end());
    out.push_back(residual);
  }
  return out;
}

// Where the lanes kernel finds its taps and writes its residual rows.
enum class Rings { kPerStream, kInLanes };

// The lanes kernel of `k` on copies of every stream's state. `in_place`: each stream's
// residual output overwrites its last tap.
std::vector<std::vector<float>> streams_side_by_side(const KernelTable& k, const Layer& l, bool in_place, Rings rings,
                                                     std::mt19937& rng) {
  const Shape& s = l.shape;
  const int groups = (l.streams + kLanes - 1) / kLanes, res = s.residual, dil = s.dilation;
  auto taps = l.taps;
  std::vector<const float*> tap_pointers;
  std::vector<std::vector<float>> residuals(l.streams, std::vector<float>(res, 1e30f));
  std::vector<float*> residual_pointers;
  for (int b = 0; b < l.streams; ++b) {
    for (const auto& t : taps[b]) tap_pointers.push_back(t.data());
    residual_pointers.push_back(in_place ? taps[b].back().data() : residuals[b].data());
  }
  // The same taps in the lanes layout, [group][tap] blocks of [res][kLanes]; the lanes past
  // the streams hold other values, which must not reach any stream.
  std::vector<AlignedFloats> group_taps, group_residuals;
  std::vector<const float*> group_tap_pointers;
  std::vector<float*> group_residual_pointers;
  for (int g = 0; g < groups; ++g) {
    for (int j = 0; j < s.kernel_size; ++j) {
      group_taps.push_back(allocate_floats(size_t(res) * kLanes));
      const std::vector<float> other = uniform(size_t(res) * kLanes, 3.0f, rng);
      std::copy(other.begin(), other.end(), group_taps.back().get());
      for (int lane = 0; lane < kLanes && g * kLanes + lane < l.streams; ++lane) {
        for (int c = 0; c < res; ++c) group_taps.back()[size_t(c) * kLanes + lane] = l.taps[g * kLanes + lane][j][c];
      }
      group_tap_pointers.push_back(group_taps.back().get());
    }
    group_residuals.push_back(allocate_floats(size_t(res) * kLanes));
    std::fill(group_residuals.back().get(), group_residuals.back().get() + size_t(res) * kLanes, 1e30f);
    group_residual_pointers.push_back(in_place ? const_cast<float*>(group_tap_pointers.back()) : group_residuals.back().get());
  }
  // Lanes layouts are 64-byte aligned (the kernels load them whole).
  AlignedFloats conditioning = allocate_floats(size_t(groups) * 2 * dil * kLanes),
                skip = allocate_floats(size_t(groups) * s.skip * kLanes);
  for (int b = 0; b < l.streams; ++b) {
    const size_t g = b / kLanes, lane = b % kLanes;
    for (int i = 0; i < 2 * dil && s.conditioning; ++i) conditioning[(g * 2 * dil + i) * kLanes + lane] = l.conditioning[b][i];
    for (int i = 0; i < s.skip; ++i) skip[(g * s.skip + i) * kLanes + lane] = l.skip[b][i];
  }

  const int codes_width = round_up(std::max(l.filter_gate.padded_cols(), l.residual_skip.padded_cols()), 64);
  auto floats = [](size_t n) { return allocate_floats(n * kLanes * kLaneTileGroups); };
  AlignedFloats columns = floats(size_t(s.kernel_size) * res), pre = floats(2 * size_t(dil)), z = floats(dil),
                residual = floats(res), rs = floats(size_t(l.residual_skip.rows()));
  AlignedArray<int32_t> codes(static_cast<int32_t*>(allocate_aligned(size_t(codes_width) * kLanes * kLaneTileGroups)));
  const auto unpacked = [](const Linear& m) {
    return AlignedArray<int8_t>(static_cast<int8_t*>(allocate_aligned(size_t(round_up(m.rows(), 16)) * m.padded_cols())));
  };
  AlignedArray<int8_t> filter_gate_weights = unpacked(l.filter_gate), residual_skip_weights = unpacked(l.residual_skip);

  LanesLayerArgs a{};
  a.streams = l.streams;
  if (rings == Rings::kPerStream) {
    a.taps = tap_pointers.data();
    a.residual = s.last ? nullptr : residual_pointers.data();
  } else {
    a.group_taps = group_tap_pointers.data();
    a.group_residual = s.last ? nullptr : group_residual_pointers.data();
  }
  a.conditioning = s.conditioning ? conditioning.get() : nullptr;
  a.skip = skip.get();
  a.kernel_size = s.kernel_size;
  a.residual_channels = res;
  a.dilation_channels = dil;
  a.filter_gate = view_of(l.filter_gate);
  a.residual_skip = view_of(l.residual_skip);
  a.skip_offset = l.skip_offset();
  a.skip_channels = s.skip;
  a.scratch = {columns.get(), codes.get(), pre.get(), z.get(), residual.get(), rs.get(), nullptr, nullptr,
               filter_gate_weights.get(), residual_skip_weights.get()};
  k.fused_layer_lanes(a);

  std::vector<std::vector<float>> out;
  for (int b = 0; b < l.streams; ++b) {
    std::vector<float> r = s.last ? residuals[b] : (in_place ? taps[b].back() : residuals[b]);
    if (rings == Rings::kInLanes && !s.last) {
      const float* rows = group_residual_pointers[b / kLanes] + b % kLanes;
      for (int c = 0; c < res; ++c) r[c] = rows[size_t(c) * kLanes];
    }
    for (int i = 0; i < s.skip; ++i) r.push_back(skip[(size_t(b / kLanes) * s.skip + i) * kLanes + b % kLanes]);
    out.push_back(r);
  }
  return out;
}

std::vector<Shape> awkward_shapes() {
  std::vector<Shape> shapes;
  const int sizes[][3] = {{32, 32, 256}, {5, 3, 17}, {17, 31, 7}, {31, 33, 5}, {33, 15, 40}, {1, 1, 1}, {48, 64, 33}};
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

TEST(FusedLayerLanes, EveryStreamEqualsTheStreamAloneBitForBit) {
  std::mt19937 rng(43);
  int tables_with_lanes = 0;
  for (const auto* k : available_kernels()) tables_with_lanes += k->fused_layer_lanes != nullptr;
  ASSERT_GE(tables_with_lanes, 1);  // the reference always has one
  for (const Shape& shape : awkward_shapes()) {
    for (int streams : {1, 3, 7, 16, 17, 64}) {
      const Layer layer(shape, streams, rng);
      const auto expected = streams_alone(layer);
      for (const auto* k : available_kernels()) {
        if (!k->fused_layer_lanes) continue;
        for (Rings rings : {Rings::kPerStream, Rings::kInLanes}) {
          const bool in_place = (streams + int(rings)) % 2 == 1;
          const auto got = streams_side_by_side(*k, layer, in_place, rings, rng);
          for (int b = 0; b < streams; ++b) {
            ASSERT_EQ(got[b].size(), expected[b].size());
            for (size_t i = 0; i < got[b].size(); ++i) {
              ASSERT_EQ(got[b][i], expected[b][i])
                  << k->name << ", " << describe(shape, streams) << (rings == Rings::kInLanes ? ", rings in lanes" : "")
                  << (in_place ? ", in place" : "") << ", stream " << b << ", output " << i;
            }
          }
        }
      }
    }
  }
}

// The end products side by side against each stream's end as the step computes it: relu,
// Linear::apply of the reference table, relu, Linear::apply.
TEST(LanesEnd, EveryStreamEqualsTheStreamAloneBitForBit) {
  std::mt19937 rng(47);
  const int sizes[][3] = {{256, 256, 256}, {17, 5, 31}, {33, 40, 7}, {1, 3, 1}};
  for (const auto& [skip_channels, end_channels, classes] : sizes) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool int4 = variant & 1, static_scales = variant & 2;
      const Linear end1 = random_integer_linear(int4, end_channels, skip_channels, static_scales ? 0.02f : 0.0f, rng);
      const Linear end2 = random_integer_linear(!int4, classes, end_channels, static_scales ? 0.05f : 0.0f, rng);
      for (int streams : {1, 3, 7, 16, 17, 64}) {
        const int groups = (streams + kLanes - 1) / kLanes;
        // Skip sums of both signs, one stream all zero, one clamping.
        const std::vector<float> skip_values = uniform(size_t(groups) * skip_channels * kLanes, 2.0f, rng);
        AlignedFloats skip = allocate_floats(skip_values.size());  // lanes layouts are 64-byte aligned
        std::copy(skip_values.begin(), skip_values.end(), skip.get());
        for (int i = 0; i < skip_channels; ++i) {
          if (streams > 1) skip[size_t(i) * kLanes + 1] = 0.0f;
          if (streams > 2) skip[size_t(i) * kLanes + 2] *= 300.0f;
        }
        std::vector<std::vector<float>> expected;
        for (int s = 0; s < streams; ++s) {
          std::vector<float> x(skip_channels), hidden(end_channels), logits(classes);
          for (int i = 0; i < skip_channels; ++i) {
            x[i] = std::max(skip[(size_t(s / kLanes) * skip_channels + i) * kLanes + s % kLanes], 0.0f);
          }
          end1.apply(x.data(), skip_channels, 1, hidden.data(), end_channels, reference_kernels());
          for (float& h : hidden) h = std::max(h, 0.0f);
          end2.apply(hidden.data(), end_channels, 1, logits.data(), classes, reference_kernels());
          expected.push_back(logits);
        }
        const int codes_width = round_up(std::max(end1.padded_cols(), end2.padded_cols()), 64);
        auto floats = [](size_t n) { return allocate_floats(n * kLanes * kLaneTileGroups); };
        AlignedFloats hidden = floats(end_channels), logit_rows = floats(classes), rs = floats(skip_channels);
        AlignedArray<int32_t> codes(static_cast<int32_t*>(allocate_aligned(size_t(codes_width) * kLanes * kLaneTileGroups)));
        const auto unpacked = [](const Linear& m) {
          return AlignedArray<int8_t>(static_cast<int8_t*>(allocate_aligned(size_t(round_up(m.rows(), 16)) * m.padded_cols())));
        };
        AlignedArray<int8_t> end1_weights = unpacked(end1), end2_weights = unpacked(end2);
        for (const auto* k : available_kernels()) {
          if (!k->lanes_end) continue;
          std::vector<float> logits(size_t(streams) * classes, 1e30f);
          LanesEndArgs a{};
          a.streams = streams;
          a.skip = skip.get();
          a.skip_channels = skip_channels;
          a.end_channels = end_channels;
          a.classes = classes;
          a.end1 = view_of(end1);
          a.end2 = view_of(end2);
          a.logits = logits.data();
          a.scratch = {nullptr, codes.get(), nullptr, nullptr, nullptr, rs.get(), hidden.get(), logit_rows.get(),
                       end1_weights.get(), end2_weights.get()};
          k->lanes_end(a);
          for (int s = 0; s < streams; ++s) {
            for (int c = 0; c < classes; ++c) {
              ASSERT_EQ(logits[size_t(s) * classes + c], expected[s][c])
                  << k->name << ", skip " << skip_channels << " end " << end_channels << " classes " << classes
                  << " variant " << variant << ", " << streams << " streams, stream " << s << ", class " << c;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace fastwave::kernels
