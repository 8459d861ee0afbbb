// AVX-512 kernels (F/BW/DQ/VL). This file alone is compiled with AVX-512 flags.
#include <immintrin.h>

#include "kernels/avx512_inline.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

void gated_activation_avx512(const float* pre, int channels, float* z) {
  for (int i = 0; i < channels; i += 16) {
    const __mmask16 m = channels - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (channels - i)) - 1);
    const __m512 f = _mm512_maskz_loadu_ps(m, pre + i);
    const __m512 g = _mm512_maskz_loadu_ps(m, pre + channels + i);
    _mm512_mask_storeu_ps(z + i, m, gated_avx512(f, g));
  }
}

// P panels (16*P rows) times NB inputs. With one input, even and odd columns go to separate
// accumulators so that 2*P independent FMA chains hide the FMA latency.
template <int P, int NB>
void gemm_tile(const PackedView& w, int p0, const float* x, int ldx, float* y, int ldy) {
  constexpr int kSplit = NB == 1 ? 2 : 1;
  __m512 acc[kSplit][P][NB];
  for (int i = 0; i < P; ++i) {
    const __m512 b = _mm512_load_ps(w.bias + (p0 + i) * kPanelRows);
    for (int n = 0; n < NB; ++n) {
      acc[0][i][n] = b;
      if constexpr (kSplit == 2) acc[1][i][n] = _mm512_setzero_ps();
    }
  }
  const int cols = w.cols;
  const float* panel[P];
  for (int i = 0; i < P; ++i) panel[i] = w.data + size_t(p0 + i) * w.cols * kPanelRows;
  int c = 0;
  if constexpr (kSplit == 2) {
    for (; c + 2 <= cols; c += 2) {
      const __m512 x0 = _mm512_set1_ps(x[c]), x1 = _mm512_set1_ps(x[c + 1]);
      for (int i = 0; i < P; ++i) {
        acc[0][i][0] = _mm512_fmadd_ps(_mm512_load_ps(panel[i] + c * kPanelRows), x0, acc[0][i][0]);
        acc[1][i][0] = _mm512_fmadd_ps(_mm512_load_ps(panel[i] + (c + 1) * kPanelRows), x1, acc[1][i][0]);
      }
    }
  }
  for (; c < cols; ++c) {
    __m512 wv[P];
    for (int i = 0; i < P; ++i) wv[i] = _mm512_load_ps(panel[i] + c * kPanelRows);
    for (int n = 0; n < NB; ++n) {
      const __m512 xb = _mm512_set1_ps(x[n * ldx + c]);
      for (int i = 0; i < P; ++i) acc[0][i][n] = _mm512_fmadd_ps(wv[i], xb, acc[0][i][n]);
    }
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    const __mmask16 m = valid == 16 ? __mmask16(0xFFFF) : __mmask16((1u << valid) - 1);
    for (int n = 0; n < NB; ++n) {
      __m512 sum = acc[0][i][n];
      if constexpr (kSplit == 2) sum = _mm512_add_ps(sum, acc[1][i][n]);
      _mm512_mask_storeu_ps(y + n * ldy + row0, m, sum);
    }
  }
}

// Runs tiles of up to kMaxPanels panels over all panels of `w` for NB inputs.
template <int NB, int kMaxPanels>
void gemm_rows(const PackedView& w, const float* x, int ldx, float* y, int ldy) {
  int p = 0;
  for (; p + kMaxPanels <= w.panels; p += kMaxPanels) gemm_tile<kMaxPanels, NB>(w, p, x, ldx, y, ldy);
  for (; p + 2 <= w.panels; p += 2) gemm_tile<2, NB>(w, p, x, ldx, y, ldy);
  for (; p < w.panels; ++p) gemm_tile<1, NB>(w, p, x, ldx, y, ldy);
}

void gemm_f32_avx512(const PackedView& w, const float* x, int ldx, int count, float* y, int ldy) {
  int n = 0;
  for (; n + 4 <= count; n += 4) gemm_rows<4, 4>(w, x + size_t(n) * ldx, ldx, y + size_t(n) * ldy, ldy);
  for (; n < count; ++n) gemm_rows<1, 4>(w, x + size_t(n) * ldx, ldx, y + size_t(n) * ldy, ldy);
}

