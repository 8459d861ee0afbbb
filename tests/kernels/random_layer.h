// Random integer layers for the fused-layer kernel tests (batch 1 and lanes): weights as the
// quantizer stores them, views as the engine hands them to the kernels, and the shapes the
// tests sweep.
#pragma once

#include <random>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/linear.h"

namespace fastwave::kernels::test_layers {

inline std::vector<float> uniform(size_t n, float range, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Random integer weights (int8 in [-127, 127], int4 in [-7, 7]) with scales and biases.
inline Linear random_integer_linear(bool int4, int rows, int cols, float input_scale, std::mt19937& rng) {
  const int group = 16;
  std::uniform_int_distribution<int> code(int4 ? -7 : -127, int4 ? 7 : 127);
  std::vector<int8_t> w(size_t(rows) * cols);
  for (auto& v : w) v = int8_t(code(rng));
  const auto bias = uniform(rows, 0.5f, rng);
  if (int4) {
    std::uniform_real_distribution<float> scale(0.01f, 0.1f);
    std::vector<float> scales(size_t(rows) * ((cols + group - 1) / group));
    for (float& s : scales) s = scale(rng);
    return Linear::int4(rows, cols, group, w, scales, bias, input_scale);
  }
  std::uniform_real_distribution<float> scale(0.001f, 0.01f);
  std::vector<float> scales(rows);
  for (float& s : scales) s = scale(rng);
  return Linear::int8(rows, cols, w, scales, bias, input_scale);
}

// The engine's view of it (random layers are always int8 or int4).
inline IntegerMatrixView view_of(const Linear& l) { return l.integer_view().value(); }

struct Shape {
  int residual, dilation, skip, kernel_size;
  bool conditioning, last, filter_gate_int4, residual_skip_int4, static_scales;
};

}  // namespace fastwave::kernels::test_layers
