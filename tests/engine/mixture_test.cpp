// The mixture outputs (r9y9's wavenet_vocoder): config keys, 16-bit codes, sampling with
// injected uniforms in the documented order, and the discretized likelihood.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "../test_util.h"
#include "fastwave/distribution.h"
#include "fastwave/evaluate.h"

namespace fastwave {
namespace {

ModelConfig mixture_config(ModelConfig::Output output, int mixtures) {
  ModelConfig c = testing::small_config();
  c.output = output;
  c.mixtures = mixtures;
  c.classes = 65536;
  return c;
}

double open_uniform(double u) { return 1e-5 + (1 - 2e-5) * u; }
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

TEST(MixtureConfig, RoundTripsAndChecksItsKeys) {
  const ModelConfig c = mixture_config(ModelConfig::Output::kLogisticMixture, 10);
  EXPECT_EQ(c.outputs(), 30);
  EXPECT_EQ(c.input_width(), 1);
  const ModelConfig back = ModelConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.output, ModelConfig::Output::kLogisticMixture);
  EXPECT_EQ(back.mixtures, 10);
  EXPECT_EQ(mixture_config(ModelConfig::Output::kGaussianMixture, 1).outputs(), 2);
  EXPECT_EQ(mixture_config(ModelConfig::Output::kGaussianMixture, 4).outputs(), 12);
  // A softmax config serialises without the new keys.
  EXPECT_EQ(testing::small_config().to_json().find("output"), std::string::npos);

  ModelConfig bad = c;
  bad.classes = 256;
  EXPECT_THROW(bad.validate(), Error);  // codes are 16-bit
  bad = c;
  bad.mixtures = 0;
  EXPECT_THROW(bad.validate(), Error);
  bad = testing::small_config();
  bad.mixtures = 2;
  EXPECT_THROW(bad.validate(), Error);  // mixtures without a mixture output
  std::string json = c.to_json();
  json.replace(json.find("logistic_mixture"), 16, "cauchy_mixture__");
  EXPECT_THROW(ModelConfig::from_json(json), Error);
  // The tensors follow: a one-column start conv, 3K end rows.
  const Model model = Model::random(c, 3);
  EXPECT_EQ(model.tensor("start_conv.weight").shape, (std::vector<int64_t>{16, 1, 1}));
  EXPECT_EQ(model.tensor("end_conv_2.weight").shape, (std::vector<int64_t>{30, 36, 1}));
}

TEST(SampleCodes, AreSixteenBitSamples) {
  EXPECT_EQ(code_of_sample(0.0), 32768);
  EXPECT_EQ(code_of_sample(-1.0), 0);
  EXPECT_EQ(code_of_sample(1.0), 65535);  // +1 is clamped to the largest 16-bit sample
  EXPECT_EQ(code_of_sample(5.0), 65535);
  EXPECT_EQ(code_of_sample(std::nan("")), 32768);
  EXPECT_EQ(code_of_sample(0.5 / 32768), 32768);  // a tie goes to the even code
  EXPECT_EQ(code_of_sample(1.5 / 32768), 32770);
  const ModelConfig c = mixture_config(ModelConfig::Output::kLogisticMixture, 1);
  const std::vector<float> audio = {-1.0f, -0.5f, 0.0f, 12345.0f / 32768, 32767.0f / 32768};
  EXPECT_EQ(decode_codes(c, encode_audio(c, audio)), audio);
}

TEST(MixtureSampling, DrawsItsUniformsInTheDocumentedOrder) {
  const ModelConfig c = mixture_config(ModelConfig::Output::kLogisticMixture, 3);
  const std::vector<float> row = {0.3f, -0.2f, 0.1f,     // component logits
                                  -0.4f, 0.2f, 0.6f,     // means
                                  -3.0f, -2.5f, -4.0f};  // log scales
  for (float temperature : {1.0f, 0.7f}) {
    UniformSource engine(42), replay(42);
    for (int draw = 0; draw < 50; ++draw) {
      int best = 0;
      double best_score = -1e300;
      for (int k = 0; k < 3; ++k) {
        const double score = row[k] / temperature - std::log(-std::log(open_uniform(replay.next())));
        if (score > best_score) best_score = score, best = k;
      }
      const double v = open_uniform(replay.next());
      const double x = row[3 + best] + temperature * std::exp(double(row[6 + best])) * (std::log(v) - std::log(1 - v));
      ASSERT_EQ(sample_code(c, row, temperature, engine), code_of_sample(x)) << "draw " << draw;
    }
    EXPECT_EQ(engine.next(), replay.next());  // the same number of uniforms used
  }
  // Temperature 0: the most probable component's mean, and still 3 + 1 uniforms.
  UniformSource greedy(1), count(1);
  EXPECT_EQ(sample_code(c, row, 0.0f, greedy), code_of_sample(-0.4));
  for (int i = 0; i < 4; ++i) count.next();
  EXPECT_EQ(greedy.next(), count.next());
}

TEST(MixtureSampling, SingleGaussianUsesBoxMuller) {
  const ModelConfig c = mixture_config(ModelConfig::Output::kGaussianMixture, 1);
  const std::vector<float> row = {0.1f, -2.0f};  // mean, log scale
  UniformSource engine(7), replay(7);
  for (int draw = 0; draw < 50; ++draw) {
    const double v1 = open_uniform(replay.next()), v2 = open_uniform(replay.next());
    const double x = 0.1f + std::exp(-2.0) * std::sqrt(-2 * std::log(v1)) * std::cos(2 * std::numbers::pi * v2);
    ASSERT_EQ(sample_code(c, row, 1.0f, engine), code_of_sample(x));
  }
  // Statistically: mean 0.1, sd e^-2.
  UniformSource many(9);
  double sum = 0, squares = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = sample_of_code(sample_code(c, row, 1.0f, many));
    sum += x, squares += x * x;
  }
  const double mean = sum / n, sd = std::sqrt(squares / n - mean * mean);
  EXPECT_NEAR(mean, 0.1, 0.005);
  EXPECT_NEAR(sd, std::exp(-2.0), 0.005);
}

