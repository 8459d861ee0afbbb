// The weight-format table and everything each row implies. Adding a width is adding a
// row: storage, quantizer, packing and kernel layout below all follow from its fields.
#include "quant/weight_formats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

#include "fastwave/error.h"
#include "kernels/kernels.h"

namespace fastwave {
namespace {

// int<b> sits at index b (Scheme::integer relies on it). Up to 4 bits the codes fit the
// grouped int4 kernels, whose per-group scales keep few levels usable; from 5 bits one
// scale per row is enough and the codes run on the int8 kernels.
constexpr std::array<WeightFormat, 9> kFormats{{
    {"f32", 32, false, false},
    {"bf16", 16, false, false},
    {"int2", 2, true, true},
    {"int3", 3, true, true},
    {"int4", 4, true, true},
    {"int5", 5, true, false},
    {"int6", 6, true, false},
    {"int7", 7, true, false},
    {"int8", 8, true, false},
}};

}  // namespace

std::span<const WeightFormat> weight_formats() { return kFormats; }

std::string scheme_name(Scheme scheme) {
  const WeightFormat& f = scheme.weight_format();
  if (!f.integer) return f.name;
  if (scheme.static_activations) return std::string(f.name) + "-static";
  return f.bits == 8 ? "int8-dynamic" : f.name;
}

std::string scheme_names() {
  std::string names;
  for (size_t i = 0; i < kFormats.size(); ++i) {
    for (bool s : {false, true}) {
      if (s && !kFormats[i].integer) continue;
      names += (names.empty() ? "" : ", ") + scheme_name(Scheme{uint8_t(i), s});
    }
  }
  return names;
}

Scheme parse_scheme(std::string_view name) {
  for (size_t i = 0; i < kFormats.size(); ++i) {
    const std::string base = kFormats[i].name;
    if (name == base) return Scheme{uint8_t(i), false};
    if (!kFormats[i].integer) continue;
    if (name == base + "-dynamic") return Scheme{uint8_t(i), false};
    if (name == base + "-static") return Scheme{uint8_t(i), true};
  }
  throw Error("unknown scheme '" + std::string(name) + "' (choose " + scheme_names() + ")");
}

std::string group_size_problem(const WeightFormat& format, int group_size) {
  if (!format.grouped) {
    return group_size == 0 ? "" : std::string(format.name) + " takes no group size, got " + std::to_string(group_size);
  }
  if (group_size < 8 || group_size % 8 != 0 || group_size > kMaxGroupSize) {
    return std::string(format.name) + " group size must be a multiple of 8 between 8 and " +
           std::to_string(kMaxGroupSize) + ", got " + std::to_string(group_size);
  }
  return "";
}

namespace quant {
namespace {

int64_t row_length(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

int64_t packed_row_bytes(int64_t cols, int bits) { return (cols * bits + 7) / 8; }

// Largest magnitudes below this give scale 1, where 1/scale would overflow.
constexpr float kTinyMagnitude = 1e-30f;

float round_to_code(float v, float scale, int max_code) {
  return std::clamp(std::nearbyint(v / scale), float(-max_code), float(max_code));
}

// The scale of one run of weights (a row or a group).
float choose_scale(std::span<const float> w, int bits, int max_code) {
  float max = 0;
  for (float v : w) max = std::max(max, std::fabs(v));
  if (max <= kTinyMagnitude) return 1.0f;
  if (bits >= 8) return max / max_code;
  // With few levels, clipping the largest weights a little often lowers the error of all
  // the others.
  float best_scale = max / max_code;
  double best_error = INFINITY;
  for (int step = 70; step <= 100; step += 2) {
    const float scale = max * step / 100.0f / max_code;
    double error = 0;
    for (float v : w) error += std::pow(v - round_to_code(v, scale, max_code) * scale, 2);
    if (error < best_error) best_error = error, best_scale = scale;
  }
  return best_scale;
}

}  // namespace

std::vector<TensorSpec> stored_tensors(const std::string& name, const std::vector<int64_t>& shape,
                                       const TensorScheme& scheme) {
  const WeightFormat& f = scheme.scheme.weight_format();
  if (!f.integer) return {{name, shape, f.bits == 16 ? DType::BF16 : DType::F32}};
  const int64_t rows = shape[0], cols = row_length(shape);
  std::vector<TensorSpec> specs;
  if (f.bits == 8) {
    specs.push_back({name, shape, DType::I8});
  } else {
    specs.push_back({name, {rows, packed_row_bytes(cols, f.bits)}, DType::U8});
  }
  if (f.grouped) {
    const int64_t group = std::max(1, scheme.group_size);
    specs.push_back({name + ".scale", {rows, (cols + group - 1) / group}});
  } else {
    specs.push_back({name + ".scale", {rows}});
  }
  if (scheme.scheme.static_activations) specs.push_back({name + ".input_scale", {1}});
  return specs;
}

int64_t stored_bytes(const std::vector<int64_t>& shape, const TensorScheme& scheme) {
  int64_t bytes = 0;
  for (const auto& spec : stored_tensors("w", shape, scheme)) {
    int64_t n = dtype_size(spec.dtype);
    for (int64_t d : spec.shape) n *= d;
    bytes += n;
  }
  return bytes;
}

std::vector<uint8_t> pack_codes(std::span<const int8_t> codes, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packed_row_bytes(cols, bits);
  std::vector<uint8_t> packed(size_t(rows * row_bytes), 0);
  const unsigned mask = (1u << bits) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = packed.data() + r * row_bytes;
    for (int64_t c = 0; c < cols; ++c) {
      const unsigned code = unsigned(codes[size_t(r * cols + c)]) & mask;
      const int64_t bit = c * bits;
      // A code spans at most two bytes (bits <= 8).
      row[bit / 8] |= uint8_t(code << (bit % 8));
      if (bit % 8 + bits > 8) row[bit / 8 + 1] |= uint8_t(code >> (8 - bit % 8));
    }
  }
  return packed;
}

namespace {

// One row of codes from its packed bits (the row starts on a byte).
void unpack_code_row(const uint8_t* row, int64_t cols, int bits, int8_t* codes) {
  if (bits == 4) {  // the common width, two codes per byte: no bit arithmetic across bytes
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t nibble = c % 2 ? row[c / 2] >> 4 : row[c / 2] & 0xF;
      codes[c] = int8_t(int(nibble ^ 8u) - 8);  // sign-extend
    }
    return;
  }
  const unsigned mask = (1u << bits) - 1, sign = 1u << (bits - 1);
  for (int64_t c = 0; c < cols; ++c) {
    const int64_t bit = c * bits;
    unsigned v = unsigned(row[bit / 8]) >> (bit % 8);
    if (bit % 8 + bits > 8) v |= unsigned(row[bit / 8 + 1]) << (8 - bit % 8);
    v &= mask;
    codes[c] = int8_t(int(v ^ sign) - int(sign));  // sign-extend
  }
}

}  // namespace

std::vector<int8_t> unpack_codes(std::span<const uint8_t> packed, int64_t rows, int64_t cols, int bits) {
  const int64_t row_bytes = packed_row_bytes(cols, bits);
  if (int64_t(packed.size()) != rows * row_bytes) throw Error("packed codes: wrong number of bytes");
  std::vector<int8_t> codes(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r) unpack_code_row(packed.data() + r * row_bytes, cols, bits, codes.data() + r * cols);
  return codes;
}

std::map<std::string, Tensor> quantize_weight(const std::string& name, const Tensor& weight, const TensorScheme& scheme,
                                              float input_clip) {
  const WeightFormat& f = scheme.scheme.weight_format();
  const auto values = weight.f32();
  std::map<std::string, Tensor> out;
  if (!f.integer) {
    if (f.bits == 32) {
      out[name] = weight;
      return out;
    }
    Tensor t;
    t.dtype = DType::BF16;
    t.shape = weight.shape;
    t.bytes = std::vector<uint8_t>(values.size() * 2);
    kernels::reference_kernels().convert_bf16(values.data(), int(values.size()), int(values.size()),
                                              reinterpret_cast<uint16_t*>(t.bytes.mutable_data()));
    out[name] = std::move(t);
    return out;
  }
  if (const std::string problem = group_size_problem(f, scheme.group_size); !problem.empty()) throw Error(problem);
  const int64_t rows = weight.shape[0], cols = row_length(weight.shape);
  const int64_t group = f.grouped ? scheme.group_size : cols, groups = (cols + group - 1) / group;
  std::vector<int8_t> codes(values.size());
  std::vector<float> scales(size_t(rows * groups));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = r * cols + g * group, end = r * cols + std::min(cols, (g + 1) * group);
      const float scale = choose_scale(values.subspan(begin, end - begin), f.bits, f.max_code());
      scales[size_t(r * groups + g)] = scale;
      for (int64_t i = begin; i < end; ++i) codes[i] = int8_t(round_to_code(values[i], scale, f.max_code()));
    }
  }
  const auto specs = stored_tensors(name, weight.shape, scheme);
  Tensor& stored = out[name];
  stored.dtype = specs[0].dtype;
  stored.shape = specs[0].shape;
  if (f.bits == 8) {
    const auto* first = reinterpret_cast<const uint8_t*>(codes.data());
    stored.bytes = std::vector<uint8_t>(first, first + codes.size());
  } else {
    stored.bytes = pack_codes(codes, rows, cols, f.bits);
  }
  out[name + ".scale"] = Tensor::from_floats(specs[1].shape, scales);
  if (scheme.scheme.static_activations) {
    if (!(input_clip > 0)) throw Error("static activations of '" + name + "' need a calibrated clip");
    out[name + ".input_scale"] = Tensor::from_floats({1}, std::vector<float>{input_clip / 127.0f});
  }
  return out;
}

