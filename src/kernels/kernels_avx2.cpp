// AVX2 + FMA kernels for x86 CPUs without AVX-512. This file alone is compiled with AVX2 flags.
#include <immintrin.h>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

// Same method as exp_avx512; 2^n is built in the exponent field since AVX2 has no scalef.
inline __m256 exp_avx2(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  // n is in [-126, 127] after the clamp, so (n + 127) << 23 is a valid float exponent.
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

inline __m256 gated_avx2(__m256 f, __m256 g) {
  const __m256 one = _mm256_set1_ps(1.0f);
  f = _mm256_max_ps(f, _mm256_set1_ps(-9.0f));
  g = _mm256_max_ps(g, _mm256_set1_ps(-40.0f));
  const __m256 e_f = exp_avx2(_mm256_mul_ps(f, _mm256_set1_ps(-2.0f)));
  const __m256 e_g = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
  const __m256 denominator = _mm256_mul_ps(_mm256_add_ps(one, e_f), _mm256_add_ps(one, e_g));
  return _mm256_div_ps(_mm256_sub_ps(one, e_f), denominator);
}

void gated_activation_avx2(const float* pre, int channels, float* z) {
  int i = 0;
  for (; i + 8 <= channels; i += 8) {
    _mm256_storeu_ps(z + i, gated_avx2(_mm256_loadu_ps(pre + i), _mm256_loadu_ps(pre + channels + i)));
  }
  if (i < channels) {
    alignas(32) float f[8] = {}, g[8] = {}, out[8];
    for (int j = i; j < channels; ++j) f[j - i] = pre[j], g[j - i] = pre[channels + j];
    _mm256_store_ps(out, gated_avx2(_mm256_load_ps(f), _mm256_load_ps(g)));
    for (int j = i; j < channels; ++j) z[j] = out[j - i];
  }
}

// One panel is two YMM halves; P panels times NB inputs, as in the AVX-512 kernel.
template <int P, int NB>
void gemm_tile(const PackedView& w, int p0, const float* x, int ldx, float* y, int ldy) {
  __m256 acc[P][2][NB];
  for (int i = 0; i < P; ++i) {
    for (int h = 0; h < 2; ++h) {
      const __m256 b = _mm256_load_ps(w.bias + (p0 + i) * kPanelRows + 8 * h);
      for (int n = 0; n < NB; ++n) acc[i][h][n] = b;
    }
  }
  const float* panel[P];
  for (int i = 0; i < P; ++i) panel[i] = w.data + size_t(p0 + i) * w.cols * kPanelRows;
  for (int c = 0; c < w.cols; ++c) {
    __m256 wv[P][2];
    for (int i = 0; i < P; ++i) {
      wv[i][0] = _mm256_load_ps(panel[i] + c * kPanelRows);
      wv[i][1] = _mm256_load_ps(panel[i] + c * kPanelRows + 8);
    }
    for (int n = 0; n < NB; ++n) {
      const __m256 xb = _mm256_broadcast_ss(x + n * ldx + c);
      for (int i = 0; i < P; ++i) {
        acc[i][0][n] = _mm256_fmadd_ps(wv[i][0], xb, acc[i][0][n]);
        acc[i][1][n] = _mm256_fmadd_ps(wv[i][1], xb, acc[i][1][n]);
      }
    }
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    for (int n = 0; n < NB; ++n) {
      float* out = y + n * ldy + row0;
      if (valid == kPanelRows) {
        _mm256_storeu_ps(out, acc[i][0][n]);
        _mm256_storeu_ps(out + 8, acc[i][1][n]);
      } else {
        alignas(32) float tmp[kPanelRows];
        _mm256_store_ps(tmp, acc[i][0][n]);
        _mm256_store_ps(tmp + 8, acc[i][1][n]);
        for (int r = 0; r < valid; ++r) out[r] = tmp[r];
      }
    }
  }
}

template <int NB>
void gemm_rows(const PackedView& w, const float* x, int ldx, float* y, int ldy) {
  int p = 0;
  for (; p + 2 <= w.panels; p += 2) gemm_tile<2, NB>(w, p, x, ldx, y, ldy);
  for (; p < w.panels; ++p) gemm_tile<1, NB>(w, p, x, ldx, y, ldy);
}

void gemm_f32_avx2(const PackedView& w, const float* x, int ldx, int count, float* y, int ldy) {
  int n = 0;
  for (; n + 3 <= count; n += 3) gemm_rows<3>(w, x + size_t(n) * ldx, ldx, y + size_t(n) * ldy, ldy);
  for (; n < count; ++n) gemm_rows<1>(w, x + size_t(n) * ldx, ldx, y + size_t(n) * ldy, ldy);
}

void scaled_exp_avx2(const float* x, int n, float shift, float scale, float* out) {
  const __m256 s = _mm256_set1_ps(scale), m = _mm256_set1_ps(shift);
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), s)));
  if (i < n) {
    alignas(32) float in[8] = {}, result[8];
    for (int j = i; j < n; ++j) in[j - i] = x[j];
    _mm256_store_ps(result, exp_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_load_ps(in), m), s)));
    for (int j = i; j < n; ++j) out[j] = result[j - i];
  }
}