void scaled_exp_avx512(const float* x, int n, float shift, float scale, float* out) {
  const __m512 s = _mm512_set1_ps(scale), m = _mm512_set1_ps(shift);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, k, exp_avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), s)));
  }
}

// Integer bit manipulation, so the rounding is exactly the reference's (see convert_bf16_ref).
void convert_bf16_avx512(const float* x, int n, int n_padded, uint16_t* out) {
  const __m512i exponent = _mm512_set1_epi32(0x7F800000), sign = _mm512_set1_epi32(int(0x80000000u));
  for (int c = 0; c < n_padded; c += 16) {
    const int valid = n - c <= 0 ? 0 : (n - c >= 16 ? 16 : n - c);
    const __mmask16 m = valid == 16 ? __mmask16(0xFFFF) : __mmask16((1u << valid) - 1);
    __m512i bits = _mm512_maskz_loadu_epi32(m, x + c);
    const __mmask16 denormal = _mm512_testn_epi32_mask(bits, exponent);
    bits = _mm512_mask_and_epi32(bits, denormal, bits, sign);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    bits = _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), odd));
    const __m256i halves = _mm512_cvtepi32_epi16(_mm512_srli_epi32(bits, 16));
    const int store = n_padded - c >= 16 ? 16 : n_padded - c;
    _mm256_mask_storeu_epi16(out + c, __mmask16(store == 16 ? 0xFFFF : (1u << store) - 1), halves);
  }
}

// vdpbf16ps: each lane adds the products of its row's bf16 pair with the broadcast x pair.
template <int P>
void gemm_bf16_tile(const Bf16View& w, int p0, const uint16_t* x, float* y) {
  __m512 acc[2][P];
  for (int i = 0; i < P; ++i) {
    acc[0][i] = _mm512_load_ps(w.bias + (p0 + i) * kPanelRows);
    acc[1][i] = _mm512_setzero_ps();
  }
  const uint16_t* panel[P];
  for (int i = 0; i < P; ++i) panel[i] = w.data + size_t(p0 + i) * w.pairs * kPanelRows * 2;
  int q = 0;
  for (; q + 2 <= w.pairs; q += 2) {
    int32_t x0, x1;
    __builtin_memcpy(&x0, x + 2 * q, 4);
    __builtin_memcpy(&x1, x + 2 * q + 2, 4);
    const __m512bh b0 = (__m512bh)_mm512_set1_epi32(x0), b1 = (__m512bh)_mm512_set1_epi32(x1);
    for (int i = 0; i < P; ++i) {
      acc[0][i] = _mm512_dpbf16_ps(acc[0][i], (__m512bh)_mm512_load_si512(panel[i] + q * 32), b0);
      acc[1][i] = _mm512_dpbf16_ps(acc[1][i], (__m512bh)_mm512_load_si512(panel[i] + (q + 1) * 32), b1);
    }
  }
  for (; q < w.pairs; ++q) {
    int32_t x0;
    __builtin_memcpy(&x0, x + 2 * q, 4);
    const __m512bh b0 = (__m512bh)_mm512_set1_epi32(x0);
    for (int i = 0; i < P; ++i) acc[0][i] = _mm512_dpbf16_ps(acc[0][i], (__m512bh)_mm512_load_si512(panel[i] + q * 32), b0);
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    _mm512_mask_storeu_ps(y + row0, __mmask16(valid == 16 ? 0xFFFF : (1u << valid) - 1),
                          _mm512_add_ps(acc[0][i], acc[1][i]));
  }
}

void gemm_bf16_avx512(const Bf16View& w, const uint16_t* x, int ldx, int count, float* y, int ldy) {
  for (int n = 0; n < count; ++n) {
    int p = 0;
    for (; p + 4 <= w.panels; p += 4) gemm_bf16_tile<4>(w, p, x + size_t(n) * ldx, y + size_t(n) * ldy);
    for (; p < w.panels; ++p) gemm_bf16_tile<1>(w, p, x + size_t(n) * ldx, y + size_t(n) * ldy);
  }
}