TEST(MixtureLikelihood, IsTheDiscretizedLogistic) {
  const ModelConfig c = mixture_config(ModelConfig::Output::kLogisticMixture, 1);
  // One logistic at 0 with scale 1e-3: the bin of code 32768 is 2/65535 wide around 0.
  const std::vector<float> row = {0.0f, 0.0f, float(std::log(1e-3))};
  const double half = (1.0 / 65535) / double(std::exp(row[2]));
  EXPECT_NEAR(code_nll_bits(c, row, 32768), -std::log2(sigmoid(half) - sigmoid(-half)), 1e-6);
  // The edge bins are open-ended: a mean below -1 puts nearly all mass on code 0.
  const std::vector<float> below = {0.0f, -1.5f, float(std::log(0.01))};
  EXPECT_NEAR(code_nll_bits(c, below, 0), 0.0, 1e-6);
  // Log scales are floored at log_scale_min in the likelihood.
  const std::vector<float> tiny = {0.0f, 0.0f, -40.0f}, floored = {0.0f, 0.0f, -16.0f};
  EXPECT_DOUBLE_EQ(code_nll_bits(c, tiny, 32800), code_nll_bits(c, floored, 32800));
  // Two components: the mixture weights are a softmax of the logits.
  const ModelConfig c2 = mixture_config(ModelConfig::Output::kLogisticMixture, 2);
  const std::vector<float> two = {0.0f, float(std::log(3.0)), 0.0f, 0.5f, float(std::log(1e-3)), float(std::log(1e-3))};
  const double p_first = sigmoid(half) - sigmoid(-half);  // the second is 0.5 away: ~0
  EXPECT_NEAR(code_nll_bits(c2, two, 32768), -std::log2(0.25 * p_first), 1e-6);
}

TEST(MixtureLikelihood, GaussianIsTheDensityTimesOneStep) {
  const ModelConfig c = mixture_config(ModelConfig::Output::kGaussianMixture, 1);
  const std::vector<float> row = {0.0f, -3.0f};
  const double sd = std::exp(-3.0), y = 1000.0 / 32768;
  const double density = std::exp(-0.5 * y * y / (sd * sd)) / (sd * std::sqrt(2 * std::numbers::pi));
  EXPECT_NEAR(code_nll_bits(c, row, 32768 + 1000), -std::log2(density * 2 / 65535), 1e-6);
}

