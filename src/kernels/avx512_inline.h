// AVX-512 helpers shared by the AVX-512 kernel files only (never include this from a
// baseline file: its inline code is compiled with AVX-512 flags).
#pragma once

#include <immintrin.h>

namespace fastwave::kernels {
namespace {

// exp(x) to about 1 ulp over the float range: Cody-Waite reduction by ln 2, a degree-5
// polynomial (Cephes expf coefficients) on [-ln2/2, ln2/2], and scalef for 2^n. Of N
// vectors at once, stage by stage: each is a chain of dependent operations, and
// interleaving independent chains keeps the FP pipes busy (the lanes gate measured ...).
template <int N>
inline void exp_avx512_n(__m512 x[N]) {
  __m512 n[N], r[N], p[N];
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) {
    x[i] = _mm512_min_ps(_mm512_max_ps(x[i], _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    n[i] = _mm512_roundscale_ps(_mm512_mul_ps(x[i], _mm512_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) {
    r[i] = _mm512_fnmadd_ps(n[i], _mm512_set1_ps(0.693359375f), x[i]);
    r[i] = _mm512_fnmadd_ps(n[i], _mm512_set1_ps(-2.12194440e-4f), r[i]);
    p[i] = _mm512_set1_ps(1.9875691500e-4f);
  }
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) p[i] = _mm512_fmadd_ps(p[i], r[i], _mm512_set1_ps(1.3981999507e-3f));
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) p[i] = _mm512_fmadd_ps(p[i], r[i], _mm512_set1_ps(8.3334519073e-3f));
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) p[i] = _mm512_fmadd_ps(p[i], r[i], _mm512_set1_ps(4.1665795894e-2f));
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) p[i] = _mm512_fmadd_ps(p[i], r[i], _mm512_set1_ps(1.6666665459e-1f));
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) p[i] = _mm512_fmadd_ps(p[i], r[i], _mm512_set1_ps(5.0000001201e-1f));
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) {
    const __m512 r2 = _mm512_mul_ps(r[i], r[i]);
    const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p[i], r2, r[i]), _mm512_set1_ps(1.0f));
    x[i] = _mm512_scalef_ps(y, n[i]);
  }
}

inline __m512 exp_avx512(__m512 x) {
  exp_avx512_n<1>(&x);
  return x;
}

// tanh(f) * sigmoid(g) = (1 - e^-2f) / ((1 + e^-2f) (1 + e^-g)): one division for both.
// Clamping f >= -9 and g >= -40 keeps the product finite; tanh(-9) and sigmoid(-40) differ
// from their limits by less than 3e-8. N gates at once (exp_avx512_n), into f.
template <int N>
inline void gated_avx512_n(__m512 f[N], const __m512 g[N]) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 e[2 * N];  // e^-2f of each, then e^-g of each
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) {
    e[i] = _mm512_mul_ps(_mm512_max_ps(f[i], _mm512_set1_ps(-9.0f)), _mm512_set1_ps(-2.0f));
    e[N + i] = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_max_ps(g[i], _mm512_set1_ps(-40.0f)));
  }
  exp_avx512_n<2 * N>(e);
#pragma GCC unroll 8
  for (int i = 0; i < N; ++i) {
    const __m512 denominator = _mm512_mul_ps(_mm512_add_ps(one, e[i]), _mm512_add_ps(one, e[N + i]));
    f[i] = _mm512_div_ps(_mm512_sub_ps(one, e[i]), denominator);
  }
}

inline __m512 gated_avx512(__m512 f, __m512 g) {
  gated_avx512_n<1>(&f, &g);
  return f;
}

inline __mmask16 first_lanes(int valid) {
  return valid >= 16 ? __mmask16(0xFFFF) : valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1);
}

// The dynamic activation scale from max|x|, as quantize_u8_ref computes it.
inline float scale_of_max(float max) { return max > 1e-30f ? max / 127.0f : 1.0f; }

// u8 codes of 16 values: clamp(round(v * inverse)) + 128; lanes outside `m` get 128 (zero).
inline __m512i codes_avx512(__m512 v, __m512 inverse, __mmask16 m) {
  v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, inverse), _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
  const __m512i offset = _mm512_set1_epi32(128);
  return _mm512_mask_add_epi32(offset, m, _mm512_cvtps_epi32(v), offset);  // MXCSR: nearest even
}

// Packed int4 nibbles hold w + 8 (kernels.h, Int4View): back to the signed weights.
inline __m512i signed_nibbles(__m512i v) { return _mm512_sub_epi8(v, _mm512_set1_epi8(8)); }

}  // namespace
}  // namespace fastwave::kernels