namespace {

// The codes [rows][cols] of an integer weight, one int8 each, from its stored tensor.
std::vector<int8_t> codes_of(const Tensor& stored, int bits, int64_t rows, int64_t cols) {
  if (bits == 8) {
    const auto* codes = reinterpret_cast<const int8_t*>(stored.bytes.data());
    return {codes, codes + stored.bytes.size()};
  }
  return unpack_codes(stored.bytes, rows, cols, bits);
}

// Weight `name` of PyTorch shape `shape` as floats, from its stored tensors.
std::vector<float> dequantize_stored(const std::function<const Tensor&(const std::string&)>& stored,
                                     const std::string& name, const std::vector<int64_t>& shape,
                                     const TensorScheme& scheme) {
  const WeightFormat& f = scheme.scheme.weight_format();
  const Tensor& t = stored(name);
  if (f.bits == 32) return {t.f32().begin(), t.f32().end()};
  if (f.bits == 16) {
    std::vector<float> out(t.bytes.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
      const uint32_t bits = uint32_t(t.bytes[2 * i] | t.bytes[2 * i + 1] << 8) << 16;
      std::memcpy(&out[i], &bits, 4);
    }
    return out;
  }
  const int64_t rows = shape[0], cols = row_length(shape);
  const std::vector<int8_t> codes = codes_of(t, f.bits, rows, cols);
  const auto scales = stored(name + ".scale").f32();
  const int64_t group = f.grouped ? scheme.group_size : cols, groups = (cols + group - 1) / group;
  std::vector<float> out(codes.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = codes[r * cols + c] * scales[r * groups + c / group];
  }
  return out;
}

std::vector<int64_t> float_shape(const Model& model, const std::string& name) {
  for (const auto& spec : expected_tensors(model.config())) {
    if (spec.name == name) return spec.shape;
  }
  throw Error("model: no weight '" + name + "'");
}

}  // namespace

