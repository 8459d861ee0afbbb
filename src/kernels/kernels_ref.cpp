// The reference kernels: the specification every optimized kernel is tested against.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

void gemm_f32_ref(const PackedView& w, const float* x, int ldx, int count, float* y, int ldy) {
  for (int n = 0; n < count; ++n) {
    for (int r = 0; r < w.rows; ++r) {
      const float* column0 = w.data + (size_t(r / kPanelRows) * w.cols * kPanelRows) + r % kPanelRows;
      double sum = 0;  // double keeps the reference closer to exact than any fast kernel
      for (int c = 0; c < w.cols; ++c) sum += double(column0[size_t(c) * kPanelRows]) * x[size_t(n) * ldx + c];
      y[size_t(n) * ldy + r] = static_cast<float>(sum + w.bias[r]);
    }
  }
}

// exp(x) exactly as the AVX2 and AVX-512 kernels compute it, one lane at a time: the same
// clamp, Cody-Waite reduction by ln 2 and degree-5 polynomial (Cephes expf), each step
// rounded as its vector instruction rounds it (std::fma for fmadd/fnmadd, a float
// multiply for mul, ldexp for scalef). Being the specification bit for bit, not merely to
// a tolerance, is what lets integer-scheme models sample the same ids on every ISA: the
// gate's output is quantized to int8 next, and a one-ulp difference can move a rounding.
float exp_like_simd(float x) {
  x = std::fmin(std::fmax(x, -87.0f), 88.0f);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(-n, 0.693359375f, x);
  r = std::fma(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  const float y = std::fma(p, r * r, r) + 1.0f;
  return std::ldexp(y, static_cast<int>(n));
}

// tanh(f) * sigmoid(g) = (1 - e^-2f) / ((1 + e^-2f) (1 + e^-g)), with the SIMD kernels'
// clamps (f >= -9, g >= -40: within 3e-8 of the limits) and order of operations.
void gated_activation_ref(const float* pre, int channels, float* z) {
  for (int i = 0; i < channels; ++i) {
    const float f = std::fmax(pre[i], -9.0f), g = std::fmax(pre[channels + i], -40.0f);
    const float e_f = exp_like_simd(f * -2.0f), e_g = exp_like_simd(0.0f - g);
    z[i] = (1.0f - e_f) / ((1.0f + e_f) * (1.0f + e_g));
  }
}

void scaled_exp_ref(const float* x, int n, float shift, float scale, float* out) {
  for (int i = 0; i < n; ++i) out[i] = exp_like_simd((x[i] - shift) * scale);
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; denormal inputs become signed zero, as VCVTNEPS2BF16 does.
void convert_bf16_ref(const float* x, int n, int n_padded, uint16_t* out) {
  for (int c = 0; c < n_padded; ++c) {
    uint32_t bits = 0;
    if (c < n) std::memcpy(&bits, &x[c], 4);
    if ((bits & 0x7F800000u) == 0) bits &= 0x80000000u;
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    out[c] = static_cast<uint16_t>(bits >> 16);
  }
}

void gemm_bf16_ref(const Bf16View& w, const uint16_t* x, int ldx, int count, float* y, int ldy) {
  for (int n = 0; n < count; ++n) {
    for (int r = 0; r < w.rows; ++r) {
      const uint16_t* rows = w.data + size_t(r / kPanelRows) * w.pairs * kPanelRows * 2 + (r % kPanelRows) * 2;
      double sum = 0;
      for (int c = 0; c < w.cols; ++c) {
        const uint16_t weight = rows[size_t(c / 2) * kPanelRows * 2 + c % 2];
        sum += double(bf16_to_float(weight)) * bf16_to_float(x[size_t(n) * ldx + c]);
      }
      y[size_t(n) * ldy + r] = static_cast<float>(sum + w.bias[r]);
    }
  }
}

float quantize_u8_ref(const float* x, int n, int n_padded, float scale, uint8_t* out) {
  if (!(scale > 0.0f)) {
    float max = 0.0f;
    for (int c = 0; c < n; ++c) max = std::fmax(max, std::fabs(x[c]));
    scale = max > 1e-30f ? max / 127.0f : 1.0f;
  }
  const float inverse = 1.0f / scale;
  for (int c = 0; c < n; ++c) {
    const float v = std::nearbyint(std::fmin(std::fmax(x[c] * inverse, -127.0f), 127.0f));
    out[c] = static_cast<uint8_t>(static_cast<int>(v) + 128);
  }
  for (int c = n; c < n_padded; ++c) out[c] = 128;
  return scale;
}

int int8_weight(const Int8View& w, int r, int c) {
  return w.data[((size_t(r / kPanelRows) * w.quads + c / 4) * kPanelRows + r % kPanelRows) * 4 + c % 4];
}

void gemm_int8_ref(const Int8View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                   int ldy) {
  for (int n = 0; n < count; ++n) {
    for (int r = 0; r < w.rows; ++r) {
      int32_t sum = 0;
      for (int c = 0; c < w.cols; ++c) sum += int32_t(x[size_t(n) * ldx + c]) * int8_weight(w, r, c);
      y[size_t(n) * ldy + r] = std::fma(float(sum - w.correction[r]), x_scale[n] * w.scale[r], w.bias[r]);
    }
  }
}

int int4_weight(const Int4View& w, int r, int c) {
  const int octets = w.groups * w.group_size / 8;
  const uint8_t byte = w.data[((size_t(r / kPanelRows) * octets + c / 8) * kPanelRows + r % kPanelRows) * 4 + c % 4];
  const int nibble = (c % 8) < 4 ? byte & 0xF : byte >> 4;
  return nibble - 8;  // stored as w + 8
}

void gemm_int4_ref(const Int4View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                   int ldy) {
  for (int n = 0; n < count; ++n) {
    for (int r = 0; r < w.rows; ++r) {
      const size_t params = size_t(r / kPanelRows) * w.groups * kPanelRows + r % kPanelRows;
      float acc = 0.0f;
      for (int g = 0; g < w.groups; ++g) {
        int32_t sum = 0;
        for (int c = g * w.group_size; c < std::min(w.cols, (g + 1) * w.group_size); ++c) {
          sum += int32_t(x[size_t(n) * ldx + c]) * int4_weight(w, r, c);
        }
        const size_t at = params + size_t(g) * kPanelRows;
        acc = std::fma(float(sum - w.correction[at]), x_scale[n] * w.scale[at], acc);
      }
      y[size_t(n) * ldy + r] = acc + w.bias[r];
    }
  }
}

void accumulate_ref(const float* x, int n, float* y) {
  for (int i = 0; i < n; ++i) y[i] += x[i];
}

void integer_gemv_ref(const IntegerMatrixView& m, const float* x, int n, uint8_t* codes, float* y) {
  const float scale = quantize_u8_ref(x, n, m.padded_cols, m.input_scale, codes);
  if (m.is_int4) {
    gemm_int4_ref(m.int4, codes, m.padded_cols, &scale, 1, y, m.int4.rows);
  } else {
    gemm_int8_ref(m.int8, codes, m.padded_cols, &scale, 1, y, m.int8.rows);
  }
}

// The specification of the fused layer: the unfused step's kernels, one after another.
void fused_layer_ref(const FusedLayerArgs& a) {
  const int k = a.kernel_size, res = a.residual_channels, dil = a.dilation_channels;
  float* columns = a.columns;
  for (int c = 0; c < res; ++c) {
    for (int j = 0; j < k; ++j) columns[c * k + j] = a.taps[j][c];
  }
  integer_gemv_ref(a.filter_gate, columns, k * res, a.codes, a.pre);
  if (a.conditioning) accumulate_ref(a.conditioning, 2 * dil, a.pre);
  gated_activation_ref(a.pre, dil, a.z);
  integer_gemv_ref(a.residual_skip, a.z, dil, a.codes, a.rs);
  if (a.residual) {
    for (int i = 0; i < res; ++i) a.residual[i] = a.taps[k - 1][i] + a.rs[i];
  }
  accumulate_ref(a.rs + a.skip_offset, a.skip_channels, a.skip);
}

void fused_layers_ref(const FusedLayerArgs* layers, int count) {
  for (int n = 0; n < count; ++n) fused_layer_ref(layers[n]);
}

// The specification of the lanes layer: fused_layer_ref for each stream in turn, its
// conditioning and skip sums (and with rings in lanes, its taps and residual rows) read
// from and written to its lane.
void fused_layer_lanes_ref(const LanesLayerArgs& a) {
  const int k = a.kernel_size, dil = a.dilation_channels, res = a.residual_channels;
  std::vector<float> lane_taps(a.taps ? 0 : size_t(k) * res), lane_residual(a.taps ? 0 : res);
  std::vector<const float*> lane_tap_pointers(k);
  for (int j = 0; j < k && !a.taps; ++j) lane_tap_pointers[j] = &lane_taps[size_t(j) * res];
  for (int s = 0; s < a.streams; ++s) {
    const int group = s / kLanes, lane = s % kLanes;
    FusedLayerArgs one{};
    if (a.taps) {
      one.taps = a.taps + size_t(s) * k;
      one.residual = a.residual ? a.residual[s] : nullptr;
    } else {
      for (int j = 0; j < k; ++j) {
        const float* rows = a.group_taps[size_t(group) * k + j] + lane;
        for (int c = 0; c < res; ++c) lane_taps[size_t(j) * res + c] = rows[size_t(c) * kLanes];
      }
      one.taps = lane_tap_pointers.data();
      one.residual = a.group_residual ? lane_residual.data() : nullptr;
    }
    one.kernel_size = k;
    one.residual_channels = a.residual_channels;
    one.dilation_channels = dil;
    one.filter_gate = a.filter_gate;
    one.residual_skip = a.residual_skip;
    one.skip_offset = a.skip_offset;
    one.skip_channels = a.skip_channels;
    // The stream's conditioning and skip sums, gathered from its lane and put back after.
    float* conditioning = a.scratch.z;  // dil floats of z follow the 2*dil of conditioning
    if (a.conditioning) {
      for (int i = 0; i < 2 * dil; ++i) conditioning[i] = a.conditioning[(size_t(group) * 2 * dil + i) * kLanes + lane];
      one.conditioning = conditioning;
    }
    const int rs_rows = a.residual_skip.is_int4 ? a.residual_skip.int4.rows : a.residual_skip.int8.rows;
    float* skip = a.scratch.rs + rs_rows;
    float* lanes_skip = a.skip + size_t(group) * a.skip_channels * kLanes + lane;
    for (int i = 0; i < a.skip_channels; ++i) skip[i] = lanes_skip[size_t(i) * kLanes];
    one.skip = skip;
    one.codes = reinterpret_cast<uint8_t*>(a.scratch.codes);
    one.columns = a.scratch.columns;
    one.pre = a.scratch.pre;
    one.z = conditioning + 2 * dil;
    one.rs = a.scratch.rs;
    fused_layer_ref(one);
    for (int i = 0; i < a.skip_channels; ++i) lanes_skip[size_t(i) * kLanes] = skip[i];
    if (!a.taps && a.group_residual) {
      float* rows = a.group_residual[group] + lane;
      for (int c = 0; c < res; ++c) rows[size_t(c) * kLanes] = lane_residual[c];
    }
  }
}

// The specification of the lanes end: the step's end for each stream in turn.
void lanes_end_ref(const LanesEndArgs& a) {
  auto relu = [](float* x, int n) {
    for (int i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
  };
  float* skip = a.scratch.rs;
  float* hidden = a.scratch.hidden;
  uint8_t* codes = reinterpret_cast<uint8_t*>(a.scratch.codes);
  for (int s = 0; s < a.streams; ++s) {
    const float* lane = a.skip + size_t(s / kLanes) * a.skip_channels * kLanes + s % kLanes;
    for (int i = 0; i < a.skip_channels; ++i) skip[i] = lane[size_t(i) * kLanes];
    relu(skip, a.skip_channels);
    integer_gemv_ref(a.end1, skip, a.skip_channels, codes, hidden);
    relu(hidden, a.end_channels);
    integer_gemv_ref(a.end2, hidden, a.end_channels, codes, a.logits + size_t(s) * a.classes);
  }
}

}  // namespace

const KernelTable& reference_kernels() {
  static const KernelTable table{"ref",          gemm_f32_ref,  gated_activation_ref, scaled_exp_ref, convert_bf16_ref,
                                 gemm_bf16_ref,  quantize_u8_ref, gemm_int8_ref,      gemm_int4_ref,
                                 accumulate_ref, fused_layers_ref, fused_layer_lanes_ref, lanes_end_ref};
  return table;
}

}  // namespace fastwave::kernels
