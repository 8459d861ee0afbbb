// AVX-512 kernels (F/BW/DQ/VL). This file alone is compiled with AVX-512 flags.
#include <immintrin.h>

#include "kernels/cpu_features.h"
#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

// exp(x) to about 1 ulp over the float range: Cody-Waite reduction by ln 2, a degree-5
// polynomial (Cephes expf coefficients) on [-ln2/2, ln2/2], and scalef for 2^n.
inline __m512 exp_avx512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

// tanh(f) * sigmoid(g) = (1 - e^-2f) / ((1 + e^-2f) (1 + e^-g)): one division for both.
// Clamping f >= -9 and g >= -40 keeps the product finite; tanh(-9) and sigmoid(-40) differ
// from their limits by less than 3e-8.
inline __m512 gated_avx512(__m512 f, __m512 g) {
  const __m512 one = _mm512_set1_ps(1.0f);
  f = _mm512_max_ps(f, _mm512_set1_ps(-9.0f));
  g = _mm512_max_ps(g, _mm512_set1_ps(-40.0f));
  const __m512 e_f = exp_avx512(_mm512_mul_ps(f, _mm512_set1_ps(-2.0f)));
  const __m512 e_g = exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), g));
  const __m512 denominator = _mm512_mul_ps(_mm512_add_ps(one, e_f), _mm512_add_ps(one, e_g));
  return _mm512_div_ps(_mm512_sub_ps(one, e_f), denominator);
}

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

}  // namespace

const KernelTable* avx512_kernels() {
  static const KernelTable table{"avx512", gemm_f32_avx512, gated_activation_avx512};
  return cpu_features().avx512_core ? &table : nullptr;
}

}  // namespace fastwave::kernels