void convert_bf16_avx2(const float* x, int n, int n_padded, uint16_t* out) {
  for (int c = 0; c < n_padded; ++c) {  // cheap next to the GEMV; matches the reference exactly
    uint32_t bits = 0;
    if (c < n) __builtin_memcpy(&bits, &x[c], 4);
    if ((bits & 0x7F800000u) == 0) bits &= 0x80000000u;
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    out[c] = static_cast<uint16_t>(bits >> 16);
  }
}

// No BF16 instructions: widen weights and x to float (a 16-bit shift) and use FMA.
void gemm_bf16_avx2(const Bf16View& w, const uint16_t* x, int ldx, int count, float* y, int ldy) {
  for (int n = 0; n < count; ++n) {
    const uint16_t* xn = x + size_t(n) * ldx;
    for (int p = 0; p < w.panels; ++p) {
      const uint16_t* panel = w.data + size_t(p) * w.pairs * kPanelRows * 2;
      __m256 acc[4] = {_mm256_load_ps(w.bias + p * kPanelRows), _mm256_load_ps(w.bias + p * kPanelRows + 8),
                       _mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int q = 0; q < w.pairs; ++q) {
        const __m256 x0 = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(xn[2 * q]) << 16));
        const __m256 x1 = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(xn[2 * q + 1]) << 16));
        for (int h = 0; h < 2; ++h) {  // rows 0-7, then 8-15: 16 pairs of bf16 per half
          const __m256i pairs = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + q * 32 + h * 16));
          const __m256 even = _mm256_castsi256_ps(_mm256_slli_epi32(pairs, 16));
          const __m256 odd = _mm256_castsi256_ps(_mm256_and_si256(pairs, _mm256_set1_epi32(int(0xFFFF0000u))));
          acc[h] = _mm256_fmadd_ps(even, x0, acc[h]);
          acc[2 + h] = _mm256_fmadd_ps(odd, x1, acc[2 + h]);
        }
      }
      alignas(32) float out[kPanelRows];
      _mm256_store_ps(out, _mm256_add_ps(acc[0], acc[2]));
      _mm256_store_ps(out + 8, _mm256_add_ps(acc[1], acc[3]));
      const int row0 = p * kPanelRows;
      for (int r = 0; r < kPanelRows && row0 + r < w.rows; ++r) y[size_t(n) * ldy + row0 + r] = out[r];
    }
  }
}

float quantize_u8_avx2(const float* x, int n, int n_padded, float scale, uint8_t* out) {
  if (!(scale > 0.0f)) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 max = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= n; c += 8) max = _mm256_max_ps(max, _mm256_and_ps(_mm256_loadu_ps(x + c), abs_mask));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, max);
    float m = 0.0f;
    for (float v : lanes) m = v > m ? v : m;
    for (; c < n; ++c) {
      const float v = x[c] < 0 ? -x[c] : x[c];
      m = v > m ? v : m;
    }
    scale = m > 1e-30f ? m / 127.0f : 1.0f;
  }
  const float inverse = 1.0f / scale;
  const __m256 inv = _mm256_set1_ps(inverse), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  int c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), inv), lo), hi);
    alignas(32) int32_t q[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(128)));
    for (int i = 0; i < 8; ++i) out[c + i] = static_cast<uint8_t>(q[i]);
  }
  for (; c < n; ++c) {
    float v = x[c] * inverse;
    v = v < -127.0f ? -127.0f : (v > 127.0f ? 127.0f : v);
    out[c] = static_cast<uint8_t>(_mm_cvtss_si32(_mm_set_ss(v)) + 128);  // nearest even, like the reference
  }
  for (; c < n_padded; ++c) out[c] = 128;
  return scale;
}

// Sum of q*w for 8 rows and one column quad, with signed q = u8 - 128 and |q| <= 127, so
// maddubs(|q|, sign(w, q)) cannot saturate (2 * 127 * 127 < 32767). Equals the VNNI sum
// minus the +128 correction, exactly.
inline __m256i dot_quad_avx2(__m256i weights, int32_t x_quad) {
  const __m256i q = _mm256_xor_si256(_mm256_set1_epi32(x_quad), _mm256_set1_epi8(char(0x80)));
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(weights, q));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

void gemm_int8_avx2(const Int8View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                    int ldy) {
  for (int n = 0; n < count; ++n) {
    const uint8_t* xn = x + size_t(n) * ldx;
    for (int p = 0; p < w.panels; ++p) {
      const int8_t* panel = w.data + size_t(p) * w.quads * 64;
      __m256i acc[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
      for (int q = 0; q < w.quads; ++q) {
        int32_t quad;
        __builtin_memcpy(&quad, xn + 4 * q, 4);
        for (int h = 0; h < 2; ++h) {
          const __m256i weights = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + q * 64 + h * 32));
          acc[h] = _mm256_add_epi32(acc[h], dot_quad_avx2(weights, quad));
        }
      }
      const int row0 = p * kPanelRows;
      for (int h = 0; h < 2; ++h) {
        const __m256 s = _mm256_mul_ps(_mm256_set1_ps(x_scale[n]), _mm256_load_ps(w.scale + row0 + 8 * h));
        const __m256 out = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[h]), s, _mm256_load_ps(w.bias + row0 + 8 * h));
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, out);
        for (int r = 0; r < 8 && row0 + 8 * h + r < w.rows; ++r) y[size_t(n) * ldy + row0 + 8 * h + r] = lanes[r];
      }
    }
  }
}

