// Fast generation against the naive oracle, and both against teacher-forced evaluation,
// on several configs and on every kernel table this CPU can run.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../test_util.h"
#include "engine/generators.h"
#include "fastwave/evaluate.h"
#include "kernels/kernels.h"

namespace fastwave {
namespace {

struct Case {
  std::string name;
  ModelConfig config;
  bool global = false, local = false;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> cases() {
  std::vector<Case> out;
  ModelConfig c = testing::small_config();
  out.push_back({"small", c});
  ModelConfig bias = c;
  bias.bias = true;
  out.push_back({"bias", bias});
  ModelConfig k3 = c;
  k3.kernel_size = 3;
  k3.blocks = 1;
  k3.layers_per_block = 5;
  out.push_back({"kernel3", k3});
  ModelConfig odd = c;  // channel counts that fill no SIMD register exactly
  odd.residual_channels = 5;
  odd.dilation_channels = 3;
  odd.skip_channels = 17;
  odd.end_channels = 9;
  odd.classes = 7;
  odd.blocks = 3;
  odd.layers_per_block = 3;
  out.push_back({"odd_sizes", odd});
  ModelConfig g = c;
  g.speakers = 4;
  g.global_channels = 6;
  out.push_back({"global", g, true});
  ModelConfig l = c;
  l.local_channels = 10;
  l.local_hop = 8;
  out.push_back({"local", l, false, true});
  ModelConfig gl = l;
  gl.speakers = 3;
  gl.global_channels = 4;
  gl.bias = true;
  out.push_back({"global_and_local", gl, true, true});
  // A vocoder: upsampling network with conv_in and a 3-wide freq kernel, kernel size 3.
  const ModelConfig v = testing::with_upsampling(l);
  out.push_back({"vocoder", v, false, true});
  ModelConfig v1 = v;  // frequency kernel 1: the projection runs before the last stage
  v1.upsample_freq_kernel = 1;
  v1.upsample_scales = {3, 2};
  out.push_back({"vocoder_freq1", v1, false, true});
  ModelConfig vt = v;  // r9y9's older transposed-conv stages (bias and ReLU), no conv_in
  vt.upsample_conv_in = false;
  vt.cin_pad = 0;
  vt.upsample_transposed = true;
  out.push_back({"vocoder_transposed", vt, false, true});
  // r9y9's mixture outputs: a scalar input and 16-bit codes.
  ModelConfig mol = v;
  mol.output = ModelConfig::Output::kLogisticMixture;
  mol.mixtures = 3;
  mol.classes = 65536;
  mol.bias = true;
  out.push_back({"logistic_mixture", mol, false, true});
  ModelConfig gauss = c;
  gauss.output = ModelConfig::Output::kGaussianMixture;
  gauss.mixtures = 1;
  gauss.classes = 65536;
  out.push_back({"gaussian", gauss});
  return out;
}

Conditioning conditioning_for(const Case& c, int64_t samples) {
  Conditioning cond;
  if (c.global) cond.speaker = c.config.speakers - 1;
  if (c.local) {
    cond.local_frames = int(samples / c.config.local_hop + 1);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> dist(-1, 1);
    for (int i = 0; i < cond.local_frames * c.config.local_channels; ++i) cond.local_features.push_back(dist(rng));
  }
  return cond;
}

class Generation : public ::testing::TestWithParam<Case> {};

// Close enough for float sums computed in different orders; logits are O(1).
void expect_close(std::span<const float> a, std::span<const float> b, const std::string& where) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], 2e-5 + 2e-5 * std::fabs(b[i])) << where << " class " << i;
  }
}

TEST_P(Generation, FastMatchesNaiveLogitsAndSampledIds) {
  const Case& c = GetParam();
  const Model model = Model::random(c.config, 11);
  const int64_t steps = c.config.receptive_field() + 40;  // past the point where padding stops mattering
  const Conditioning cond = conditioning_for(c, steps + 1);
  for (const auto* k : kernels::available_kernels()) {
    auto fast = make_generator(Network::build(model, k->name), Method::kFast, cond);
    auto naive = make_generator(Network::build(model, "ref"), Method::kNaive, cond);
    UniformSource fast_uniforms(99), naive_uniforms(99);
    int id = c.config.classes / 2;
    for (int64_t t = 0; t < steps; ++t) {
      const auto fast_logits = fast->push(id);
      const auto naive_logits = naive->push(id);
      expect_close(fast_logits, naive_logits, std::string(k->name) + " step " + std::to_string(t));
      const int fast_id = sample_code(c.config, fast_logits, 1.0f, fast_uniforms);
      const int naive_id = sample_code(c.config, naive_logits, 1.0f, naive_uniforms);
      if (c.config.scalar_input()) {
        // A 16-bit code resolves 3e-5: float sums in another order move a sampled value
        // (mean + scale * noise) by up to ~1e-3.
        ASSERT_NEAR(fast_id, naive_id, 40) << k->name << " step " << t;
      } else {
        ASSERT_EQ(fast_id, naive_id) << k->name << " step " << t;
      }
      id = fast_id;
    }
  }
}

