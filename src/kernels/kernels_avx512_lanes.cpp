// The AVX-512 (VNNI) lanes kernels: a WaveNet layer, and the end of the step, for groups
// of 16 streams, stream l of a group in lane l of every vector (see LanesLayerArgs and
// LanesEndArgs). The products broadcast each row's 4 weight bytes to the lanes and
// multiply them into two groups' activation codes, so every weight is loaded once per 32
// streams; quantization scales, the gate and the sums run down the lanes. Compiled with
// AVX-512 flags, like kernels_avx512.cpp.
#include <immintrin.h>

#include "kernels/avx512_inline.h"
#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

static_assert(kLanes == 16, "one lane of a 512-bit float vector per stream");

// r[c] = old column c: a 16x16 transpose in registers (64 shuffles).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // per 128-bit block: rows i..i+3 of columns 4b+0..3
    const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int e = 0; e < 4; ++e) {  // a 4x4 transpose of 128-bit blocks
    const __m512 u0 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x44), u1 = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xEE);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x44), u3 = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xEE);
    t[e] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    t[4 + e] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
    t[8 + e] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    t[12 + e] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

inline __m512 load_lane(const float* p, int valid) {
  return valid >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(first_lanes(valid), p);
}

// The scale of each lane's codes (static, or max|x| / 127 as quantize_u8_ref) and its inverse.
struct LaneScales {
  __m512 scale, inverse;
};

inline LaneScales lane_scales(float input_scale, __m512 max_abs) {
  __m512 scale;
  if (input_scale > 0.0f) {
    scale = _mm512_set1_ps(input_scale);
  } else {
    const __mmask16 nonzero = _mm512_cmp_ps_mask(max_abs, _mm512_set1_ps(1e-30f), _CMP_GT_OQ);
    scale = _mm512_mask_div_ps(_mm512_set1_ps(1.0f), nonzero, max_abs, _mm512_set1_ps(127.0f));
  }
  return {scale, _mm512_div_ps(_mm512_set1_ps(1.0f), scale)};
}

// max(x, 0) exactly as std::max(x, 0.0f): x unless 0 > x (NaN and -0 stay).
inline __m512 relu(__m512 x) { return _mm512_max_ps(_mm512_setzero_ps(), x); }

// Codes of `n` rows of lanes (rows past n, up to padded_cols, are the zero code 128),
// four consecutive rows packed into each lane's 32-bit quad, the u8 operand of vpdpbusd.
// kRelu: of max(rows, 0).
template <bool kRelu = false>
void lane_codes(const float* rows, int n, int padded_cols, __m512 inverse, int32_t* codes) {
  for (int q = 0; q < padded_cols / 4; ++q) {
    __m512i quad = _mm512_setzero_si512();
    for (int e = 0; e < 4; ++e) {
      const int row = 4 * q + e;
      __m512 x = row < n ? _mm512_load_ps(rows + size_t(row) * kLanes) : _mm512_setzero_ps();
      if constexpr (kRelu) x = relu(x);
      const __m512i code = row < n ? codes_avx512(x, inverse, 0xFFFF) : _mm512_set1_epi32(128);
      quad = _mm512_or_si512(quad, _mm512_slli_epi32(code, 8 * e));
    }
    _mm512_store_si512(codes + size_t(q) * kLanes, quad);
  }
}

// int4 weights unpacked into the int8 layout (panel, quad, row, byte), so that the
// products below read 4 signed bytes per row and quad whatever the format.
void unpack_int4(const Int4View& w, int8_t* out) {
  const int octets = w.groups * w.group_size / 8;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  for (size_t block = 0; block < size_t(w.panels) * octets; ++block) {
    const __m512i packed = _mm512_load_si512(w.data + block * 64);
    _mm512_store_si512(out + block * 128, signed_nibbles(_mm512_and_si512(packed, low_nibbles)));
    _mm512_store_si512(out + block * 128 + 64, signed_nibbles(_mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles)));
  }
}

