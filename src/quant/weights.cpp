#include "quant/weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fastwave/error.h"
#include "kernels/kernels.h"

namespace fastwave::quant {
namespace {

int64_t row_length(const Tensor& w) {
  int64_t n = 1;
  for (size_t i = 1; i < w.shape.size(); ++i) n *= w.shape[i];
  return n;
}

// Largest magnitudes below this give scale 1, where 1/scale would overflow.
constexpr float kTinyMagnitude = 1e-30f;

}  // namespace

Tensor to_bf16(const Tensor& weight) {
  const auto values = weight.f32();
  Tensor t;
  t.dtype = DType::BF16;
  t.shape = weight.shape;
  t.bytes.resize(values.size() * 2);
  kernels::reference_kernels().convert_bf16(values.data(), int(values.size()), int(values.size()),
                                            reinterpret_cast<uint16_t*>(t.bytes.data()));
  return t;
}

QuantizedTensor to_int8(const Tensor& weight) {
  const auto values = weight.f32();
  const int64_t rows = weight.shape[0], cols = row_length(weight);
  QuantizedTensor q;
  q.codes.dtype = DType::I8;
  q.codes.shape = weight.shape;
  q.codes.bytes.resize(values.size());
  std::vector<float> scales(rows);
  for (int64_t r = 0; r < rows; ++r) {
    float max = 0;
    for (int64_t c = 0; c < cols; ++c) max = std::max(max, std::fabs(values[r * cols + c]));
    scales[r] = max > kTinyMagnitude ? max / 127.0f : 1.0f;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = std::clamp(std::nearbyint(values[r * cols + c] / scales[r]), -127.0f, 127.0f);
      q.codes.bytes[r * cols + c] = static_cast<uint8_t>(static_cast<int8_t>(v));
    }
  }
  q.scale = Tensor::from_floats({rows}, scales);
  return q;
}

QuantizedTensor to_int4(const Tensor& weight, int group_size) {
  if (group_size <= 0 || group_size % 8 != 0) throw Error("int4 group size must be a positive multiple of 8");
  const auto values = weight.f32();
  const int64_t rows = weight.shape[0], cols = row_length(weight);
  const int64_t groups = (cols + group_size - 1) / group_size, row_bytes = (cols + 1) / 2;
  QuantizedTensor q;
  q.codes.dtype = DType::U8;
  q.codes.shape = {rows, row_bytes};
  q.codes.bytes.assign(size_t(rows * row_bytes), 0);
  std::vector<float> scales(size_t(rows * groups));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = g * group_size, end = std::min(cols, begin + group_size);
      float max = 0;
      for (int64_t c = begin; c < end; ++c) max = std::max(max, std::fabs(values[r * cols + c]));
      float best_scale = max > kTinyMagnitude ? max / 7.0f : 1.0f;
      if (max > kTinyMagnitude) {
        // Clipping the largest weights a little often lowers the error of all the others.
        double best_error = INFINITY;
        for (int step = 70; step <= 100; step += 2) {
          const float scale = max * step / 100.0f / 7.0f;
          double error = 0;
          for (int64_t c = begin; c < end; ++c) {
            const float v = values[r * cols + c];
            error += std::pow(v - std::clamp(std::nearbyint(v / scale), -7.0f, 7.0f) * scale, 2);
          }
          if (error < best_error) best_error = error, best_scale = scale;
        }
      }
      scales[r * groups + g] = best_scale;
      for (int64_t c = begin; c < end; ++c) {
        const int code = int(std::clamp(std::nearbyint(values[r * cols + c] / best_scale), -7.0f, 7.0f));
        uint8_t& byte = q.codes.bytes[r * row_bytes + c / 2];
        byte |= c % 2 == 0 ? uint8_t(code & 0xF) : uint8_t((code & 0xF) << 4);
      }
    }
  }
  q.scale = Tensor::from_floats({rows, groups}, scales);
  return q;
}

}  // namespace fastwave::quant
