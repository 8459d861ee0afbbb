// Post-training quantization: no retraining, optionally calibrated on audio.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fastwave/generator.h"
#include "fastwave/model.h"

namespace fastwave {

// How int8-static picks each activation's clipping range from calibration values.
enum class CalibrationMethod {
  kMinMax,      // the largest magnitude seen
  kPercentile,  // a percentile of the magnitudes (QuantizeOptions::percentile)
  kMse,         // the clip minimising the mean squared quantization error
  kCosine,      // the clip maximising cosine similarity with the float values (myQASR)
};
const char* calibration_method_name(CalibrationMethod method);
CalibrationMethod parse_calibration_method(const std::string& name);  // throws fastwave::Error

struct QuantizeOptions {
  // For every layer and the end convs, and the conditioning projections (weight-only:
  // at 8 bits under any integer scheme)...
  Scheme scheme = Scheme::kInt8Dynamic;
  std::map<int, Scheme> layer_schemes;    // ...unless a layer is named here
  std::optional<Scheme> end_scheme;       // ...or the end convs here
  int group_size = 32;                    // grouped formats (int2..int4): columns per scale
  // Explicit schemes of single weights (any of quantizable_tensors()), over all of the
  // above; Scheme::kF32 keeps a weight in float.
  SchemeMap tensor_schemes;
  // Min-max by default: clipping the rare large activations (the other methods) costs
  // WaveNet far more than the coarser steps (measured in README.md, "Quantization").
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;
  // Audio (µ-law ids, with the conditioning it goes with) that the float model is run on
  // to calibrate int8-static activations.
  std::vector<std::pair<std::vector<int>, Conditioning>> calibration;
  int threads = 1;
  // Clips already calibrated (as calibrate_activation_clips returns them): used instead
  // of `calibration` when set, so one calibration serves many quantized models.
  std::vector<float> activation_clips;
};

// The scheme of every layer (index num_layers is the end convs) after the overrides.
std::vector<Scheme> resolve_schemes(const ModelConfig& config, const QuantizeOptions& options);

// Quantizes a float model. Throws fastwave::Error for an already quantized model, a
// static scheme without calibration data or clips, or a bad group size.
Model quantize(const Model& model, const QuantizeOptions& options);

// Per quantization point (2n: layer n's filter/gate input, 2n+1: its residual/skip input,
// 2L: end_conv_1's input, 2L+1: end_conv_2's), the clipping value chosen by `method`.
std::vector<float> calibrate_activation_clips(const Model& model, const QuantizeOptions& options);

}  // namespace fastwave