inline __m512 max_abs_avx512(const float* x, int n, __m512 max) {
  for (int c = 0; c < n; c += 16) max = _mm512_max_ps(max, _mm512_abs_ps(_mm512_maskz_loadu_ps(first_lanes(n - c), x + c)));
  return max;
}

void quantize_codes_avx512(const float* x, int n, int n_padded, float scale, uint8_t* out) {
  const __m512 inverse = _mm512_set1_ps(1.0f / scale);
  for (int c = 0; c < n_padded; c += 16) {
    const __mmask16 m = first_lanes(n - c);
    const __m512i q = codes_avx512(_mm512_maskz_loadu_ps(m, x + c), inverse, m);
    _mm_mask_storeu_epi8(out + c, first_lanes(n_padded - c), _mm512_cvtepi32_epi8(q));
  }
}

float quantize_u8_avx512(const float* x, int n, int n_padded, float scale, uint8_t* out) {
  if (!(scale > 0.0f)) scale = scale_of_max(_mm512_reduce_max_ps(max_abs_avx512(x, n, _mm512_setzero_ps())));
  quantize_codes_avx512(x, n, n_padded, scale, out);
  return scale;
}

inline __m512 finish_int8(__m512i sum, __m512i correction, float x_scale, const float* scale, const float* bias) {
  const __m512 s = _mm512_mul_ps(_mm512_set1_ps(x_scale), _mm512_load_ps(scale));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sum, correction)), s, _mm512_load_ps(bias));
}

// vpdpbusd: each lane adds 4 u8 x s8 products of its row with the broadcast x quad.
// With one input, even and odd quads use separate accumulators to hide latency.
// kWholePanels: y has room for whole panels (padded scratch), so whole vectors are stored,
// which the next loads of y can take straight from the store buffer (masked stores may not).
template <int P, bool kWholePanels = false>
void gemm_int8_tile(const Int8View& w, int p0, const uint8_t* x, float x_scale, float* y) {
  __m512i acc[2][P];
  for (int i = 0; i < P; ++i) acc[0][i] = acc[1][i] = _mm512_setzero_si512();
  const int8_t* panel[P];
  for (int i = 0; i < P; ++i) panel[i] = w.data + size_t(p0 + i) * w.quads * 64;
  int q = 0;
  for (; q + 2 <= w.quads; q += 2) {
    int32_t x0, x1;
    __builtin_memcpy(&x0, x + 4 * q, 4);
    __builtin_memcpy(&x1, x + 4 * q + 4, 4);
    const __m512i b0 = _mm512_set1_epi32(x0), b1 = _mm512_set1_epi32(x1);
    for (int i = 0; i < P; ++i) {
      acc[0][i] = _mm512_dpbusd_epi32(acc[0][i], b0, _mm512_load_si512(panel[i] + q * 64));
      acc[1][i] = _mm512_dpbusd_epi32(acc[1][i], b1, _mm512_load_si512(panel[i] + (q + 1) * 64));
    }
  }
  for (; q < w.quads; ++q) {
    int32_t x0;
    __builtin_memcpy(&x0, x + 4 * q, 4);
    const __m512i b0 = _mm512_set1_epi32(x0);
    for (int i = 0; i < P; ++i) acc[0][i] = _mm512_dpbusd_epi32(acc[0][i], b0, _mm512_load_si512(panel[i] + q * 64));
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    const __m512 out = finish_int8(_mm512_add_epi32(acc[0][i], acc[1][i]), _mm512_load_si512(w.correction + row0),
                                   x_scale, w.scale + row0, w.bias + row0);
    if constexpr (kWholePanels) _mm512_storeu_ps(y + row0, out);
    else _mm512_mask_storeu_ps(y + row0, __mmask16(valid == 16 ? 0xFFFF : (1u << valid) - 1), out);
  }
}

