// The hot kernels of fastwave and the table that picks one implementation per CPU.
//
// kernels_ref.cpp is the specification: plain loops, no intrinsics. Each kernels_<isa>.cpp
// is compiled with that ISA's flags only, and is used only when cpuid and xgetbv say the
// CPU and OS support it (or FASTWAVE_ISA forces a choice).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace fastwave::kernels {

// Weights are stored in panels of 16 rows: column k of panel p is 16 consecutive floats.
// A GEMV then streams each panel once, with one vector FMA per column and no horizontal
// reductions, which suits the short reductions (32..1280) of WaveNet layers.
inline constexpr int kPanelRows = 16;

// n rounded up to whole multiples (panels, vectors, cache lines of padded scratch).
inline constexpr int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// 64-byte aligned storage, so panels start on cache lines.
struct AlignedFree {
  void operator()(void* p) const;
};
template <typename T>
using AlignedArray = std::unique_ptr<T[], AlignedFree>;
using AlignedFloats = AlignedArray<float>;
// Zeroed, 64-byte aligned, rounded up to whole cache lines; throws std::bad_alloc.
void* allocate_aligned(size_t bytes);
AlignedFloats allocate_floats(size_t count);

// What a kernel sees of a PackedMatrix. A plain struct with no member functions: the ISA
// files must not instantiate inline or template code shared with baseline files, or the
// linker could keep their AVX-512 copy for everyone.
struct PackedView {
  const float* data;  // panel p, column c, row-in-panel i at (p*cols + c)*16 + i
  const float* bias;  // padded to panels*16
  int rows, cols, panels;
};

template <typename T>
class MatrixRows;  // kernels/matrix_rows.h

// W [rows x cols] plus a bias [rows], packed for the gemm kernels.
class PackedMatrix {
 public:
  PackedMatrix() = default;
  // `row_major` is W[r][c] at r*cols + c; `bias` may be empty (zeros).
  PackedMatrix(int rows, int cols, std::span<const float> row_major, std::span<const float> bias);
  // The same row by row (stacked blocks, read in place); `bias` has one value per row or
  // no rows.
  PackedMatrix(const MatrixRows<float>& w, const MatrixRows<float>& bias);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int panels() const { return (rows_ + kPanelRows - 1) / kPanelRows; }
  const float* panel(int p) const { return data_.get() + size_t(p) * cols_ * kPanelRows; }
  const float* bias() const { return bias_.get(); }  // padded to panels()*16
  size_t weight_bytes() const { return size_t(rows_) * cols_ * sizeof(float); }
  PackedView view() const { return {data_.get(), bias_.get(), rows_, cols_, panels()}; }

 private:
  int rows_ = 0, cols_ = 0;
  AlignedFloats data_;
  AlignedFloats bias_;
};

// bfloat16 weights: panel p, column pair q holds rows' pairs (w[r][2q], w[r][2q+1]) as
// 16 x 2 values, the operand layout of AVX512-BF16's vdpbf16ps. Odd cols pad with zero.
struct Bf16View {
  const uint16_t* data;  // ((p*pairs + q)*16 + i)*2 + e
  const float* bias;     // padded to panels*16
  int rows, cols, pairs, panels;
};

// int8 weights, symmetric, one scale per row: panel p, column quad q holds 16 rows x 4
// bytes, the operand layout of VNNI's vpdpbusd. Activations arrive as u8 = q + 128, so
// each row's 128 * sum(w) is subtracted: precomputed at packing time.
struct Int8View {
  const int8_t* data;          // ((p*quads + q)*16 + i)*4 + e
  const float* bias;           // padded to panels*16
  const float* scale;          // per row, padded
  const int32_t* correction;   // 128 * sum of the row's weights, padded
  int rows, cols, quads, panels;
};

// int4 weights, symmetric in [-7, 7], one scale per row and group of `group_size` columns.
// Panel p, column octet o is 64 bytes: byte i*4+e holds w[i][8o+e] + 8 in its low nibble
// and w[i][8o+4+e] + 8 in its high nibble, so each half is a VNNI quad block. The offset
// makes a masked nibble a valid non-negative operand: a kernel multiplies it as it is and
// takes 8 * (the group's sum of x) off, instead of sign-extending every nibble.
struct Int4View {
  const uint8_t* data;         // ((p*octets + o)*16 + i)*4 + e
  const float* bias;           // padded to panels*16
  const float* scale;          // [panels][groups][16]
  const int32_t* correction;   // [panels][groups][16]: 128 * sum of the group's weights
  int rows, cols, group_size, groups, panels;  // octets = groups * group_size / 8
};

