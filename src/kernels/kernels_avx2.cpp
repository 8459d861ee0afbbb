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

}  // namespace

const KernelTable* avx2_kernels() {
  static const KernelTable table{"avx2", gemm_f32_avx2, gated_activation_avx2};
  return cpu_features().avx2_fma ? &table : nullptr;
}

}  // namespace fastwave::kernels