// A matrix as the lanes products read it: int8 weights (int4 ones unpacked) and the
// parameters of its format.
struct LaneMatrix {
  const IntegerMatrixView* m;
  const int8_t* weights;
  int rows, panels, quads;
};

LaneMatrix lane_matrix(const IntegerMatrixView& m, int8_t* unpacked) {
  if (!m.is_int4) return {&m, m.int8.data, m.int8.rows, m.int8.panels, m.int8.quads};
  unpack_int4(m.int4, unpacked);
  return {&m, unpacked, m.int4.rows, m.int4.panels, m.int4.groups * m.int4.group_size / 4};
}

// acc + the products of x's u8 quads with the s8 quads of w. Inline assembly: with the
// intrinsic, GCC 12 copies the accumulators between registers around every vpdpbusd of
// an unrolled loop. The weights are broadcast by their own instruction: vpdpbusd with a
// {1to16} memory operand measured 3x slower on this Zen 5.
inline __m512i dpbusd(__m512i acc, __m512i x, __m512i w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
  return acc;
}

// Integer sums of one panel's 16 rows over quads [q0, q1), starting from `acc`.
inline void panel_sums(const int32_t* panel, const int32_t* codes, int q0, int q1, __m512i acc[kPanelRows]) {
  for (int q = q0; q < q1; ++q) {
    const __m512i x = _mm512_load_si512(codes + size_t(q) * kLanes);
    const int32_t* w = panel + size_t(q) * kPanelRows;
#pragma GCC unroll 16
    for (int i = 0; i < kPanelRows; ++i) acc[i] = dpbusd(acc[i], x, _mm512_set1_epi32(w[i]));
  }
}

// int4 products of one group, row by row: per group of columns an integer sum, then the
// float accumulation in group order, as gemm_int4 computes it. out(r, y_r) for r < rows.
template <class Out>
void int4_products(const LaneMatrix& w, const int32_t* codes, __m512 x_scale, Out out) {
  const Int4View& v = w.m->int4;
  const int quads_per_group = v.group_size / 4;
  for (int p = 0; p < w.panels; ++p) {
    const int32_t* panel = reinterpret_cast<const int32_t*>(w.weights) + size_t(p) * w.quads * kPanelRows;
    const int row0 = p * kPanelRows, valid = w.rows - row0 < kPanelRows ? w.rows - row0 : kPanelRows;
    alignas(64) __m512 acc[kPanelRows];
    alignas(64) __m512i sums[kPanelRows];
    for (int i = 0; i < kPanelRows; ++i) acc[i] = _mm512_setzero_ps();
    for (int g = 0; g < v.groups; ++g) {
      for (int i = 0; i < kPanelRows; ++i) sums[i] = _mm512_setzero_si512();
      panel_sums(panel, codes, g * quads_per_group, (g + 1) * quads_per_group, sums);
      for (int i = 0; i < kPanelRows; ++i) {
        const size_t at = (size_t(p) * v.groups + g) * kPanelRows + i;
        const __m512 s = _mm512_mul_ps(x_scale, _mm512_set1_ps(v.scale[at]));
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sums[i], _mm512_set1_epi32(v.correction[at]))), s, acc[i]);
      }
    }
    for (int i = 0; i < valid; ++i) out(row0 + i, _mm512_add_ps(acc[i], _mm512_set1_ps(v.bias[row0 + i])));
  }
}

// Rows [0, channels) of `lanes` streams' vectors, transposed into rows of lanes:
// out[(c*stride + offset)*16 + l] = x[l][c]; lanes past `lanes` read as zero. Returns max|x|.
__m512 gather_lanes(const float* const* x, int x_step, int lanes, int channels, int stride, int offset, float* out,
                    __m512 max_abs) {
  for (int c0 = 0; c0 < channels; c0 += 16) {
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = l < lanes ? load_lane(x[size_t(l) * x_step] + c0, channels - c0) : _mm512_setzero_ps();
    transpose16(r);
    for (int c = 0; c < 16 && c0 + c < channels; ++c) {
      _mm512_store_ps(out + (size_t(c0 + c) * stride + offset) * kLanes, r[c]);
      max_abs = _mm512_max_ps(max_abs, _mm512_abs_ps(r[c]));
    }
  }
  return max_abs;
}