// Several inputs at once (streams stepped together): each weight block is loaded once and
// multiplied into NB inputs, so the weights stream from cache count/NB times, not count.
// Integer sums are exact, so the result is the same as one input at a time.
template <int P, int NB>
void gemm_int8_tile_multi(const Int8View& w, int p0, const uint8_t* x, int ldx, const float* x_scale, float* y,
                          int ldy) {
  __m512i acc[P][NB];
  for (int i = 0; i < P; ++i) {
    for (int n = 0; n < NB; ++n) acc[i][n] = _mm512_setzero_si512();
  }
  const int8_t* panel[P];
  for (int i = 0; i < P; ++i) panel[i] = w.data + size_t(p0 + i) * w.quads * 64;
  for (int q = 0; q < w.quads; ++q) {
    __m512i wv[P];
    for (int i = 0; i < P; ++i) wv[i] = _mm512_load_si512(panel[i] + q * 64);
    for (int n = 0; n < NB; ++n) {
      int32_t xq;
      __builtin_memcpy(&xq, x + size_t(n) * ldx + 4 * q, 4);
      const __m512i b = _mm512_set1_epi32(xq);
      for (int i = 0; i < P; ++i) acc[i][n] = _mm512_dpbusd_epi32(acc[i][n], b, wv[i]);
    }
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    const __mmask16 m = __mmask16(valid == 16 ? 0xFFFF : (1u << valid) - 1);
    const __m512i correction = _mm512_load_si512(w.correction + row0);
    for (int n = 0; n < NB; ++n) {
      const __m512 out = finish_int8(acc[i][n], correction, x_scale[n], w.scale + row0, w.bias + row0);
      _mm512_mask_storeu_ps(y + size_t(n) * ldy + row0, m, out);
    }
  }
}

void gemm_int8_avx512(const Int8View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                      int ldy) {
  int n0 = 0;
  for (; n0 + 8 <= count; n0 += 8) {
    const uint8_t* xb = x + size_t(n0) * ldx;
    float* yb = y + size_t(n0) * ldy;
    int p = 0;
    for (; p + 2 <= w.panels; p += 2) gemm_int8_tile_multi<2, 8>(w, p, xb, ldx, x_scale + n0, yb, ldy);
    for (; p < w.panels; ++p) gemm_int8_tile_multi<1, 8>(w, p, xb, ldx, x_scale + n0, yb, ldy);
  }
  for (; n0 + 4 <= count; n0 += 4) {
    const uint8_t* xb = x + size_t(n0) * ldx;
    float* yb = y + size_t(n0) * ldy;
    int p = 0;
    for (; p + 4 <= w.panels; p += 4) gemm_int8_tile_multi<4, 4>(w, p, xb, ldx, x_scale + n0, yb, ldy);
    for (; p < w.panels; ++p) gemm_int8_tile_multi<1, 4>(w, p, xb, ldx, x_scale + n0, yb, ldy);
  }
  for (int n = n0; n < count; ++n) {
    int p = 0;
    for (; p + 4 <= w.panels; p += 4) gemm_int8_tile<4>(w, p, x + size_t(n) * ldx, x_scale[n], y + size_t(n) * ldy);
    for (; p < w.panels; ++p) gemm_int8_tile<1>(w, p, x + size_t(n) * ldx, x_scale[n], y + size_t(n) * ldy);
  }
}