TEST_P(Generation, TeacherForcedLogitsMatchFastGenerator) {
  const Case& c = GetParam();
  const Model model = Model::random(c.config, 12);
  const int64_t n = 2 * c.config.receptive_field() + 77;
  const Conditioning cond = conditioning_for(c, n);
  std::mt19937 rng(1);
  std::vector<int> ids(n);
  for (int& id : ids) id = int(rng() % c.config.classes);
  for (int threads : {1, 2}) {
    const std::vector<float> logits = teacher_forced_logits(model, ids, cond, threads);
    const size_t width = size_t(c.config.outputs());
    ASSERT_EQ(logits.size(), size_t(n - 1) * width);
    auto fast = make_generator(model, Method::kFast, cond);
    for (int64_t t = 0; t + 1 < n; ++t) {
      const auto row = fast->push(ids[t]);
      expect_close(row, std::span<const float>(&logits[t * width], width),
                   "position " + std::to_string(t));
    }
  }
}

TEST_P(Generation, ResetRestartsTheSequence) {
  const Case& c = GetParam();
  const Model model = Model::random(c.config, 13);
  const Conditioning cond = conditioning_for(c, 200);
  auto fast = make_generator(model, Method::kFast, cond);
  GenerateOptions options;
  options.samples = 150;
  options.seed = 4;
  const auto first = generate(*fast, c.config, options);
  fast->reset();
  EXPECT_EQ(fast->position(), 0);
  EXPECT_EQ(generate(*fast, c.config, options), first);
}

TEST_P(Generation, FeedingAPrimeEqualsPushingIt) {
  const Case& c = GetParam();
  const Model model = Model::random(c.config, 14);
  const Conditioning cond = conditioning_for(c, 300);
  std::vector<int> prime(120);
  for (size_t i = 0; i < prime.size(); ++i) prime[i] = int(i * 7 % c.config.classes);
  for (Method method : {Method::kNaive, Method::kFast}) {
    auto fed = make_generator(model, method, cond);
    auto pushed = make_generator(model, method, cond);
    const auto fed_span = fed->feed(prime);
    const std::vector<float> fed_logits(fed_span.begin(), fed_span.end());
    std::span<const float> pushed_logits;
    for (int id : prime) pushed_logits = pushed->push(id);
    expect_close(fed_logits, pushed_logits, "end of the prime");
    EXPECT_EQ(fed->position(), pushed->position());
    const auto next = fed->push(5);
    expect_close(next, pushed->push(5), "after the prime");
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, Generation, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Evaluate, NllOfAConfidentModelIsLow) {
  // logits that put all mass on the true next id give ~0 bits; uniform logits give log2(classes).
  const int classes = 4;
  const std::vector<int> ids = {0, 1, 2, 3};
  std::vector<float> sure(3 * classes, -100.0f), flat(3 * classes, 0.0f);
  for (int t = 0; t < 3; ++t) sure[t * classes + ids[t + 1]] = 100.0f;
  EXPECT_NEAR(nll_bits(sure, ids, classes), 0.0, 1e-9);
  EXPECT_NEAR(nll_bits(flat, ids, classes), 2.0, 1e-9);
}

TEST(Evaluate, RejectsBadInput) {
  const Model model = Model::random(testing::small_config(), 1);
  EXPECT_THROW(evaluate(model, std::vector<int>{3}), Error);
  EXPECT_THROW(evaluate(model, std::vector<int>{3, 64}), Error);  // 64 is not a class
  ModelConfig g = testing::small_config();
  g.speakers = 2;
  g.global_channels = 3;
  EXPECT_THROW(evaluate(Model::random(g, 1), std::vector<int>{1, 2, 3}), Error);  // no speaker
}

TEST(GenerationApi, GeneratesRequestedLengthWithProgress) {
  const ModelConfig c = testing::small_config();
  const Model model = Model::random(c, 2);
  auto gen = make_generator(model, Method::kFast);
  GenerateOptions options;
  options.samples = c.sample_rate / 5;
  options.prime = {1, 2, 3};
  int64_t last = 0;
  options.progress = [&](int64_t done, int64_t total) {
    EXPECT_GT(done, last);
    EXPECT_EQ(total, options.samples);
    last = done;
  };
  const auto ids = generate(*gen, c, options);
  EXPECT_EQ(ids.size(), size_t(options.samples));
  EXPECT_EQ(last, options.samples);
  for (int id : ids) EXPECT_TRUE(id >= 0 && id < c.classes);
  EXPECT_THROW(gen->push(c.classes), Error);
}

}  // namespace
}  // namespace fastwave