// Rows [0, channels) already in lanes into the im2col rows out[(c*stride + offset)*16]
// (the taps of streams bound to lanes: a copy, no transpose). Returns max|x|.
__m512 copy_lanes(const float* rows, int channels, int stride, int offset, float* out, __m512 max_abs) {
  for (int c = 0; c < channels; ++c) {
    const __m512 x = _mm512_load_ps(rows + size_t(c) * kLanes);
    _mm512_store_ps(out + (size_t(c) * stride + offset) * kLanes, x);
    max_abs = _mm512_max_ps(max_abs, _mm512_abs_ps(x));
  }
  return max_abs;
}

// The inverse: rows of lanes back into each stream's vector, for lanes < `lanes`.
void scatter_lanes(const float* rows, int channels, int lanes, float* const* out) {
  for (int c0 = 0; c0 < channels; c0 += 16) {
    __m512 r[16];
    for (int c = 0; c < 16; ++c) r[c] = c0 + c < channels ? _mm512_load_ps(rows + size_t(c0 + c) * kLanes) : _mm512_setzero_ps();
    transpose16(r);
    const int valid = channels - c0;
    for (int l = 0; l < lanes; ++l) {
      if (valid >= 16) _mm512_storeu_ps(out[l] + c0, r[l]);
      else _mm512_mask_storeu_ps(out[l] + c0, first_lanes(valid), r[l]);
    }
  }
}

// int8 products for G groups at once: each weight quad, broadcast once, is multiplied
// into every group's codes, which halves the broadcasts for two groups (the products
// measured 15% faster). 16/G rows per tile keep G*16/G accumulators in registers.
// out(g, r, y_r) for r < rows. `out` is taken by value: a copy of its own, whose pointers
// no store can change, stays in registers (through a reference they were reloaded after
// every vector store, which may alias anything; 2-3% of the 32-stream step).
template <int G, class Out>
void int8_products(const LaneMatrix& w, const int32_t* const* codes, const __m512* x_scale, Out out) {
  constexpr int kRows = kPanelRows / G;
  const Int8View& v = w.m->int8;
  for (int p = 0; p < w.panels; ++p) {
    const int32_t* panel = reinterpret_cast<const int32_t*>(w.weights) + size_t(p) * w.quads * kPanelRows;
    for (int half = 0; half < kPanelRows; half += kRows) {
      const int row0 = p * kPanelRows + half;
      if (row0 >= w.rows) break;
      // The sums start from -correction, which subtracts it exactly (integers).
      __m512i acc[G][kRows];
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {
        for (int g = 0; g < G; ++g) acc[g][i] = _mm512_set1_epi32(-v.correction[row0 + i]);
      }
      for (int q = 0; q < w.quads; ++q) {
        __m512i x[G];
        for (int g = 0; g < G; ++g) x[g] = _mm512_load_si512(codes[g] + size_t(q) * kLanes);
        const int32_t* weights = panel + size_t(q) * kPanelRows + half;
#pragma GCC unroll 16
        for (int i = 0; i < kRows; ++i) {
          const __m512i wv = _mm512_set1_epi32(weights[i]);
          for (int g = 0; g < G; ++g) acc[g][i] = dpbusd(acc[g][i], x[g], wv);
        }
      }
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {  // constant indices only: the sums stay in registers
        const int r = row0 + i;
        if (r >= w.rows) break;
        const __m512 scale = _mm512_set1_ps(v.scale[r]), bias = _mm512_set1_ps(v.bias[r]);
        for (int g = 0; g < G; ++g) {
          out(g, r, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[g][i]), _mm512_mul_ps(x_scale[g], scale), bias));
        }
      }
    }
  }
}