template <int P, bool kWholePanels = false>
void gemm_int4_tile(const Int4View& w, int p0, const uint8_t* x, float x_scale, float* y) {
  const int octets_per_group = w.group_size / 8, octets = w.groups * octets_per_group;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F), ones = _mm512_set1_epi8(1);
  __m512 acc[P];
  const uint8_t* panel[P];
  for (int i = 0; i < P; ++i) {
    acc[i] = _mm512_setzero_ps();
    panel[i] = w.data + size_t(p0 + i) * octets * 64;
  }
  const __m512 xs = _mm512_set1_ps(x_scale);
  for (int g = 0; g < w.groups; ++g) {
    // The nibbles hold w + 8 (kernels.h): the products sum x * (w + 8), and every lane of
    // x_sum the group's sum of x, of which 8 times is taken off.
    __m512i sum[P], x_sum = _mm512_setzero_si512();
    for (int i = 0; i < P; ++i) sum[i] = _mm512_setzero_si512();
    for (int o = g * octets_per_group; o < (g + 1) * octets_per_group; ++o) {
      int32_t x0, x1;
      __builtin_memcpy(&x0, x + 8 * o, 4);
      __builtin_memcpy(&x1, x + 8 * o + 4, 4);
      const __m512i b0 = _mm512_set1_epi32(x0), b1 = _mm512_set1_epi32(x1);
      x_sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x_sum, b0, ones), b1, ones);
      for (int i = 0; i < P; ++i) {
        const __m512i packed = _mm512_load_si512(panel[i] + size_t(o) * 64);
        const __m512i lo = _mm512_and_si512(packed, low_nibbles);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
        sum[i] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum[i], b0, lo), b1, hi);
      }
    }
    const __m512i offset = _mm512_slli_epi32(x_sum, 3);
    for (int i = 0; i < P; ++i) {
      const size_t at = (size_t(p0 + i) * w.groups + g) * kPanelRows;
      const __m512 s = _mm512_mul_ps(xs, _mm512_load_ps(w.scale + at));
      const __m512i corrected =
          _mm512_sub_epi32(_mm512_sub_epi32(sum[i], offset), _mm512_load_si512(w.correction + at));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(corrected), s, acc[i]);
    }
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    const __m512 out = _mm512_add_ps(acc[i], _mm512_load_ps(w.bias + row0));
    if constexpr (kWholePanels) _mm512_storeu_ps(y + row0, out);
    else _mm512_mask_storeu_ps(y + row0, __mmask16(valid == 16 ? 0xFFFF : (1u << valid) - 1), out);
  }
}

// NB inputs at once: each packed octet is loaded and unpacked once for all of them. The
// per-input float accumulation runs group by group in the same order as one input at a
// time, so the results are the same bits.
template <int P, int NB>
void gemm_int4_tile_multi(const Int4View& w, int p0, const uint8_t* x, int ldx, const float* x_scale, float* y,
                          int ldy) {
  const int octets_per_group = w.group_size / 8, octets = w.groups * octets_per_group;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F), ones = _mm512_set1_epi8(1);
  __m512 acc[P][NB];
  const uint8_t* panel[P];
  for (int i = 0; i < P; ++i) {
    for (int n = 0; n < NB; ++n) acc[i][n] = _mm512_setzero_ps();
    panel[i] = w.data + size_t(p0 + i) * octets * 64;
  }
  for (int g = 0; g < w.groups; ++g) {
    __m512i sum[P][NB], x_sum[NB];  // as in gemm_int4_tile
    for (int n = 0; n < NB; ++n) x_sum[n] = _mm512_setzero_si512();
    for (int i = 0; i < P; ++i) {
      for (int n = 0; n < NB; ++n) sum[i][n] = _mm512_setzero_si512();
    }
    for (int o = g * octets_per_group; o < (g + 1) * octets_per_group; ++o) {
      __m512i lo[P], hi[P];
      for (int i = 0; i < P; ++i) {
        const __m512i packed = _mm512_load_si512(panel[i] + size_t(o) * 64);
        lo[i] = _mm512_and_si512(packed, low_nibbles);
        hi[i] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
      }
      for (int n = 0; n < NB; ++n) {
        int32_t x0, x1;
        __builtin_memcpy(&x0, x + size_t(n) * ldx + 8 * o, 4);
        __builtin_memcpy(&x1, x + size_t(n) * ldx + 8 * o + 4, 4);
        const __m512i b0 = _mm512_set1_epi32(x0), b1 = _mm512_set1_epi32(x1);
        x_sum[n] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x_sum[n], b0, ones), b1, ones);
        for (int i = 0; i < P; ++i) sum[i][n] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum[i][n], b0, lo[i]), b1, hi[i]);
      }
    }
    for (int i = 0; i < P; ++i) {
      const size_t at = (size_t(p0 + i) * w.groups + g) * kPanelRows;
      const __m512 scale = _mm512_load_ps(w.scale + at);
      const __m512i correction = _mm512_load_si512(w.correction + at);
      for (int n = 0; n < NB; ++n) {
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(x_scale[n]), scale);
        const __m512i corrected = _mm512_sub_epi32(_mm512_sub_epi32(sum[i][n], _mm512_slli_epi32(x_sum[n], 3)), correction);
        acc[i][n] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(corrected), s, acc[i][n]);
      }
    }
  }
  for (int i = 0; i < P; ++i) {
    const int row0 = (p0 + i) * kPanelRows;
    const int valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    const __m512 bias = _mm512_load_ps(w.bias + row0);
    for (int n = 0; n < NB; ++n) {
      _mm512_mask_storeu_ps(y + size_t(n) * ldy + row0, __mmask16(valid == 16 ? 0xFFFF : (1u << valid) - 1),
                            _mm512_add_ps(acc[i][n], bias));
    }
  }
}