// A matrix in an integer format, as the fused layer kernel sees it: int8 or int4 weights
// and the activation scale of its input (> 0 static, else dynamic per input vector).
struct IntegerMatrixView {
  bool is_int4;
  Int8View int8;  // used when !is_int4
  Int4View int4;  // used when is_int4
  float input_scale;
  int padded_cols;  // the width of its u8 activation codes
};

// One WaveNet layer of the fast step for one stream, both matrices in integer formats.
// It computes, each step exactly as the separate kernels of the same table compute it:
//   columns[c*kernel_size + j] = taps[j][c]          (the im2col order; c < residual_channels)
//   pre = filter_gate(quantize_u8(columns)), pre[i] += conditioning[i] when given
//   z = gated_activation(pre)
//   rs = residual_skip(quantize_u8(z))
//   residual[i] = taps[kernel_size-1][i] + rs[i] for i < residual_channels, unless residual
//     is null (the last layer); residual may be the last tap itself, or the next layer's ring
//   skip[i] += rs[skip_offset + i] for i < skip_channels
// so it matches the unfused step bit for bit, and every ISA matches the reference.
struct FusedLayerArgs {
  const float* const* taps;  // kernel_size pointers to residual_channels floats each
  int kernel_size, residual_channels, dilation_channels;
  IntegerMatrixView filter_gate;    // [2*dilation, kernel_size*residual]
  IntegerMatrixView residual_skip;  // [residual + skip or skip only, dilation]
  const float* conditioning;        // 2*dilation terms, or null
  float* residual;
  float* skip;
  int skip_offset, skip_channels;
  // Scratch, 64-byte aligned, the same for every layer of a call: `codes` is 2 regions of
  // codes_width bytes (a multiple of 64, >= every padded_cols); `rs` holds every
  // residual_skip's rows, `columns` kernel_size*residual floats, `pre` 2*dilation and `z`
  // dilation, each rounded up to 16. Whole vectors are written up to those rounded sizes.
  uint8_t* codes;
  int codes_width;
  float* rs;
  float* columns;
  float* pre;
  float* z;
};

// Many streams side by side: the many-streams step computes groups of kLanes streams, each
// stream in one lane of every vector, so per-stream work (quantization scales, gate, sums)
// runs down the lanes with no horizontal reductions, and each weight, broadcast to all
// lanes, is loaded once for kLanes streams.
inline constexpr int kLanes = 16;

// Groups of kLanes streams a lanes kernel may compute together (sharing each weight's
// broadcast); its scratch holds that many groups.
inline constexpr int kLaneTileGroups = 2;

// Scratch of the lanes kernel, 64-byte aligned, for the widest layer of a call (sizes in
// elements, each times kLaneTileGroups; "quads" = codes_width/4 with codes_width >= every
// padded_cols, a multiple of 4):
struct LanesScratch {
  float* columns;   // [kernel_size*residual][kLanes]
  int32_t* codes;   // [quads][kLanes]
  float* pre;       // [2*dilation][kLanes]
  float* z;         // [dilation][kLanes]
  float* residual;  // [residual][kLanes]
  float* rs;        // [rows of the widest residual_skip][kLanes] (the reference's per-stream rows)
  float* hidden;    // [end_channels][kLanes]
  float* logits;    // [classes][kLanes]
  // int4 matrices unpacked to the int8 layout, once per call: each holds
  // panels*16 * padded_cols bytes of its matrix (filter_gate and end1, residual_skip and end2).
  int8_t* filter_gate_weights;
  int8_t* residual_skip_weights;
};

// One WaveNet layer of the fast step for `streams` streams, each computed exactly as
// FusedLayerArgs specifies (so bit for bit the stream stepped alone), with the data that
// changes per stream laid out side by side: stream s is lane s % kLanes of group s / kLanes.
// Lanes past `streams` in the last group compute on zeros and write nothing outside the
// lanes layouts.
// The taps and residual rows come either per stream, or (taps null) already in the lanes
// layout, as the rings of streams bound to lanes for life keep them: no transposes, and
// every lane of a group, used or not, is computed and written.
struct LanesLayerArgs {
  int streams;
  const float* const* taps;  // [streams][kernel_size] pointers to residual_channels floats
  float* const* residual;    // [streams] outputs (may be the stream's last tap), or null:
                             // the last layer has no residual rows
  const float* const* group_taps;  // with taps null: [groups][kernel_size] pointers to
                                   // [residual_channels][kLanes] rows
  float* const* group_residual;    // with taps null: [groups] outputs [residual_channels][kLanes]
                                   // (may be the group's last tap), or null in the last layer
  const float* conditioning; // [groups][2*dilation][kLanes], or null
  float* skip;               // [groups][skip_channels][kLanes], accumulated
  int kernel_size, residual_channels, dilation_channels;
  IntegerMatrixView filter_gate;    // [2*dilation, kernel_size*residual]
  IntegerMatrixView residual_skip;  // [residual + skip or skip only, dilation]
  int skip_offset, skip_channels;   // skip_offset: residual_channels, or 0 in the last layer
  LanesScratch scratch;
};