// The products of G groups: int8 ones together, int4 ones group by group.
template <int G, class Out>
void products(const LaneMatrix& w, const int32_t* const* codes, const __m512* x_scale, Out out) {
  if (!w.m->is_int4) {
    int8_products<G>(w, codes, x_scale, out);
    return;
  }
  for (int g = 0; g < G; ++g) int4_products(w, codes[g], x_scale[g], [&](int r, __m512 y) { out(g, r, y); });
}

// Gate rows computed together (gated_avx512_n).
constexpr int kGateRows = 4;

// One group's part of the scratch: each region holds kLaneTileGroups groups, each of the
// size the layer needs.
struct GroupScratch {
  float* columns;
  int32_t* codes;
  float* pre;
  float* z;
  float* residual;
};

GroupScratch group_scratch(const LanesLayerArgs& a, int g) {
  const int widest = a.filter_gate.padded_cols > a.residual_skip.padded_cols ? a.filter_gate.padded_cols
                                                                               : a.residual_skip.padded_cols;
  const LanesScratch& s = a.scratch;
  const size_t rows = size_t(g) * kLanes;
  return {s.columns + rows * a.kernel_size * a.residual_channels, s.codes + rows * (widest / 4),
          s.pre + rows * 2 * a.dilation_channels, s.z + rows * a.dilation_channels, s.residual + rows * a.residual_channels};
}

