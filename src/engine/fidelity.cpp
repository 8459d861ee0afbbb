// KL divergence, top-1 agreement and NLL of a model against a reference, per position:
// softmax rows exactly, mixture rows through output_kl's estimate.
#include <algorithm>
#include <cmath>

#include "fastwave/distribution.h"
#include "fastwave/evaluate.h"

namespace fastwave {
namespace {

// log softmax of one row, in double.
void log_softmax(const float* row, int classes, std::vector<double>& out) {
  out.resize(classes);
  const double max = *std::max_element(row, row + classes);
  double sum = 0;
  for (int i = 0; i < classes; ++i) sum += std::exp(row[i] - max);
  const double log_sum = std::log(sum) + max;
  for (int i = 0; i < classes; ++i) out[i] = row[i] - log_sum;
}

}  // namespace

void FidelityAccumulator::add(std::span<const float> reference_logits, std::span<const float> logits,
                              std::span<const int> ids, const ModelConfig& config) {
  const int width = config.outputs();
  const size_t rows = logits.size() / width;
  std::vector<double> p, q;
  for (size_t t = 0; t < rows; ++t) {
    const std::span<const float> ref_row = reference_logits.subspan(t * width, width), row = logits.subspan(t * width, width);
    double kl;
    if (config.output == ModelConfig::Output::kSoftmax) {  // one log-softmax per row serves KL and NLL
      log_softmax(ref_row.data(), width, p);
      log_softmax(row.data(), width, q);
      kl = 0;
      for (int i = 0; i < width; ++i) kl += std::exp(p[i]) * (p[i] - q[i]);
      kl = std::max(0.0, kl);
      reference_nll_ -= p[ids[t + 1]] / std::log(2.0);
      nll_ -= q[ids[t + 1]] / std::log(2.0);
    } else {
      kl = output_kl(config, ref_row, row, uniforms_);
      reference_nll_ += code_nll_bits(config, ref_row, ids[t + 1]);
      nll_ += code_nll_bits(config, row, ids[t + 1]);
    }
    kl_.push_back(static_cast<float>(kl));
    kl_sum_ += kl;
    agree_ += output_mode(config, ref_row) == output_mode(config, row);
  }
}

Fidelity FidelityAccumulator::result() const {
  Fidelity f;
  f.positions = static_cast<int64_t>(kl_.size());
  if (kl_.empty()) return f;
  const double n = double(kl_.size());
  f.reference_nll_bits = reference_nll_ / n;
  f.nll_bits = nll_ / n;
  f.kl_mean = kl_sum_ / n;
  std::vector<float> sorted = kl_;
  std::sort(sorted.begin(), sorted.end());
  auto percentile = [&](double p) { return sorted[std::min(sorted.size() - 1, size_t(p * (sorted.size() - 1) + 0.5))]; };
  f.kl_p50 = percentile(0.5);
  f.kl_p90 = percentile(0.9);
  f.kl_p99 = percentile(0.99);
  f.kl_max = sorted.back();
  f.top1_agreement = agree_ / n;
  return f;
}

}  // namespace fastwave