// The end of the fast step for `streams` streams side by side, each computed as the step
// computes it for one stream (bit for bit):
//   hidden = end1(quantize_u8(max(skip, 0))), logits = end2(quantize_u8(max(hidden, 0)))
// with skip the lanes layout of the layers' sums and each product as Linear::apply.
struct LanesEndArgs {
  int streams;
  const float* skip;  // [groups][skip_channels][kLanes]
  int skip_channels, end_channels, classes;
  IntegerMatrixView end1;  // [end_channels, skip_channels]
  IntegerMatrixView end2;  // [classes, end_channels]
  float* logits;           // stream s's classes logits at logits + s * classes
  LanesScratch scratch;    // codes, hidden, logits, the unpacked weights; the reference also
                           // uses rs ([skip_channels] floats)
};

struct KernelTable {
  const char* name;  // "ref", "avx2", "avx512"
  // y[n*ldy + r] = sum_c W[r][c] * x[n*ldx + c] + bias[r], for n < count, r < rows.
  void (*gemm_f32)(const PackedView& w, const float* x, int ldx, int count, float* y, int ldy);
  // z[i] = tanh(pre[i]) * sigmoid(pre[channels + i]): WaveNet's gated activation, through
  // the polynomial exp of kernels_ref.cpp. Bit for bit across ISAs.
  void (*gated_activation)(const float* pre, int channels, float* z);

  // out[i] = exp((x[i] - shift) * scale): softmax weights for sampling. Bit for bit too.
  void (*scaled_exp)(const float* x, int n, float shift, float scale, float* out);

  // x[0..n) rounded to bfloat16 (to nearest even), zero-padded to n_padded.
  void (*convert_bf16)(const float* x, int n, int n_padded, uint16_t* out);
  // y = W x + bias with bf16 W and bf16 x, products summed in float.
  void (*gemm_bf16)(const Bf16View& w, const uint16_t* x, int ldx, int count, float* y, int ldy);

  // out[c] = clamp(nearbyint(x[c] / scale), -127, 127) + 128, padded with 128 (zero) to
  // n_padded. scale <= 0 means dynamic: max|x| / 127 (1 if max|x| <= 1e-30, where 1/scale
  // would overflow). Returns the scale.
  float (*quantize_u8)(const float* x, int n, int n_padded, float scale, uint8_t* out);
  // y[n][r] = fma(float(sum_c u8[c]*w[r][c] - correction[r]), x_scale[n]*scale[r], bias[r]).
  // Integer sums are exact, so every ISA must match the reference bit for bit.
  void (*gemm_int8)(const Int8View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                    int ldy);
  // acc = 0; for each group g in order: acc = fma(float(isum_g - correction_g), x_scale*scale_g, acc);
  // y = acc + bias. Bit for bit across ISAs too.
  void (*gemm_int4)(const Int4View& w, const uint8_t* x, int ldx, const float* x_scale, int count, float* y,
                    int ldy);

  // y[i] += x[i]: the residual and skip sums of every layer (element-wise, so exact alike
  // on every ISA).
  void (*accumulate)(const float* x, int n, float* y);

  // Layers [0, count) of one stream in order, each fused (see FusedLayerArgs): no dispatch,
  // no scratch to find, and an implementation may overlap a layer's skip rows with the next
  // layer (the skip sums still happen in layer order, so the result is the same bits).
  void (*fused_layers)(const FusedLayerArgs* layers, int count);

  // One layer for many streams side by side (see LanesLayerArgs); null where no kernel of
  // this ISA exists, and then the step takes its GEMM path.
  void (*fused_layer_lanes)(const LanesLayerArgs& layer);
  // The end products for many streams side by side (see LanesEndArgs); null with
  // fused_layer_lanes.
  void (*lanes_end)(const LanesEndArgs& end);
};

const KernelTable& reference_kernels();
// Null when this build or this CPU cannot run that ISA.
const KernelTable* avx2_kernels();
const KernelTable* avx512_kernels();

// The table in use, chosen once: the best the CPU supports, or FASTWAVE_ISA=ref|avx2|avx512.
// An unknown or unsupported FASTWAVE_ISA throws fastwave::Error.
const KernelTable& active_kernels();
// Every table this CPU can run, reference first (for tests and benchmarks).
std::vector<const KernelTable*> available_kernels();
// The table of that name ("ref", "avx2", "avx512") if this CPU can run it, else null.
const KernelTable* find_kernels(const std::string& name);
// "ref, avx2, avx512": the names of available_kernels(), for error messages.
std::string available_kernel_names();

}  // namespace fastwave::kernels