void gemm_int4_avx2(const Int4View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                    int ldy) {
  const int octets_per_group = w.group_size / 8, octets = w.groups * octets_per_group;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
  for (int n = 0; n < count; ++n) {
    const uint8_t* xn = x + size_t(n) * ldx;
    for (int p = 0; p < w.panels; ++p) {
      const uint8_t* panel = w.data + size_t(p) * octets * 64;
      __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
      for (int g = 0; g < w.groups; ++g) {
        __m256i sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int o = g * octets_per_group; o < (g + 1) * octets_per_group; ++o) {
          int32_t x0, x1;
          __builtin_memcpy(&x0, xn + 8 * o, 4);
          __builtin_memcpy(&x1, xn + 8 * o + 4, 4);
          for (int h = 0; h < 2; ++h) {
            const __m256i packed = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + o * 64 + h * 32));
            const __m256i lo = _mm256_sub_epi8(_mm256_and_si256(packed, low_nibbles), eight);  // nibbles hold w + 8
            const __m256i hi = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles), eight);
            sum[h] = _mm256_add_epi32(sum[h], _mm256_add_epi32(dot_quad_avx2(lo, x0), dot_quad_avx2(hi, x1)));
          }
        }
        for (int h = 0; h < 2; ++h) {
          const size_t at = (size_t(p) * w.groups + g) * kPanelRows + 8 * h;
          const __m256 s = _mm256_mul_ps(_mm256_set1_ps(x_scale[n]), _mm256_load_ps(w.scale + at));
          acc[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[h]), s, acc[h]);
        }
      }
      const int row0 = p * kPanelRows;
      for (int h = 0; h < 2; ++h) {
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, _mm256_add_ps(acc[h], _mm256_load_ps(w.bias + row0 + 8 * h)));
        for (int r = 0; r < 8 && row0 + 8 * h + r < w.rows; ++r) y[size_t(n) * ldy + row0 + 8 * h + r] = lanes[r];
      }
    }
  }
}

void accumulate_avx2(const float* x, int n, float* y) {
  int i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

inline void integer_gemv_avx2(const IntegerMatrixView& m, const float* x, int n, uint8_t* codes, float* y) {
  const float scale = quantize_u8_avx2(x, n, m.padded_cols, m.input_scale, codes);
  if (m.is_int4) {
    gemm_int4_avx2(m.int4, codes, m.padded_cols, &scale, 1, y, m.int4.rows);
  } else {
    gemm_int8_avx2(m.int8, codes, m.padded_cols, &scale, 1, y, m.int8.rows);
  }
}

// The unfused kernels of this file, called directly: no table, no Linear, no scratch to
// look up between the steps.
void fused_layer_avx2(const FusedLayerArgs& a) {
  const int k = a.kernel_size, res = a.residual_channels, dil = a.dilation_channels;
  float* columns = a.columns;
  if (k == 2) {  // a fixed stride the compiler turns into unpacks
    for (int c = 0; c < res; ++c) {
      columns[2 * c] = a.taps[0][c];
      columns[2 * c + 1] = a.taps[1][c];
    }
  } else {
    for (int c = 0; c < res; ++c) {
      for (int j = 0; j < k; ++j) columns[c * k + j] = a.taps[j][c];
    }
  }
  integer_gemv_avx2(a.filter_gate, columns, k * res, a.codes, a.pre);
  if (a.conditioning) accumulate_avx2(a.conditioning, 2 * dil, a.pre);
  gated_activation_avx2(a.pre, dil, a.z);
  integer_gemv_avx2(a.residual_skip, a.z, dil, a.codes, a.rs);
  if (a.residual) {
    const float* x = a.taps[k - 1];
    int i = 0;
    for (; i + 8 <= res; i += 8) _mm256_storeu_ps(a.residual + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(a.rs + i)));
    for (; i < res; ++i) a.residual[i] = x[i] + a.rs[i];
  }
  accumulate_avx2(a.rs + a.skip_offset, a.skip_channels, a.skip);
}

void fused_layers_avx2(const FusedLayerArgs* layers, int count) {
  for (int n = 0; n < count; ++n) fused_layer_avx2(layers[n]);
}

}  // namespace

const KernelTable* avx2_kernels() {
  static const KernelTable table{"avx2",           gemm_f32_avx2,    gated_activation_avx2, scaled_exp_avx2, convert_bf16_avx2,
                                 gemm_bf16_avx2,   quantize_u8_avx2, gemm_int8_avx2,        gemm_int4_avx2,
                                 accumulate_avx2,  fused_layers_avx2, nullptr, nullptr};  // no lanes kernels yet: the GEMM path
  return cpu_features().avx2_fma ? &table : nullptr;
}

}  // namespace fastwave::kernels