std::vector<float> dequantize(const Model& model, const std::string& name) {
  return dequantize_stored([&](const std::string& n) -> const Tensor& { return model.tensor(n); }, name,
                           float_shape(model, name), model.scheme_of(name));
}

std::vector<float> round_trip(const std::string& name, const Tensor& weight, const TensorScheme& scheme) {
  TensorScheme weights_only = scheme;
  weights_only.scheme.static_activations = false;
  const auto stored = quantize_weight(name, weight, weights_only, 0);
  return dequantize_stored([&](const std::string& n) -> const Tensor& { return stored.at(n); }, name, weight.shape,
                           weights_only);
}

namespace {

using kernels::MatrixRows;

// Stored tensors as row-major blocks of T, read in place.
template <typename T>
MatrixRows<T> blocks_of(const Model& model, const std::vector<std::string>& names, int cols) {
  std::vector<std::span<const T>> blocks;
  for (const auto& name : names) {
    const TensorBytes& bytes = model.tensor(name).bytes;
    // The loader keeps every tensor aligned for its dtype (model_file.cpp).
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(T) != 0) throw Error("'" + name + "' is misaligned");
    blocks.emplace_back(reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T));
  }
  return MatrixRows<T>(cols, std::move(blocks));
}

// The integer codes of the stacked weights `names`, one int8 each: int8 tensors in place,
// narrower codes unpacked a row at a time as the packer reads them.
MatrixRows<int8_t> code_rows(const Model& model, const std::vector<std::string>& names, int cols, int bits) {
  if (bits == 8) return blocks_of<int8_t>(model, names, cols);
  struct Block {
    const uint8_t* packed;
    int rows;
  };
  std::vector<Block> blocks;
  int rows = 0;
  for (const auto& name : names) {
    const Tensor& t = model.tensor(name);
    blocks.push_back({t.bytes.data(), static_cast<int>(t.shape[0])});
    rows += blocks.back().rows;
  }
  const int64_t row_bytes = packed_row_bytes(cols, bits);
  return MatrixRows<int8_t>(rows, cols, [blocks, row_bytes, cols, bits](int r, std::span<int8_t> out) {
    for (const Block& block : blocks) {
      if (r < block.rows) return unpack_code_row(block.packed + r * row_bytes, cols, bits, out.data());
      r -= block.rows;
    }
  });
}

}  // namespace

kernels::Linear pack_linear(const Model& model, const std::vector<std::string>& names, int cols,
                            const kernels::MatrixRows<float>& bias) {
  const TensorScheme scheme = model.scheme_of(names.front());
  const WeightFormat& f = scheme.scheme.weight_format();
  if (f.bits == 32) return kernels::Linear::f32(blocks_of<float>(model, names, cols), bias);
  if (f.bits == 16) return kernels::Linear::bf16(blocks_of<uint16_t>(model, names, cols), bias);
  std::vector<std::string> scale_names;
  for (const auto& name : names) scale_names.push_back(name + ".scale");
  const int groups = f.grouped ? (cols + scheme.group_size - 1) / scheme.group_size : 1;
  const MatrixRows<float> scales = blocks_of<float>(model, scale_names, groups);
  const MatrixRows<int8_t> codes = code_rows(model, names, cols, f.bits);
  const float input_scale = scheme.scheme.static_activations ? model.weights(names.front() + ".input_scale")[0] : 0.0f;
  if (f.grouped) return kernels::Linear::int4(scheme.group_size, codes, scales, bias, input_scale);
  return kernels::Linear::int8(codes, scales, bias, input_scale);
}

}  // namespace quant
}  // namespace fastwave
