// Integer schemes sample the same ids on every kernel ISA, the reference included: the
// integer products are exact, and every float step around them (gate, exp, sampler,
// conditioning) is computed identically. Checked end to end on the shipped models, where
// the reference kernels used to diverge after 150 to 240 samples.
#include <gtest/gtest.h>

#include <random>

#include "../test_util.h"
#include "engine/generators.h"
#include "kernels/kernels.h"

namespace fastwave {
namespace {

struct Case {
  const char* model;
  int speaker;
  Scheme scheme;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " " << scheme_name(c.scheme); }

class IsaDeterminism : public ::testing::TestWithParam<Case> {};

std::vector<int> generate_with(const Model& model, const Conditioning& cond, const kernels::KernelTable& k) {
  auto generator = make_generator(Network::build(model, k.name), Method::kFast, cond);
  GenerateOptions options;
  options.samples = 1000;
  options.seed = 7;
  return generate(*generator, model.config(), options);
}

TEST_P(IsaDeterminism, IntegerSchemesSampleTheSameIdsOnEveryIsa) {
  const Case c = GetParam();
  const Model model = Model::load(std::string(FASTWAVE_MODELS_DIR) + "/" + c.model);
  Conditioning cond;
  cond.speaker = c.speaker;
  QuantizeOptions options;
  options.scheme = c.scheme;
  std::mt19937 rng(1);
  std::vector<int> calibration(4000);
  for (int& id : calibration) id = 100 + int(rng() % 56);
  options.calibration.emplace_back(calibration, cond);
  const Model q = quantize(model, options);

  const std::vector<int> reference = generate_with(q, cond, kernels::reference_kernels());
  ASSERT_EQ(reference.size(), 1000u);
  for (const auto* k : kernels::available_kernels()) {
    const std::vector<int> ids = generate_with(q, cond, *k);
    const auto first_difference = std::mismatch(ids.begin(), ids.end(), reference.begin()).first - ids.begin();
    EXPECT_EQ(first_difference, 1000) << k->name << " differs from ref at sample " << first_difference;
  }
}

// A vocoder's conditioning terms (upsampled, projected per sample) are the same bits on
// every ISA too. Frequency kernel 1 projects before the last stage, 3 after it.
void expect_vocoder_ids_equal_on_every_isa(int freq_kernel) {
  ModelConfig c = testing::small_config();
  c.kernel_size = 3;
  c.local_channels = 12;
  c.local_hop = 8;
  c.upsample_scales = {2, 4};
  c.upsample_freq_kernel = freq_kernel;
  c.upsample_conv_in = true;
  c.cin_pad = 1;
  Conditioning cond;
  cond.local_frames = 130;
  std::mt19937 rng(2);
  for (int i = 0; i < cond.local_frames * c.local_channels; ++i) cond.local_features.push_back(float(rng() % 100) / 100);
  const Model q = quantize(Model::random(c, 6), QuantizeOptions{});
  const std::vector<int> reference = generate_with(q, cond, kernels::reference_kernels());
  for (const auto* k : kernels::available_kernels()) {
    EXPECT_EQ(generate_with(q, cond, *k), reference) << k->name << ", frequency kernel " << freq_kernel;
  }
}

TEST(IsaDeterminismVocoder, IntegerSchemesSampleTheSameIdsOnEveryIsa) {
  expect_vocoder_ids_equal_on_every_isa(1);
  expect_vocoder_ids_equal_on_every_isa(3);
}

INSTANTIATE_TEST_SUITE_P(
    ShippedModels, IsaDeterminism,
    ::testing::Values(Case{"violin.fwm", -1, Scheme::kInt8Dynamic}, Case{"violin.fwm", -1, Scheme::kInt8Static},
                      Case{"violin.fwm", -1, Scheme::kInt4}, Case{"speech.fwm", 4, Scheme::kInt8Dynamic},
                      Case{"speech.fwm", 4, Scheme::kInt4}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name = std::string(info.param.model).substr(0, 6) + "_" + scheme_name(info.param.scheme);
      for (char& ch : name) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return name;
    });

}  // namespace
}  // namespace fastwave