void gemm_int4_avx512(const Int4View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                      int ldy) {
  int n0 = 0;
  for (; n0 + 8 <= count; n0 += 8) {
    for (int p = 0; p < w.panels; ++p) {
      gemm_int4_tile_multi<1, 8>(w, p, x + size_t(n0) * ldx, ldx, x_scale + n0, y + size_t(n0) * ldy, ldy);
    }
  }
  for (; n0 + 4 <= count; n0 += 4) {
    int p = 0;
    for (; p + 2 <= w.panels; p += 2) {
      gemm_int4_tile_multi<2, 4>(w, p, x + size_t(n0) * ldx, ldx, x_scale + n0, y + size_t(n0) * ldy, ldy);
    }
    for (; p < w.panels; ++p) {
      gemm_int4_tile_multi<1, 4>(w, p, x + size_t(n0) * ldx, ldx, x_scale + n0, y + size_t(n0) * ldy, ldy);
    }
  }
  for (int n = n0; n < count; ++n) {
    int p = 0;
    for (; p + 4 <= w.panels; p += 4) gemm_int4_tile<4>(w, p, x + size_t(n) * ldx, x_scale[n], y + size_t(n) * ldy);
    for (; p < w.panels; ++p) gemm_int4_tile<1>(w, p, x + size_t(n) * ldx, x_scale[n], y + size_t(n) * ldy);
  }
}

}  // namespace

void accumulate_avx512(const float* x, int n, float* y) {
  for (int i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, y + i), _mm512_maskz_loadu_ps(k, x + i)));
  }
}

namespace {

// The fused layer works on scratch padded to whole vectors and panels, and stores and
// loads whole vectors wherever the data allow: each stage reads what the previous one
// just wrote, and whole-vector stores forward to those loads, masked ones may not. This
// chain, layer after layer, is what a batch-1 step waits on.
inline __m512 load_floats(const float* p, int valid) {
  return valid >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(first_lanes(valid), p);
}

inline void store_floats(float* p, int valid, __m512 v) {
  if (valid >= 16) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, first_lanes(valid), v);
}

// out[i] = a[i] + b[i]: the residual and skip sums, the same float add as accumulate.
inline void add_avx512(const float* a, const float* b, int n, float* out) {
  for (int i = 0; i < n; i += 16) store_floats(out + i, n - i, _mm512_add_ps(load_floats(a + i, n - i), load_floats(b + i, n - i)));
}

// Panels [p0, p1) of a batch-1 integer product on codes already made, into padded y.
inline void integer_panels_avx512(const IntegerMatrixView& m, int p0, int p1, const uint8_t* codes, float scale,
                                  float* y) {
  int p = p0;
  if (m.is_int4) {
    for (; p + 4 <= p1; p += 4) gemm_int4_tile<4, true>(m.int4, p, codes, scale, y);
    for (; p < p1; ++p) gemm_int4_tile<1, true>(m.int4, p, codes, scale, y);
  } else {
    for (; p + 4 <= p1; p += 4) gemm_int8_tile<4, true>(m.int8, p, codes, scale, y);
    for (; p < p1; ++p) gemm_int8_tile<1, true>(m.int8, p, codes, scale, y);
  }
}

