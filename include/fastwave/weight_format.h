// The ways a weight matrix can be stored: one row of a table per format
// (src/quant/weight_formats.cpp holds the table and everything each row implies: the
// tensors it stores, its quantizer, its unpacking for the kernels).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace fastwave {

struct WeightFormat {
  const char* name;  // "f32", "bf16", "int2" .. "int8"
  int bits;          // stored bits per weight
  bool integer;      // symmetric integer codes times float scales (else float values)
  bool grouped;      // integer: one scale per row and group of columns (else one per row)

  // Integer codes lie in [-max_code, max_code].
  int max_code() const { return integer ? (1 << (bits - 1)) - 1 : 0; }
};

// Every format, in table order: f32, bf16, then int2 .. int8 (int<b> sits at index b).
std::span<const WeightFormat> weight_formats();

// A weight format plus, for integer formats, how the activations entering the matrix are
// quantized to 8 bits: from each input vector's own range (dynamic) or with a scale fixed
// by calibration (static).
struct Scheme {
  uint8_t format = 0;  // index into weight_formats()
  bool static_activations = false;

  const WeightFormat& weight_format() const { return weight_formats()[format]; }
  bool operator==(const Scheme&) const = default;

  static constexpr Scheme integer(int bits, bool static_activations) {
    return {uint8_t(bits), static_activations};
  }
  static const Scheme kF32, kBf16, kInt8Dynamic, kInt8Static, kInt4;
};
inline constexpr Scheme Scheme::kF32{0, false};
inline constexpr Scheme Scheme::kBf16{1, false};
inline constexpr Scheme Scheme::kInt8Dynamic{8, false};
inline constexpr Scheme Scheme::kInt8Static{8, true};
inline constexpr Scheme Scheme::kInt4{4, false};

// "f32", "bf16", "int<b>" (dynamic activations; int8's is "int8-dynamic", its old name)
// and "int<b>-static".
std::string scheme_name(Scheme scheme);
// Accepts the names above and "int<b>-dynamic"; throws fastwave::Error listing them.
Scheme parse_scheme(std::string_view name);
// "f32, bf16, int2, int2-static, ...": for help texts and errors.
std::string scheme_names();

// The smallest and largest integer widths, and the group-size rule of grouped formats.
inline constexpr int kMinIntegerBits = 2, kMaxIntegerBits = 8;
inline constexpr int kMaxGroupSize = 4096;
// Empty if `group_size` suits `format` (grouped: a multiple of 8 in [8, 4096]; else 0),
// else why not.
std::string group_size_problem(const WeightFormat& format, int group_size);

}  // namespace fastwave
