// A weight matrix with its bias in any of fastwave's formats, packed for its kernels:
// "y = W x + b" whatever the format, so the engine never branches on it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "kernels/kernels.h"
#include "kernels/matrix_rows.h"

namespace fastwave::kernels {

// How the kernels read the weights (every stored integer width is unpacked into the int8
// or the int4 layout, see quant/weight_formats.cpp).
enum class Layout { kF32, kBf16, kInt8, kInt4 };

class Linear {
 public:
  Linear() = default;
  // Weights, their scales and the bias are read row by row (kernels/matrix_rows.h), so a
  // matrix stacked from several tensors packs straight from them. The bias has one value
  // per row, or no rows (zeros).
  static Linear f32(const MatrixRows<float>& w, const MatrixRows<float>& bias);
  static Linear bf16(const MatrixRows<uint16_t>& w, const MatrixRows<float>& bias);
  // int8 values in [-127, 127] with one scale per row. input_scale > 0 fixes the activation
  // scale (static quantization); 0 computes it from each input vector (dynamic).
  static Linear int8(const MatrixRows<int8_t>& w, const MatrixRows<float>& row_scale, const MatrixRows<float>& bias,
                     float input_scale);
  // int4 values in [-8, 7], one per int8, with scales [rows][ceil(cols/group_size)];
  // group_size is a multiple of 8.
  static Linear int4(int group_size, const MatrixRows<int8_t>& w, const MatrixRows<float>& group_scale,
                     const MatrixRows<float>& bias, float input_scale);

  // The same from whole row-major arrays [rows][cols]; `bias` may be empty (zeros).
  static Linear f32(int rows, int cols, std::span<const float> w, std::span<const float> bias);
  static Linear bf16(int rows, int cols, std::span<const uint16_t> w, std::span<const float> bias);
  static Linear int8(int rows, int cols, std::span<const int8_t> w, std::span<const float> row_scale,
                     std::span<const float> bias, float input_scale);
  static Linear int4(int rows, int cols, int group_size, std::span<const int8_t> w,
                     std::span<const float> group_scale, std::span<const float> bias, float input_scale);

  // y[n*ldy + r] = (W x_n)[r] + bias[r] for n < count. Safe to call from several threads:
  // the converted activations live in per-thread scratch.
  void apply(const float* x, int ldx, int count, float* y, int ldy, const KernelTable& k) const;
  // The same for rows [0, rows) only: a stacked matrix's leading block (the residual rows
  // of a layer's residual+skip matrix, where the skip rows are not needed).
  void apply_leading_rows(int rows, const float* x, int ldx, int count, float* y, int ldy,
                          const KernelTable& k) const;

  Layout layout() const { return layout_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  float input_scale() const { return input_scale_; }
  // Bytes of weights and their scales as the kernels read them (not the padding).
  size_t weight_bytes() const { return weight_bytes_; }

  // Views of rows [0, rows) (all rows by default); packing keeps whole panels of 16 rows
  // together, so a leading block is the same data with fewer panels.
  PackedView f32_view(int rows = -1) const;
  Bf16View bf16_view(int rows = -1) const;
  Int8View int8_view(int rows = -1) const;
  Int4View int4_view(int rows = -1) const;
  // All rows as the fused and lanes kernels take them, which read int8 and int4 only:
  // nullopt for the float layouts.
  std::optional<IntegerMatrixView> integer_view() const;
  // Activation buffer width the quantized kernels read (cols padded).
  int padded_cols() const;
  // The packed weights as the products stream them: whole panels of 16 rows, padding
  // included (bias, scales and corrections not).
  std::span<const uint8_t> packed_weights() const;

 private:
  using Buffer = AlignedArray<uint8_t>;
  static Buffer allocate(size_t bytes) { return Buffer(static_cast<uint8_t*>(allocate_aligned(bytes))); }
  int panels() const { return (rows_ + kPanelRows - 1) / kPanelRows; }

  Layout layout_ = Layout::kF32;
  int rows_ = 0, cols_ = 0, group_size_ = 0, groups_ = 0;
  float input_scale_ = 0;
  size_t weight_bytes_ = 0;
  PackedMatrix f32_;
  Buffer data_, bias_, scale_, correction_;
};

}  // namespace fastwave::kernels