// Groups [group0, group0 + G) of up to 16 streams each through the layer, stage by stage,
// so that the products of all G run together.
template <int G>
void layer_groups(const LanesLayerArgs& a, const LaneMatrix& filter_gate, const LaneMatrix& residual_skip, int group0) {
  const int k = a.kernel_size, res = a.residual_channels, dil = a.dilation_channels;
  // The next tile's past taps (written `dilation` steps ago, out of the caches) are
  // fetched while this tile computes.
  if (a.taps) {
    const int next = (group0 + G) * kLanes, next_end = next + G * kLanes < a.streams ? next + G * kLanes : a.streams;
    for (int stream = next; stream < next_end; ++stream) {
      for (int j = 0; j + 1 < k; ++j) {
        const char* tap = reinterpret_cast<const char*>(a.taps[size_t(stream) * k + j]);
        for (int byte = 0; byte < res * 4; byte += 64) _mm_prefetch(tap + byte, _MM_HINT_T0);
      }
    }
  } else {
    const int groups = (a.streams + kLanes - 1) / kLanes;
    for (int group = group0 + G; group < group0 + 2 * G && group < groups; ++group) {
      for (int j = 0; j + 1 < k; ++j) {
        const char* tap = reinterpret_cast<const char*>(a.group_taps[size_t(group) * k + j]);
        for (int byte = 0; byte < res * kLanes * 4; byte += 64) _mm_prefetch(tap + byte, _MM_HINT_T0);
      }
    }
  }
  GroupScratch s[G];
  int first[G], lanes[G];
  const int32_t* codes[G];
  __m512 scales[G];
  for (int g = 0; g < G; ++g) {
    s[g] = group_scratch(a, g);
    codes[g] = s[g].codes;
    first[g] = (group0 + g) * kLanes;
    lanes[g] = a.streams - first[g] < kLanes ? a.streams - first[g] : kLanes;
    // The taps in im2col order (column c*k + j is channel c of tap j), quantized.
    __m512 max_abs = _mm512_setzero_ps();
    for (int j = 0; j < k; ++j) {
      max_abs = a.taps ? gather_lanes(a.taps + size_t(first[g]) * k + j, k, lanes[g], res, k, j, s[g].columns, max_abs)
                       : copy_lanes(a.group_taps[size_t(group0 + g) * k + j], res, k, j, s[g].columns, max_abs);
    }
    const LaneScales x = lane_scales(a.filter_gate.input_scale, max_abs);
    lane_codes(s[g].columns, k * res, a.filter_gate.padded_cols, x.inverse, s[g].codes);
    scales[g] = x.scale;
  }

  // pre = filter_gate(x) (+ conditioning), then z = gate(pre), quantized. The epilogues
  // capture pointers by value: through references they would be reloaded after every store.
  float* pre[G];
  const float* conditioning[G];
  for (int g = 0; g < G; ++g) {
    pre[g] = s[g].pre;
    conditioning[g] = a.conditioning ? a.conditioning + size_t(group0 + g) * 2 * dil * kLanes : nullptr;
  }
  if (a.conditioning) {
    products<G>(filter_gate, codes, scales, [=](int g, int r, __m512 y) {
      _mm512_store_ps(pre[g] + size_t(r) * kLanes, _mm512_add_ps(y, _mm512_loadu_ps(conditioning[g] + size_t(r) * kLanes)));
    });
  } else {
    products<G>(filter_gate, codes, scales, [=](int g, int r, __m512 y) { _mm512_store_ps(pre[g] + size_t(r) * kLanes, y); });
  }
  for (int g = 0; g < G; ++g) {
    __m512 z_max = _mm512_setzero_ps();
    auto gate = [&]<int N>(int i) {  // rows [i, i + N), their chains interleaved
      __m512 f[N], gate_input[N];
      for (int j = 0; j < N; ++j) {
        f[j] = _mm512_load_ps(pre[g] + size_t(i + j) * kLanes);
        gate_input[j] = _mm512_load_ps(pre[g] + size_t(dil + i + j) * kLanes);
      }
      gated_avx512_n<N>(f, gate_input);
      for (int j = 0; j < N; ++j) {
        _mm512_store_ps(s[g].z + size_t(i + j) * kLanes, f[j]);
        z_max = _mm512_max_ps(z_max, _mm512_abs_ps(f[j]));
      }
    };
    int i = 0;
    for (; i + kGateRows <= dil; i += kGateRows) gate.template operator()<kGateRows>(i);
    for (; i < dil; ++i) gate.template operator()<1>(i);
    const LaneScales z = lane_scales(a.residual_skip.input_scale, z_max);
    lane_codes(s[g].z, dil, a.residual_skip.padded_cols, z.inverse, s[g].codes);
    scales[g] = z.scale;
  }

  // Residual rows (the first `res`, unless this is the last layer): x + rs into the lanes'
  // residual scratch, or straight into the bound streams' next ring. Skip rows (all the
  // others): summed in their lanes.
  const bool has_residual = a.taps ? a.residual != nullptr : a.group_residual != nullptr;
  const int residual_rows = has_residual ? res : 0, skip_offset = a.skip_offset;
  float* skip[G];
  float* residual[G];
  const float* now[G];  // channel c of the last tap at c*now_stride
  const size_t now_stride = a.taps ? size_t(k) * kLanes : kLanes;
  for (int g = 0; g < G; ++g) {
    skip[g] = a.skip + size_t(group0 + g) * a.skip_channels * kLanes;
    residual[g] = a.taps || !has_residual ? s[g].residual : a.group_residual[group0 + g];
    now[g] = a.taps ? s[g].columns + size_t(k - 1) * kLanes : a.group_taps[size_t(group0 + g) * k + k - 1];
  }
  products<G>(residual_skip, codes, scales, [=](int g, int r, __m512 y) {
    if (r < residual_rows) {
      _mm512_store_ps(residual[g] + size_t(r) * kLanes, _mm512_add_ps(_mm512_load_ps(now[g] + r * now_stride), y));
    } else {
      float* sum = skip[g] + size_t(r - skip_offset) * kLanes;
      _mm512_storeu_ps(sum, _mm512_add_ps(_mm512_loadu_ps(sum), y));
    }
  });
  if (has_residual && a.taps) {
    for (int g = 0; g < G; ++g) scatter_lanes(residual[g], res, lanes[g], a.residual + first[g]);
  }
}

