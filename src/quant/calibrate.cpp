// Activation ranges for int8-static: run the float model over calibration audio, keep a
// bounded sample of the magnitudes entering each matrix product, and pick a clip per point.
#include <algorithm>
#include <cmath>

#include "fastwave/evaluate.h"
#include "fastwave/error.h"
#include "fastwave/quantize.h"

namespace fastwave {
namespace {

constexpr size_t kSampleCap = 1 << 16;  // magnitudes kept per point; enough for a clip search

// Keeps every stride-th magnitude, doubling the stride whenever the sample is full, so
// the sample stays spread over all the audio seen.
struct MagnitudeSample {
  std::vector<float> values;
  float max = 0;
  uint64_t seen = 0, stride = 1;

  void add(float v) {
    v = std::fabs(v);
    max = std::max(max, v);
    if (seen++ % stride != 0) return;
    values.push_back(v);
    if (values.size() >= kSampleCap) {
      for (size_t i = 0; i < values.size() / 2; ++i) values[i] = values[2 * i];
      values.resize(values.size() / 2);
      stride *= 2;
    }
  }
};

// Quantize-dequantize with clip c (symmetric, 127 levels each side).
inline float fake_quantize(float v, float clip) {
  const float scale = clip / 127.0f;
  return std::clamp(std::nearbyint(v / scale), -127.0f, 127.0f) * scale;
}

float choose_clip(const MagnitudeSample& s, CalibrationMethod method, double percentile) {
  if (s.max <= 1e-30f) return 1.0f;
  if (method == CalibrationMethod::kMinMax) return s.max;
  std::vector<float> sorted = s.values;
  std::sort(sorted.begin(), sorted.end());
  if (method == CalibrationMethod::kPercentile) {
    const size_t at = std::min(sorted.size() - 1, size_t(percentile / 100.0 * (sorted.size() - 1) + 0.5));
    return std::max(sorted[at], 1e-30f);
  }
  // Candidates from 2% to 100% of the maximum, spaced geometrically: heavy-tailed inputs
  // (the skip sum) want small clips, bounded ones (tanh*sigmoid) want the maximum.
  float best = s.max;
  double best_score = method == CalibrationMethod::kMse ? INFINITY : -INFINITY;
  for (int i = 0; i <= 60; ++i) {
    const float clip = s.max * std::pow(0.02f, 1.0f - i / 60.0f);
    double error = 0, dot = 0, norm_q = 0, norm_x = 0;
    for (float v : sorted) {
      const float q = fake_quantize(v, clip);
      error += double(v - q) * (v - q);
      dot += double(v) * q;
      norm_q += double(q) * q;
      norm_x += double(v) * v;
    }
    const double score = method == CalibrationMethod::kMse ? error : dot / std::sqrt(norm_q * norm_x + 1e-300);
    if (method == CalibrationMethod::kMse ? score < best_score : score > best_score) best_score = score, best = clip;
  }
  return best;
}

}  // namespace

const char* calibration_method_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kMse: return "mse";
    case CalibrationMethod::kCosine: return "cosine";
  }
  return "?";
}

CalibrationMethod parse_calibration_method(const std::string& name) {
  for (auto m : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile, CalibrationMethod::kMse,
                 CalibrationMethod::kCosine}) {
    if (name == calibration_method_name(m)) return m;
  }
  throw Error("unknown calibration method '" + name + "' (choose minmax, percentile, mse or cosine)");
}

std::vector<float> calibrate_activation_clips(const Model& model, const QuantizeOptions& options) {
  if (options.calibration.empty()) throw Error("calibration needs audio");
  if (!(options.percentile > 0 && options.percentile <= 100)) throw Error("percentile must be in (0, 100]");
  const auto network = Network::build(model);
  const int points = 2 * model.config().num_layers() + 2;
  std::vector<MagnitudeSample> samples(points);
  for (const auto& [ids, conditioning] : options.calibration) {
    if (ids.size() < 2) continue;
    // The engine hands over each row once, whatever its chunking and context windows.
    TeacherForcing forcing(network, ids, conditioning);
    forcing.set_observer([&](int point, const float* x, int64_t rows, int width) {
      for (int64_t i = 0; i < rows * width; ++i) samples[point].add(x[i]);
    });
    int64_t first = 0;
    while (!forcing.next(&first).empty()) {
    }
  }
  std::vector<float> clips(points);
  for (int p = 0; p < points; ++p) clips[p] = choose_clip(samples[p], options.method, options.percentile);
  return clips;
}

}  // namespace fastwave
