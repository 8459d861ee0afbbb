// The mixture outputs of r9y9's wavenet_vocoder: sampling with injected uniforms and the
// likelihood of a 16-bit code. Everything in double from the float outputs, so that a
// transcription in numpy draws the same codes from the same uniforms.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "engine/sampler.h"
#include "fastwave/distribution.h"

namespace fastwave {
namespace {

// Where the parameters of component k sit in an output row.
struct MixtureRow {
  const float* logits = nullptr;  // null for a single component
  const float* means;
  const float* log_scales;
  int components;

  MixtureRow(const ModelConfig& c, std::span<const float> y) : components(c.mixtures) {
    if (c.output == ModelConfig::Output::kGaussianMixture && components == 1) {
      means = y.data();
      log_scales = y.data() + 1;
    } else {
      logits = y.data();
      means = y.data() + components;
      log_scales = y.data() + 2 * components;
    }
  }
};

double open_uniform(double u) { return 1e-5 + (1.0 - 2e-5) * u; }
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// A standard logistic (one uniform) or normal (two, Box-Muller) draw: a component's noise
// before its scale.
double unit_noise(const ModelConfig& c, UniformSource& uniforms) {
  if (c.output == ModelConfig::Output::kLogisticMixture) {
    const double v = open_uniform(uniforms.next());
    return std::log(v) - std::log(1.0 - v);
  }
  const double v1 = open_uniform(uniforms.next()), v2 = open_uniform(uniforms.next());
  return std::sqrt(-2.0 * std::log(v1)) * std::cos(2.0 * std::numbers::pi * v2);
}

// log softmax of the component logits at k (0 for a single component).
double log_weight(const MixtureRow& m, int k) {
  if (!m.logits || m.components == 1) return 0.0;
  double top = m.logits[0];
  for (int j = 1; j < m.components; ++j) top = std::max(top, double(m.logits[j]));
  double sum = 0;
  for (int j = 0; j < m.components; ++j) sum += std::exp(double(m.logits[j]) - top);
  return double(m.logits[k]) - top - std::log(sum);
}

// r9y9's discretized logistic: log P(bin of y) for one component, bins 2/65535 wide.
double logistic_log_probability(double y, double mean, double log_scale) {
  constexpr double kHalfBin = 1.0 / 65535.0;
  const double centered = y - mean, inverse_scale = std::exp(-log_scale);
  const double plus_in = inverse_scale * (centered + kHalfBin), min_in = inverse_scale * (centered - kHalfBin);
  if (y < -0.999) return plus_in - softplus(plus_in);  // everything below the first bin's top
  if (y > 0.999) return -softplus(min_in);              // everything above the last bin's bottom
  const double cdf_delta = 1.0 / (1.0 + std::exp(-plus_in)) - 1.0 / (1.0 + std::exp(-min_in));
  if (cdf_delta > 1e-5) return std::log(std::max(cdf_delta, 1e-12));
  // Too narrow to difference: the density at the bin centre times the bin width.
  const double mid_in = inverse_scale * centered;
  return mid_in - log_scale - 2.0 * softplus(mid_in) - std::log(65535.0 / 2.0);
}

double gaussian_log_probability(double y, double mean, double log_scale) {
  const double z = (y - mean) * std::exp(-log_scale);
  return -0.5 * z * z - log_scale - 0.5 * std::log(2.0 * std::numbers::pi) + std::log(2.0 / 65535.0);
}

}  // namespace

int sample_mixture(const ModelConfig& c, std::span<const float> outputs, float temperature,
                   UniformSource& uniforms) {
  const MixtureRow m(c, outputs);
  int k = 0;
  if (m.components > 1) {
    double best = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < m.components; ++j) {
      const double v = open_uniform(uniforms.next());
      const double score = temperature > 0 ? double(m.logits[j]) / temperature - std::log(-std::log(v))
                                           : double(m.logits[j]);
      if (score > best || j == 0) best = score, k = j;
    }
  }
  const double noise = unit_noise(c, uniforms);
  return code_of_sample(double(m.means[k]) + double(temperature) * std::exp(double(m.log_scales[k])) * noise);
}

double mixture_kl(const ModelConfig& c, std::span<const float> p, std::span<const float> q, UniformSource& uniforms) {
  // Each draw x adds r - 1 - ln r with r = q(x) / p(x): its mean under p is the KL (q sums
  // to one over the codes), and unlike ln p - ln q it is never negative, so a tiny KL is
  // not lost in the noise of its draws. Stratified by component, with antithetic pairs
  // (noise and its mirror image).
  constexpr int kPairs = 2;
  const MixtureRow m(c, p);
  double kl = 0;
  for (int k = 0; k < m.components; ++k) {
    const double weight = std::exp(log_weight(m, k));
    const double scale = std::exp(std::max(double(m.log_scales[k]), c.log_scale_min));
    double sum = 0;
    for (int pair = 0; pair < kPairs; ++pair) {
      const double noise = unit_noise(c, uniforms);
      for (double sign : {1.0, -1.0}) {
        const int code = code_of_sample(double(m.means[k]) + sign * scale * noise);
        const double log_ratio = (mixture_nll_bits(c, p, code) - mixture_nll_bits(c, q, code)) * std::numbers::ln2;
        sum += std::expm1(log_ratio) - log_ratio;
      }
    }
    kl += weight * sum / (2 * kPairs);
  }
  return kl;
}

int mixture_mode(const ModelConfig& c, std::span<const float> outputs) {
  const MixtureRow m(c, outputs);
  if (!m.logits) return 0;
  return int(std::max_element(m.logits, m.logits + m.components) - m.logits);
}

double mixture_nll_bits(const ModelConfig& c, std::span<const float> outputs, int code) {
  const MixtureRow m(c, outputs);
  const double y = sample_of_code(code);
  std::vector<double> terms(size_t(m.components));
  for (int k = 0; k < m.components; ++k) {
    const double log_scale = std::max(double(m.log_scales[k]), c.log_scale_min);
    terms[k] = log_weight(m, k) + (c.output == ModelConfig::Output::kLogisticMixture
                                       ? logistic_log_probability(y, m.means[k], log_scale)
                                       : gaussian_log_probability(y, m.means[k], log_scale));
  }
  const double top = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return -(top + std::log(sum)) / std::numbers::ln2;
}

}  // namespace fastwave
