// Everything a weight format implies, for every row of the table in weight_formats.cpp:
// the tensors it stores, its quantizer, its bit packing, and the kernel layout it is
// unpacked into when a Network is built.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fastwave/model.h"
#include "kernels/linear.h"

namespace fastwave::quant {

// The tensors that store weight `name` of PyTorch shape [rows, in, kernel] in `scheme`:
// the weight's own tensor, then its companions (".scale", ".input_scale").
std::vector<TensorSpec> stored_tensors(const std::string& name, const std::vector<int64_t>& shape,
                                       const TensorScheme& scheme);
// Their bytes in the file.
int64_t stored_bytes(const std::vector<int64_t>& shape, const TensorScheme& scheme);

// The stored tensors of a float weight, keyed by name. Integer codes are symmetric,
// in [-max_code, max_code], with one scale per row (or per row and group); below 8 bits
// each scale is the clip of 70..100% of the largest magnitude with the least squared
// error. `input_clip` (> 0 for static activations) becomes ".input_scale" = clip / 127.
std::map<std::string, Tensor> quantize_weight(const std::string& name, const Tensor& weight, const TensorScheme& scheme,
                                              float input_clip);

// Integer codes [rows][cols] (one int8 each) packed `bits` to a code: each row starts on
// a byte, code c of a row at bit c*bits, least significant bit first, two's complement.
// 8 bits is a plain I8 tensor; 4 bits is two codes per byte, the even one low.
std::vector<uint8_t> pack_codes(std::span<const int8_t> codes, int64_t rows, int64_t cols, int bits);
std::vector<int8_t> unpack_codes(std::span<const uint8_t> packed, int64_t rows, int64_t cols, int bits);

// Weight `name` of `model` as floats, whatever its scheme.
std::vector<float> dequantize(const Model& model, const std::string& name);
// What a float weight becomes when stored in `scheme` and read back.
std::vector<float> round_trip(const std::string& name, const Tensor& weight, const TensorScheme& scheme);

// The rows of `names` (one scheme, checked by Model) stacked into one matrix for the
// kernels: integer widths up to 4 bits go to the grouped int4 layout, wider ones to int8.
// Each weight is read where the model holds it and written once, into the packed matrix.
kernels::Linear pack_linear(const Model& model, const std::vector<std::string>& names, int cols,
                            const kernels::MatrixRows<float>& bias);

}  // namespace fastwave::quant
