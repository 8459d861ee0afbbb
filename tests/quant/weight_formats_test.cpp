// Every row of the weight-format table: packed exactly, stored and loaded intact, run by
// every ISA's kernels bit for bit like the reference, and closer to float as bits grow.
#include <gtest/gtest.h>

#include <random>

#include "fastwave/error.h"
#include "fastwave/evaluate.h"
#include "fastwave/network.h"
#include "fastwave/quantize.h"
#include "kernels/kernels.h"
#include "quant/weight_formats.h"
#include "../test_util.h"

namespace fastwave {
namespace {

ModelConfig config_with_global() {
  ModelConfig c = testing::small_config();
  c.speakers = 3;
  c.global_channels = 5;
  c.bias = true;
  return c;
}

TEST(WeightFormats, TheTableNamesEveryWidthOnce) {
  for (int bits = kMinIntegerBits; bits <= kMaxIntegerBits; ++bits) {
    const WeightFormat& f = Scheme::integer(bits, false).weight_format();
    EXPECT_EQ(f.bits, bits);
    EXPECT_TRUE(f.integer);
    EXPECT_EQ(f.max_code(), (1 << (bits - 1)) - 1);
    // Grouped formats run on the int4 kernels, whose codes must fit a nibble.
    EXPECT_TRUE(!f.grouped || bits <= 4) << f.name;
    for (bool s : {false, true}) EXPECT_EQ(parse_scheme(scheme_name(Scheme::integer(bits, s))), Scheme::integer(bits, s));
  }
  EXPECT_EQ(scheme_name(Scheme::kInt8Dynamic), "int8-dynamic");
  EXPECT_EQ(scheme_name(Scheme::kInt4), "int4");
  EXPECT_EQ(parse_scheme("int4-dynamic"), Scheme::kInt4);
  EXPECT_EQ(parse_scheme("int3-static"), Scheme::integer(3, true));
}

TEST(WeightFormats, PackedCodesRoundTripOnAwkwardSizes) {
  std::mt19937 rng(5);
  for (int bits = kMinIntegerBits; bits <= kMaxIntegerBits; ++bits) {
    for (int64_t cols : {1, 3, 7, 8, 13, 37, 64}) {
      const int64_t rows = 5;
      std::uniform_int_distribution<int> code(-(1 << (bits - 1)), (1 << (bits - 1)) - 1);
      std::vector<int8_t> codes(size_t(rows * cols));
      for (auto& c : codes) c = int8_t(code(rng));
      const auto packed = quant::pack_codes(codes, rows, cols, bits);
      EXPECT_EQ(int64_t(packed.size()), rows * ((cols * bits + 7) / 8));
      EXPECT_EQ(quant::unpack_codes(packed, rows, cols, bits), codes) << bits << " bits, " << cols << " cols";
    }
  }
}

TEST(WeightFormats, FourBitsKeepTheNibbleLayoutOfOlderFiles) {
  const std::vector<int8_t> codes{-8, 7, 3, -1, 5};
  const auto packed = quant::pack_codes(codes, 1, 5, 4);
  ASSERT_EQ(packed.size(), 3u);
  EXPECT_EQ(packed[0], uint8_t(0x8 | 0x7 << 4));
  EXPECT_EQ(packed[1], uint8_t(0x3 | 0xF << 4));
  EXPECT_EQ(packed[2], uint8_t(0x5));
}

// Every quantizable weight (the start conv and conditioning too) at `bits`.
Model at_width(const Model& model, int bits, bool static_activations) {
  QuantizeOptions o;
  o.scheme = Scheme::integer(bits, static_activations);
  o.group_size = 8;
  for (const auto& name : quantizable_tensors(model.config())) {
    if (!runs_in_kernel(name)) o.tensor_schemes[name] = {Scheme::integer(bits, false), bits <= 4 ? 8 : 0};
  }
  if (static_activations) o.activation_clips.assign(2 * model.config().num_layers() + 2, 4.0f);
  return quantize(model, o);
}

class EveryWidth : public ::testing::TestWithParam<int> {};

TEST_P(EveryWidth, StoresExactlyAndRunsBitForBitOnEveryIsa) {
  const int bits = GetParam();
  const Model model = Model::random(config_with_global(), 11);
  std::vector<int> ids(300);
  std::mt19937 rng(2);
  for (auto& id : ids) id = int(rng() % 64);
  Conditioning cond;
  cond.speaker = 1;
  for (bool static_activations : {false, true}) {
    const Model q = at_width(model, bits, static_activations);
    // The file holds the packed codes: its size is what the format says, and it reads back.
    const auto file = q.serialize();
    const Model back = Model::parse(file, "q");
    EXPECT_EQ(back.tensors(), q.tensors());
    EXPECT_EQ(back.schemes(), q.schemes());
    const auto shape = model.tensor("skip_convs.0.weight").shape;
    EXPECT_EQ(back.tensor("skip_convs.0.weight").bytes.size(), size_t(shape[0] * ((shape[1] * bits + 7) / 8)));
    const auto reference = teacher_forced_logits(q, ids, cond);
    for (const auto* table : kernels::available_kernels()) {
      const auto network = Network::build(q, table->name);
      TeacherForcing forcing(network, ids, cond);
      int64_t first = 0;
      std::vector<float> logits;
      for (auto block = forcing.next(&first); !block.empty(); block = forcing.next(&first)) {
        logits.insert(logits.end(), block.begin(), block.end());
      }
      if (std::string(table->name) == "ref") {
        EXPECT_EQ(logits, reference);
      } else {
        // Integer sums are exact and the float steps follow the reference in order.
        ASSERT_EQ(logits.size(), reference.size());
        for (size_t i = 0; i < logits.size(); ++i) {
          ASSERT_EQ(logits[i], reference[i]) << table->name << " at " << i << ", " << bits << " bits";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, EveryWidth, ::testing::Range(kMinIntegerBits, kMaxIntegerBits + 1),
                         [](const auto& info) { return "int" + std::to_string(info.param); });

TEST(WeightFormats, MoreBitsStayCloserToTheFloatModel) {
  const Model model = Model::random(config_with_global(), 12);
  std::vector<int> ids(400);
  std::mt19937 rng(3);
  for (auto& id : ids) id = int(rng() % 64);
  Conditioning cond;
  cond.speaker = 2;
  const auto reference = teacher_forced_logits(model, ids, cond);
  double previous = INFINITY;
  for (int bits = kMinIntegerBits; bits <= kMaxIntegerBits; ++bits) {
    const auto logits = teacher_forced_logits(at_width(model, bits, false), ids, cond);
    double error = 0;
    for (size_t i = 0; i < logits.size(); ++i) error += std::pow(double(logits[i]) - reference[i], 2);
    EXPECT_LT(error, previous) << bits << " bits";
    previous = error;
  }
}

TEST(WeightFormats, WeightOnlyTensorsRefuseStaticActivations) {
  const Model model = Model::random(config_with_global(), 13);
  QuantizeOptions o;
  o.tensor_schemes["start_conv.weight"] = {Scheme::integer(6, true), 0};
  o.activation_clips.assign(2 * model.config().num_layers() + 2, 1.0f);
  EXPECT_THROW(quantize(model, o), Error);
  o.tensor_schemes["start_conv.weight"] = {Scheme::integer(6, false), 8};  // per-row formats take no group
  EXPECT_THROW(quantize(model, o), Error);
  o.tensor_schemes["no_such.weight"] = {Scheme::kInt4, 8};
  EXPECT_THROW(quantize(model, o), Error);
}

}  // namespace
}  // namespace fastwave