// Rows of lanes back into each stream's vector at out + l*stride, for lanes < `lanes`.
void scatter_lanes_strided(const float* rows, int channels, int lanes, float* out, size_t stride) {
  float* streams[kLanes];
  for (int l = 0; l < lanes; ++l) streams[l] = out + l * stride;
  scatter_lanes(rows, channels, lanes, streams);
}

// Codes of max(rows, 0) for the product m, and the lanes' scales.
__m512 relu_codes(const float* rows, int n, const IntegerMatrixView& m, int32_t* codes) {
  __m512 max_abs = _mm512_setzero_ps();
  for (int i = 0; i < n; ++i) max_abs = _mm512_max_ps(max_abs, _mm512_abs_ps(relu(_mm512_load_ps(rows + size_t(i) * kLanes))));
  const LaneScales scales = lane_scales(m.input_scale, max_abs);
  lane_codes<true>(rows, n, m.padded_cols, scales.inverse, codes);
  return scales.scale;
}

// The end of the step for groups [group0, group0 + G).
template <int G>
void end_groups(const LanesEndArgs& a, const LaneMatrix& end1, const LaneMatrix& end2, int group0) {
  const int widest = a.end1.padded_cols > a.end2.padded_cols ? a.end1.padded_cols : a.end2.padded_cols;
  int32_t* codes[G];
  float* hidden[G];
  float* logits[G];
  __m512 scales[G];
  for (int g = 0; g < G; ++g) {
    codes[g] = a.scratch.codes + size_t(g) * kLanes * (widest / 4);
    hidden[g] = a.scratch.hidden + size_t(g) * kLanes * a.end_channels;
    logits[g] = a.scratch.logits + size_t(g) * kLanes * a.classes;
    const float* skip = a.skip + size_t(group0 + g) * a.skip_channels * kLanes;
    scales[g] = relu_codes(skip, a.skip_channels, a.end1, codes[g]);
  }
  products<G>(end1, codes, scales, [=](int g, int r, __m512 y) { _mm512_store_ps(hidden[g] + size_t(r) * kLanes, y); });
  for (int g = 0; g < G; ++g) scales[g] = relu_codes(hidden[g], a.end_channels, a.end2, codes[g]);
  products<G>(end2, codes, scales, [=](int g, int r, __m512 y) { _mm512_store_ps(logits[g] + size_t(r) * kLanes, y); });
  for (int g = 0; g < G; ++g) {
    const int first = (group0 + g) * kLanes, lanes = a.streams - first < kLanes ? a.streams - first : kLanes;
    scatter_lanes_strided(logits[g], a.classes, lanes, a.logits + size_t(first) * a.classes, size_t(a.classes));
  }
}

}  // namespace

void lanes_end_avx512(const LanesEndArgs& a) {
  const LaneMatrix end1 = lane_matrix(a.end1, a.scratch.filter_gate_weights);
  const LaneMatrix end2 = lane_matrix(a.end2, a.scratch.residual_skip_weights);
  const int groups = (a.streams + kLanes - 1) / kLanes;
  int g = 0;
  for (; g + 2 <= groups; g += 2) end_groups<2>(a, end1, end2, g);
  if (g < groups) end_groups<1>(a, end1, end2, g);
}

void fused_layer_lanes_avx512(const LanesLayerArgs& a) {
  const LaneMatrix filter_gate = lane_matrix(a.filter_gate, a.scratch.filter_gate_weights);
  const LaneMatrix residual_skip = lane_matrix(a.residual_skip, a.scratch.residual_skip_weights);
  const int groups = (a.streams + kLanes - 1) / kLanes;
  int g = 0;
  for (; g + 2 <= groups; g += 2) layer_groups<2>(a, filter_gate, residual_skip, g);
  if (g < groups) layer_groups<1>(a, filter_gate, residual_skip, g);
}

}  // namespace fastwave::kernels
