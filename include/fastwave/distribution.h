// What a model's outputs mean: a distribution over the next sample code, and how codes map
// to audio. Softmax models code samples as µ-law classes and take their one-hot as input;
// mixture models (the outputs of r9y9's wavenet_vocoder) code them as 16-bit linear
// samples and take the sample value itself as input.
#pragma once

#include <span>
#include <vector>

#include "fastwave/config.h"
#include "fastwave/generator.h"

namespace fastwave {

// Linear codes: code c is the 16-bit sample c - 32768, the value (c - 32768) / 32768.
inline float sample_of_code(int code) { return float(code - 32768) * (1.0f / 32768.0f); }
// The nearest code (ties to even) of a value clamped to [-1, 1]; NaN is silence.
int code_of_sample(double x);

// Audio in [-1, 1] to this model's codes and back (µ-law or linear; pre-emphasised first
// when config.preemphasis is set, and de-emphasised after). Each call is a whole signal
// that starts from silence.
std::vector<int> encode_audio(const ModelConfig& config, std::span<const float> samples);
std::vector<float> decode_codes(const ModelConfig& config, std::span<const int> codes);

// decode_codes for a signal that arrives in pieces (a stream written as it is generated):
// de-emphasis carries its last output from one piece to the next.
class AudioDecoder {
 public:
  explicit AudioDecoder(const ModelConfig& config)
      : scalar_(config.scalar_input()), classes_(config.classes), preemphasis_(config.preemphasis) {}
  std::vector<float> decode(std::span<const int> codes);

 private:
  bool scalar_;
  int classes_;
  double preemphasis_;
  double previous_ = 0;  // the last de-emphasised sample
};

// Draws the next code from one output row (config.outputs() values). A softmax draws one
// uniform (sample_id); a mixture draws, in this order, `mixtures` uniforms for the
// component when there is more than one (Gumbel-max on logits / temperature, as r9y9's
// sampler), then one for a logistic or two for a Gaussian (Box-Muller), each mapped to
// [1e-5, 1 - 1e-5]; the value is mean + temperature * scale * noise, clamped to [-1, 1].
// Temperature 0 takes the most probable component's mean. Log scales are not floored.
int sample_code(const ModelConfig& config, std::span<const float> outputs, float temperature,
                UniformSource& uniforms);

// -log2 P(code) under one output row. Softmax: the class probability. Logistic mixture:
// r9y9's discretized likelihood (bins of one 16-bit step, open-ended edge bins, log scales
// floored at log_scale_min). Gaussian mixture: the density times one 16-bit step.
double code_nll_bits(const ModelConfig& config, std::span<const float> outputs, int code);

// KL(p || q) in nats between the next-code distributions of two output rows (a model and,
// say, its quantized copy). Softmax: exact over the classes. Mixture: estimated under
// code_nll_bits' likelihood from codes drawn from each of p's components (two antithetic
// pairs each, from `uniforms`) weighted by its weight, each adding r - 1 - ln r with
// r = q/p: unbiased and never negative (src/engine/mixture.cpp); one row's estimate is
// noisy, averages over many rows are what it is for.
double output_kl(const ModelConfig& config, std::span<const float> p, std::span<const float> q,
                 UniformSource& uniforms);
// A row's most probable choice: the softmax class, or a mixture's heaviest component (what
// top-1 agreement compares).
int output_mode(const ModelConfig& config, std::span<const float> outputs);

}  // namespace fastwave