TEST(MixtureLikelihood, EvaluationAveragesIt) {
  ModelConfig c = mixture_config(ModelConfig::Output::kLogisticMixture, 2);
  const Model model = Model::random(c, 5);
  std::vector<int> codes;
  for (int t = 0; t < 300; ++t) codes.push_back(32768 + int(8000 * std::sin(t * 0.05)));
  std::vector<float> logits;
  const EvalResult result = evaluate(model, codes, {}, 1, &logits);
  double sum = 0;
  for (size_t t = 0; t + 1 < codes.size(); ++t) {
    sum += code_nll_bits(c, std::span<const float>(logits).subspan(t * 6, 6), codes[t + 1]);
  }
  EXPECT_NEAR(result.nll_bits_per_sample, sum / double(codes.size() - 1), 1e-9);
  EXPECT_GT(result.nll_bits_per_sample, 0.0);
}

}  // namespace
}  // namespace fastwave

namespace fastwave {
namespace {

// KL over all 65536 codes, summed exactly: what output_kl estimates.
double exact_kl(const ModelConfig& c, std::span<const float> p, std::span<const float> q) {
  double kl = 0;
  for (int code = 0; code < 65536; ++code) {
    const double lp = -code_nll_bits(c, p, code) * std::numbers::ln2, lq = -code_nll_bits(c, q, code) * std::numbers::ln2;
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}

TEST(MixtureKl, EstimatesTheExactSumAndIsZeroForTheSameRow) {
  for (auto output : {ModelConfig::Output::kLogisticMixture, ModelConfig::Output::kGaussianMixture}) {
    const ModelConfig c = mixture_config(output, 3);
    // Components at -0.3, 0.1, 0.5 with scales of a few hundred codes; q moves and widens
    // them a little, as quantization does (a KL of a few hundredths).
    const std::vector<float> p = {0.2f, -0.5f, 0.1f, -0.3f, 0.1f, 0.5f, -5.0f, -4.5f, -5.5f};
    const std::vector<float> q = {0.25f, -0.55f, 0.1f, -0.299f, 0.1015f, 0.5f, -4.95f, -4.5f, -5.45f};
    UniformSource uniforms(1);
    EXPECT_EQ(output_kl(c, p, p, uniforms), 0.0);
    for (int i = 0; i < 50; ++i) EXPECT_GE(output_kl(c, p, q, uniforms), 0.0);
    double mean = 0;
    constexpr int kRows = 2000;  // an average over rows is what the estimate is for
    for (int i = 0; i < kRows; ++i) mean += output_kl(c, p, q, uniforms) / kRows;
    const double exact = exact_kl(c, p, q);
    EXPECT_GT(exact, 0.003);
    EXPECT_NEAR(mean, exact, 0.05 * exact) << (output == ModelConfig::Output::kLogisticMixture ? "logistic" : "gaussian");
  }
}

TEST(MixtureKl, SoftmaxIsExactAndTopOneIsTheHeaviestComponent) {
  ModelConfig softmax = testing::small_config();
  softmax.classes = 3;
  const std::vector<float> p = {0.0f, 1.0f, 2.0f}, q = {0.5f, 1.0f, 1.0f};
  UniformSource uniforms(2);
  double kl = 0, zp = 0, zq = 0;
  for (int i = 0; i < 3; ++i) zp += std::exp(double(p[i])), zq += std::exp(double(q[i]));
  for (int i = 0; i < 3; ++i) kl += std::exp(double(p[i])) / zp * (p[i] - std::log(zp) - q[i] + std::log(zq));
  EXPECT_NEAR(output_kl(softmax, p, q, uniforms), kl, 1e-12);
  EXPECT_EQ(output_mode(softmax, p), 2);
  const ModelConfig c = mixture_config(ModelConfig::Output::kLogisticMixture, 3);
  EXPECT_EQ(output_mode(c, std::vector<float>{0.2f, 0.9f, 0.1f, 0, 0, 0, 0, 0, 0}), 1);
}

}  // namespace
}  // namespace fastwave