inline int panels_of(const IntegerMatrixView& m) { return m.is_int4 ? m.int4.panels : m.int8.panels; }

// The im2col column of a two-tap layer, quantized straight from the taps: each tap's 16
// channels become 16 codes, and the two code vectors are interleaved bytewise, which is
// the column order c*2 + j. Lanes past the channels get the zero code 128.
float quantize_two_taps_avx512(const float* past, const float* now, int channels, int padded_cols, float scale,
                               uint8_t* codes) {
  if (!(scale > 0.0f)) {
    __m512 max = _mm512_setzero_ps();
    for (int c = 0; c < channels; c += 16) {
      max = _mm512_max_ps(max, _mm512_abs_ps(load_floats(past + c, channels - c)));
      max = _mm512_max_ps(max, _mm512_abs_ps(load_floats(now + c, channels - c)));
    }
    scale = scale_of_max(_mm512_reduce_max_ps(max));
  }
  const __m512 inverse = _mm512_set1_ps(1.0f / scale);
  int c = 0;
  for (; c < channels; c += 16) {
    const __mmask16 m = first_lanes(channels - c);
    const __m128i a = _mm512_cvtepi32_epi8(codes_avx512(load_floats(past + c, channels - c), inverse, m));
    const __m128i b = _mm512_cvtepi32_epi8(codes_avx512(load_floats(now + c, channels - c), inverse, m));
    _mm_store_si128(reinterpret_cast<__m128i*>(codes + 2 * c), _mm_unpacklo_epi8(a, b));
    _mm_store_si128(reinterpret_cast<__m128i*>(codes + 2 * c + 16), _mm_unpackhi_epi8(a, b));
  }
  for (c *= 2; c < padded_cols; ++c) codes[c] = 128;  // int4 groups wider than the column
  return scale;
}

// Codes of n values (padded with 128 to n_padded), whole 16-byte stores: the buffer holds
// n_padded rounded up to 64.
void quantize_padded_avx512(const float* x, int n, int n_padded, float scale, uint8_t* codes) {
  const __m512 inverse = _mm512_set1_ps(1.0f / scale);
  for (int c = 0; c < n_padded; c += 16) {
    const __mmask16 m = first_lanes(n - c);
    const __m512i q = codes_avx512(_mm512_maskz_loadu_ps(m, x + c), inverse, m);
    _mm_store_si128(reinterpret_cast<__m128i*>(codes + c), _mm512_cvtepi32_epi8(q));
  }
}

// pre (+ conditioning) -> z, 16 channels at a time, and max|z| for its quantization.
__m512 gate_avx512(const float* pre, const float* conditioning, int channels, float* z) {
  __m512 max = _mm512_setzero_ps();
  for (int i = 0; i < channels; i += 16) {
    const int valid = channels - i;
    __m512 f = load_floats(pre + i, valid), g = load_floats(pre + channels + i, valid);
    if (conditioning) {
      f = _mm512_add_ps(f, load_floats(conditioning + i, valid));
      g = _mm512_add_ps(g, load_floats(conditioning + channels + i, valid));
    }
    const __m512 out = _mm512_maskz_mov_ps(first_lanes(valid), gated_avx512(f, g));
    _mm512_store_ps(z + i, out);
    max = _mm512_max_ps(max, _mm512_abs_ps(out));
  }
  return max;
}

// A layer's skip rows, left for the next layer to compute: they are not on the chain from
// one layer to the next, so they fill that chain's latency instead of lengthening it.
struct PendingSkip {
  const FusedLayerArgs* layer = nullptr;
  const uint8_t* codes = nullptr;
  float* rs = nullptr;
  float scale = 0;
  int first_panel = 0;

  void finish() {
    if (!layer) return;
    const IntegerMatrixView& m = layer->residual_skip;
    integer_panels_avx512(m, first_panel, panels_of(m), codes, scale, rs);
    add_avx512(layer->skip, rs + layer->skip_offset, layer->skip_channels, layer->skip);
    layer = nullptr;
  }
};

