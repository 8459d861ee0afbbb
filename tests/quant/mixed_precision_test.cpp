// quantize_to_budget: the file fits the budget it was given, the allocators keep their
// rules, the same audio gives the same allocation, and impossible budgets are refused.
#include <gtest/gtest.h>

#include <random>

#include "fastwave/error.h"
#include "fastwave/mixed_precision.h"
#include "../test_util.h"

namespace fastwave {
namespace {

ModelConfig config_with_global() {
  ModelConfig c = testing::small_config();
  c.speakers = 2;
  c.global_channels = 4;
  return c;
}

BudgetOptions options_for(const Model& model, int64_t budget) {
  BudgetOptions o;
  o.budget_bytes = budget;
  o.group_size = 32;  // smaller groups can make 3 bits larger than 5 (a float scale per group)
  o.probe_seconds = 0.05;
  std::vector<int> ids(1200);
  std::mt19937 rng(4);
  for (auto& id : ids) id = int(rng() % model.config().classes);
  Conditioning cond;
  cond.speaker = 1;
  o.calibration.emplace_back(ids, cond);
  return o;
}

TEST(Budget, TheFileFitsAndLiesBetweenTheUniformSizes) {
  const Model model = Model::random(config_with_global(), 21);
  const int64_t three = uniform_file_bytes(model, 3, 32), five = uniform_file_bytes(model, 5, 32);
  ASSERT_LT(three, five);
  for (Allocator allocator : {Allocator::kGreedyKl, Allocator::kMyQasr}) {
    BudgetOptions o = options_for(model, (three + five) / 2);
    o.allocator = allocator;
    const BudgetResult r = quantize_to_budget(model, o);
    EXPECT_LE(r.file_bytes, o.budget_bytes) << allocator_name(allocator);
    EXPECT_EQ(r.file_bytes, int64_t(r.model.serialize().size()));
    EXPECT_GT(r.mean_bits, 3.0);
    EXPECT_LT(r.mean_bits, 5.0);
    // Every unit of the report is in the model with the width it reports.
    for (const auto& unit : r.units) {
      for (const auto& tensor : unit.tensors) EXPECT_EQ(r.model.scheme_of(tensor).scheme.weight_format().bits, unit.bits);
    }
  }
}

TEST(Budget, MyQasrKeepsEveryWidthWithinOneBit) {
  const Model model = Model::random(config_with_global(), 22);
  for (Sensitivity s : {Sensitivity::kMedian, Sensitivity::kMax, Sensitivity::kStd, Sensitivity::kKl}) {
    for (SensitivityOrder order : {SensitivityOrder::kDescending, SensitivityOrder::kAscending}) {
      BudgetOptions o = options_for(model, (uniform_file_bytes(model, 4, 32) + uniform_file_bytes(model, 5, 32)) / 2);
      o.allocator = Allocator::kMyQasr;
      o.sensitivity = s;
      o.order = order;
      const BudgetResult r = quantize_to_budget(model, o);
      int low = 8, high = 2;
      for (const auto& u : r.units) low = std::min(low, u.bits), high = std::max(high, u.bits);
      EXPECT_LE(high - low, 1) << sensitivity_name(s);
      EXPECT_LE(r.file_bytes, o.budget_bytes);
    }
  }
}

TEST(Budget, MyQasrAtAUniformModelsSizeIsThatUniformModel) {
  const Model model = Model::random(config_with_global(), 25);
  BudgetOptions o = options_for(model, uniform_file_bytes(model, 5, 32));
  o.allocator = Allocator::kMyQasr;
  const BudgetResult r = quantize_to_budget(model, o);
  for (const auto& u : r.units) EXPECT_EQ(u.bits, 5) << u.name;
  EXPECT_EQ(r.file_bytes, o.budget_bytes);
}

TEST(Budget, TheSameAudioGivesTheSameAllocation) {
  const Model model = Model::random(config_with_global(), 23);
  BudgetOptions o = options_for(model, (uniform_file_bytes(model, 3, 32) + uniform_file_bytes(model, 4, 32)) / 2);
  o.threads = 2;
  const BudgetResult a = quantize_to_budget(model, o);
  o.threads = 1;
  const BudgetResult b = quantize_to_budget(model, o);
  EXPECT_EQ(a.model.serialize(), b.model.serialize());
}

TEST(Budget, GreedyKlProbesAtTheWidthItIsGiven) {
  const Model model = Model::random(config_with_global(), 26);
  BudgetOptions o = options_for(model, (uniform_file_bytes(model, 4, 32) + uniform_file_bytes(model, 5, 32)) / 2);
  double kl_at_4 = 0, kl_at_6 = 0;
  for (const auto& u : quantize_to_budget(model, o).units) kl_at_4 += u.sensitivity;
  o.probe_bits = 6;
  const BudgetResult r = quantize_to_budget(model, o);
  for (const auto& u : r.units) kl_at_6 += u.sensitivity;
  EXPECT_LT(kl_at_6, kl_at_4);  // finer rounding, closer outputs
  EXPECT_LE(r.file_bytes, o.budget_bytes);
  for (int bits : {1, 9}) {
    o.probe_bits = bits;
    EXPECT_THROW(quantize_to_budget(model, o), Error) << bits;
  }
}

// A mixture-output model (r9y9's vocoders) is probed by output_kl's estimate; the l1 and
// l2 sensitivities, which compare softmax probabilities, are refused.
TEST(Budget, MixtureOutputModelsFitByTheirKl) {
  ModelConfig c = testing::small_config();
  c.output = ModelConfig::Output::kLogisticMixture;
  c.mixtures = 3;
  c.classes = 65536;
  const Model model = Model::random(c, 25);
  for (Allocator allocator : {Allocator::kGreedyKl, Allocator::kMyQasr}) {
    BudgetOptions o = options_for(model, (uniform_file_bytes(model, 3, 32) + uniform_file_bytes(model, 5, 32)) / 2);
    o.calibration[0].second = {};
    o.allocator = allocator;
    o.sensitivity = Sensitivity::kKl;
    const BudgetResult r = quantize_to_budget(model, o);
    EXPECT_LE(r.file_bytes, o.budget_bytes) << allocator_name(allocator);
    double total = 0;
    for (const auto& u : r.units) total += u.sensitivity;
    EXPECT_GT(total, 0.0) << allocator_name(allocator);
  }
  BudgetOptions l1 = options_for(model, uniform_file_bytes(model, 4, 32));
  l1.calibration[0].second = {};
  l1.allocator = Allocator::kMyQasr;
  l1.sensitivity = Sensitivity::kL1;
  EXPECT_THROW(quantize_to_budget(model, l1), Error);
}

TEST(Budget, RefusesWhatCannotFit) {
  const Model model = Model::random(config_with_global(), 24);
  const int64_t smallest = uniform_file_bytes(model, 2, 32);
  try {
    quantize_to_budget(model, options_for(model, smallest - 1));
    FAIL() << "fitted a budget below every weight at 2 bits";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("smallest model"), std::string::npos) << e.what();
  }
  EXPECT_LE(quantize_to_budget(model, options_for(model, smallest)).file_bytes, smallest);
  BudgetOptions no_audio = options_for(model, smallest * 2);
  no_audio.calibration.clear();
  EXPECT_THROW(quantize_to_budget(model, no_audio), Error);
}

}  // namespace
}  // namespace fastwave
