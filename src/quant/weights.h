// Turning float weight matrices into the stored forms of each scheme.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fastwave/model.h"

namespace fastwave::quant {

// Each returns the tensors that replace a float weight [rows][cols] (cols = in*kernel).
// bfloat16, rounded to nearest even.
Tensor to_bf16(const Tensor& weight);

struct QuantizedTensor {
  Tensor codes;  // I8 [shape], or U8 [rows, ceil(cols/2)] for int4
  Tensor scale;  // F32 [rows] for int8, [rows, groups] for int4
};
// Symmetric int8 with one scale per row: codes in [-127, 127].
QuantizedTensor to_int8(const Tensor& weight);
// Symmetric int4 per row and group of `group_size` columns: codes in [-7, 7], two per byte
// (even column in the low nibble). Each group's scale is the one, among clips of 70..100%
// of its largest magnitude, with the least squared error.
QuantizedTensor to_int4(const Tensor& weight, int group_size);

}  // namespace fastwave::quant