// Program order per layer: quantize the taps, the filter/gate product, the gate, the
// previous layer's skip rows and their sum, quantize, then this layer's residual rows and
// sum. The out-of-order core runs the skip rows while the chain waits on the gate's exp
// polynomials and division and on the reductions of the quantization.
void fused_layers_avx512(const FusedLayerArgs* layers, int count) {
  PendingSkip pending;
  for (int n = 0; n < count; ++n) {
    const FusedLayerArgs& a = layers[n];
    const int k = a.kernel_size, res = a.residual_channels, dil = a.dilation_channels;
    // The previous layer's z codes are still to be read when this layer's taps are
    // quantized, so the two live in separate halves of `codes`.
    uint8_t* x_codes = a.codes;
    uint8_t* z_codes = a.codes + a.codes_width;

    const IntegerMatrixView& fg = a.filter_gate;
    float x_scale;
    if (k == 2) {
      x_scale = quantize_two_taps_avx512(a.taps[0], a.taps[1], res, fg.padded_cols, fg.input_scale, x_codes);
    } else {
      for (int c = 0; c < res; ++c) {
        for (int j = 0; j < k; ++j) a.columns[c * k + j] = a.taps[j][c];
      }
      x_scale = quantize_u8_avx512(a.columns, k * res, fg.padded_cols, fg.input_scale, x_codes);
    }
    integer_panels_avx512(fg, 0, panels_of(fg), x_codes, x_scale, a.pre);

    const IntegerMatrixView& rs = a.residual_skip;
    const __m512 z_max = gate_avx512(a.pre, a.conditioning, dil, a.z);
    pending.finish();
    const float z_scale = rs.input_scale > 0.0f ? rs.input_scale : scale_of_max(_mm512_reduce_max_ps(z_max));
    quantize_padded_avx512(a.z, dil, rs.padded_cols, z_scale, z_codes);

    const int skip_panel = a.skip_offset / kPanelRows;
    int first_skip_panel = skip_panel;
    if (a.residual) {
      const int residual_panels = (res + kPanelRows - 1) / kPanelRows;
      integer_panels_avx512(rs, 0, residual_panels, z_codes, z_scale, a.rs);
      add_avx512(a.taps[k - 1], a.rs, res, a.residual);
      // A panel holding both residual and skip rows is done.
      if (residual_panels > first_skip_panel) first_skip_panel = residual_panels;
    }
    pending.layer = &a;
    pending.codes = z_codes;
    pending.rs = a.rs;
    pending.scale = z_scale;
    pending.first_panel = first_skip_panel;
  }
  pending.finish();
}

}  // namespace

// In kernels_avx512_lanes.cpp.
void fused_layer_lanes_avx512(const LanesLayerArgs& layer);
void lanes_end_avx512(const LanesEndArgs& end);

// Kernels needing VNNI or BF16 come from the AVX2 table on AVX-512 CPUs that lack them.
const KernelTable* avx512_kernels() {
  static const KernelTable* table = [] () -> const KernelTable* {
    const CpuFeatures& f = cpu_features();
    if (!f.avx512_core) return nullptr;
    const KernelTable* avx2 = avx2_kernels();
    static const KernelTable t{"avx512",
                               gemm_f32_avx512,
                               gated_activation_avx512,
                               scaled_exp_avx512,
                               convert_bf16_avx512,
                               f.avx512_bf16 ? gemm_bf16_avx512 : avx2->gemm_bf16,
                               quantize_u8_avx512,
                               f.avx512_vnni ? gemm_int8_avx512 : avx2->gemm_int8,
                               f.avx512_vnni ? gemm_int4_avx512 : avx2->gemm_int4,
                               accumulate_avx512,
                               f.avx512_vnni ? fused_layers_avx512 : avx2->fused_layers,
                               f.avx512_vnni ? fused_layer_lanes_avx512 : avx2->fused_layer_lanes,
                               f.avx512_vnni ? lanes_end_avx512 : avx2->lanes_end};
    return &t;
  }();
  return table;
}

}  // namespace fastwave::kernels
