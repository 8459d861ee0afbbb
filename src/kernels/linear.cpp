#include "kernels/linear.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "fastwave/error.h"

namespace fastwave::kernels {

namespace {

// Checks the shapes before anything is allocated; returns the weights' rows.
int check_rows(int cols, int weight_rows, const MatrixRows<float>& bias) {
  if (weight_rows <= 0 || cols <= 0 || (!bias.empty() && (bias.rows() != weight_rows || bias.cols() != 1))) {
    throw Error("Linear: sizes do not match");
  }
  return weight_rows;
}

void check_sizes(int rows, int cols, size_t weights, std::span<const float> bias) {
  if (rows <= 0 || cols <= 0 || weights != size_t(rows) * cols || (!bias.empty() && bias.size() != size_t(rows))) {
    throw Error("Linear: sizes do not match");
  }
}

template <typename T>
MatrixRows<T> whole(int cols, std::span<const T> values) {
  return values.empty() ? MatrixRows<T>() : MatrixRows<T>(cols, {values});
}

float bias_of(const MatrixRows<float>& bias, int r) { return bias.empty() ? 0.0f : *bias.row(r); }

}  // namespace

Linear Linear::f32(const MatrixRows<float>& w, const MatrixRows<float>& bias) {
  Linear l;
  l.layout_ = Layout::kF32;
  l.rows_ = check_rows(w.cols(), w.rows(), bias);
  l.cols_ = w.cols();
  l.f32_ = PackedMatrix(w, bias);
  l.weight_bytes_ = size_t(l.rows_) * l.cols_ * sizeof(float);
  return l;
}

Linear Linear::bf16(const MatrixRows<uint16_t>& w, const MatrixRows<float>& bias) {
  Linear l;
  l.layout_ = Layout::kBf16;
  const int rows = l.rows_ = check_rows(w.cols(), w.rows(), bias);
  const int cols = l.cols_ = w.cols();
  const int pairs = (cols + 1) / 2;
  l.data_ = allocate(size_t(l.panels()) * pairs * kPanelRows * 2 * sizeof(uint16_t));
  l.bias_ = allocate(size_t(l.panels()) * kPanelRows * sizeof(float));
  auto* data = reinterpret_cast<uint16_t*>(l.data_.get());
  auto* b = reinterpret_cast<float*>(l.bias_.get());
  for (int r = 0; r < rows; ++r) {
    const uint16_t* row = w.row(r);
    for (int c = 0; c < cols; ++c) {
      data[((size_t(r / kPanelRows) * pairs + c / 2) * kPanelRows + r % kPanelRows) * 2 + c % 2] = row[c];
    }
    b[r] = bias_of(bias, r);
  }
  l.weight_bytes_ = size_t(rows) * cols * sizeof(uint16_t);
  return l;
}

Linear Linear::int8(const MatrixRows<int8_t>& w, const MatrixRows<float>& row_scale, const MatrixRows<float>& bias,
                    float input_scale) {
  Linear l;
  l.layout_ = Layout::kInt8;
  const int rows = l.rows_ = check_rows(w.cols(), w.rows(), bias);
  const int cols = l.cols_ = w.cols();
  if (row_scale.rows() != rows || row_scale.cols() != 1) throw Error("Linear: one scale per row needed");
  l.input_scale_ = input_scale;
  const int quads = (cols + 3) / 4;
  const size_t padded_rows = size_t(l.panels()) * kPanelRows;
  l.data_ = allocate(padded_rows * quads * 4);
  l.bias_ = allocate(padded_rows * sizeof(float));
  l.scale_ = allocate(padded_rows * sizeof(float));
  l.correction_ = allocate(padded_rows * sizeof(int32_t));
  auto* data = reinterpret_cast<int8_t*>(l.data_.get());
  auto* b = reinterpret_cast<float*>(l.bias_.get());
  auto* s = reinterpret_cast<float*>(l.scale_.get());
  auto* corr = reinterpret_cast<int32_t*>(l.correction_.get());
  std::vector<int8_t> scratch(cols);  // one row, for codes decoded from fewer bits
  for (int r = 0; r < rows; ++r) {
    const int8_t* row = w.row(r, scratch);
    int32_t sum = 0;
    for (int c = 0; c < cols; ++c) {
      const int8_t v = row[c];
      data[((size_t(r / kPanelRows) * quads + c / 4) * kPanelRows + r % kPanelRows) * 4 + c % 4] = v;
      sum += v;
    }
    corr[r] = 128 * sum;  // the +128 offset of u8 activations, paid once here
    s[r] = *row_scale.row(r);
    b[r] = bias_of(bias, r);
  }
  l.weight_bytes_ = size_t(rows) * cols + size_t(rows) * sizeof(float);
  return l;
}

Linear Linear::int4(int group_size, const MatrixRows<int8_t>& w, const MatrixRows<float>& group_scale,
                    const MatrixRows<float>& bias, float input_scale) {
  Linear l;
  l.layout_ = Layout::kInt4;
  const int rows = l.rows_ = check_rows(w.cols(), w.rows(), bias);
  const int cols = l.cols_ = w.cols();
  if (group_size <= 0 || group_size % 8 != 0) throw Error("int4 group size must be a positive multiple of 8");
  l.group_size_ = group_size;
  l.groups_ = (cols + group_size - 1) / group_size;
  l.input_scale_ = input_scale;
  if (group_scale.rows() != rows || group_scale.cols() != l.groups_) {
    throw Error("Linear: int4 scales must be [rows][groups]");
  }
  const int octets = l.groups_ * group_size / 8;
  const size_t params = size_t(l.panels()) * l.groups_ * kPanelRows;
  l.data_ = allocate(size_t(l.panels()) * octets * 64);
  l.bias_ = allocate(size_t(l.panels()) * kPanelRows * sizeof(float));
  l.scale_ = allocate(params * sizeof(float));
  l.correction_ = allocate(params * sizeof(int32_t));
  auto* data = l.data_.get();
  auto* b = reinterpret_cast<float*>(l.bias_.get());
  auto* s = reinterpret_cast<float*>(l.scale_.get());
  auto* corr = reinterpret_cast<int32_t*>(l.correction_.get());
  std::vector<int8_t> scratch(cols);  // one row, for codes decoded from fewer bits
  for (int r = 0; r < rows; ++r) {
    const int p = r / kPanelRows, i = r % kPanelRows;
    const int8_t* row = w.row(r, scratch);
    for (int c = 0; c < cols; ++c) {
      if (row[c] < -8 || row[c] > 7) throw Error("int4 weight out of range");
    }
    auto code = [&](int c) { return c < cols ? int(row[c]) : 0; };  // padded columns are zero
    const float* scales = group_scale.row(r);
    // Each packed byte is built in a register and written once: octet o holds columns
    // 8o..8o+3 in its low nibbles and 8o+4..8o+7 in its high ones.
    for (int g = 0; g < l.groups_; ++g) {
      int32_t sum = 0;
      for (int o = g * group_size / 8; o < (g + 1) * group_size / 8; ++o) {
        uint8_t* bytes = data + ((size_t(p) * octets + o) * kPanelRows + i) * 4;
        for (int e = 0; e < 4; ++e) {
          const int low = code(8 * o + e), high = code(8 * o + 4 + e);
          bytes[e] = uint8_t((low + 8) | (high + 8) << 4);
          sum += low + high;
        }
      }
      const size_t at = (size_t(p) * l.groups_ + g) * kPanelRows + i;
      corr[at] = 128 * sum;  // the +128 offset of u8 activations, per group
      s[at] = scales[g];
    }
    b[r] = bias_of(bias, r);
  }
  l.weight_bytes_ = (size_t(rows) * cols + 1) / 2 + size_t(rows) * l.groups_ * sizeof(float);
  return l;
}

Linear Linear::f32(int rows, int cols, std::span<const float> w, std::span<const float> bias) {
  check_sizes(rows, cols, w.size(), bias);
  return f32(whole(cols, w), whole(1, bias));
}

Linear Linear::bf16(int rows, int cols, std::span<const uint16_t> w, std::span<const float> bias) {
  check_sizes(rows, cols, w.size(), bias);
  return bf16(whole(cols, w), whole(1, bias));
}

Linear Linear::int8(int rows, int cols, std::span<const int8_t> w, std::span<const float> row_scale,
                    std::span<const float> bias, float input_scale) {
  check_sizes(rows, cols, w.size(), bias);
  if (row_scale.size() != size_t(rows)) throw Error("Linear: one scale per row needed");
  return int8(whole(cols, w), whole(1, row_scale), whole(1, bias), input_scale);
}

Linear Linear::int4(int rows, int cols, int group_size, std::span<const int8_t> w,
                    std::span<const float> group_scale, std::span<const float> bias, float input_scale) {
  check_sizes(rows, cols, w.size(), bias);
  if (group_size <= 0 || group_size % 8 != 0) throw Error("int4 group size must be a positive multiple of 8");
  const int groups = (cols + group_size - 1) / group_size;
  if (group_scale.size() != size_t(rows) * groups) throw Error("Linear: int4 scales must be [rows][groups]");
  return int4(group_size, whole(cols, w), whole(groups, group_scale), whole(1, bias), input_scale);
}

int Linear::padded_cols() const {
  switch (layout_) {
    case Layout::kF32: return cols_;
    case Layout::kBf16: return (cols_ + 1) / 2 * 2;
    case Layout::kInt8: return (cols_ + 3) / 4 * 4;
    case Layout::kInt4: return groups_ * group_size_;
  }
  return cols_;
}

namespace {
int rows_or_all(int rows, int all) {
  if (rows > all) throw Error("Linear: asked for " + std::to_string(rows) + " of " + std::to_string(all) + " rows");
  return rows < 0 ? all : rows;
}
int panels_of(int rows) { return (rows + kPanelRows - 1) / kPanelRows; }
}  // namespace

std::span<const uint8_t> Linear::packed_weights() const {
  const size_t padded_rows = size_t(panels()) * kPanelRows;
  switch (layout_) {
    case Layout::kF32: {
      const PackedView v = f32_view();
      return {reinterpret_cast<const uint8_t*>(v.data), padded_rows * v.cols * sizeof(float)};
    }
    case Layout::kBf16:
      return {data_.get(), padded_rows * bf16_view().pairs * 2 * sizeof(uint16_t)};
    case Layout::kInt8:
      return {data_.get(), padded_rows * int8_view().quads * 4};
    case Layout::kInt4:
      return {data_.get(), padded_rows * size_t(groups_) * group_size_ / 2};
  }
  return {};
}

PackedView Linear::f32_view(int rows) const {
  PackedView v = f32_.view();
  v.rows = rows_or_all(rows, rows_);
  v.panels = panels_of(v.rows);
  return v;
}

Bf16View Linear::bf16_view(int rows) const {
  rows = rows_or_all(rows, rows_);
  return {reinterpret_cast<const uint16_t*>(data_.get()), reinterpret_cast<const float*>(bias_.get()), rows, cols_,
          (cols_ + 1) / 2, panels_of(rows)};
}

Int8View Linear::int8_view(int rows) const {
  rows = rows_or_all(rows, rows_);
  return {reinterpret_cast<const int8_t*>(data_.get()), reinterpret_cast<const float*>(bias_.get()),
          reinterpret_cast<const float*>(scale_.get()), reinterpret_cast<const int32_t*>(correction_.get()),
          rows, cols_, (cols_ + 3) / 4, panels_of(rows)};
}

Int4View Linear::int4_view(int rows) const {
  rows = rows_or_all(rows, rows_);
  return {data_.get(), reinterpret_cast<const float*>(bias_.get()), reinterpret_cast<const float*>(scale_.get()),
          reinterpret_cast<const int32_t*>(correction_.get()), rows, cols_, group_size_, groups_, panels_of(rows)};
}

std::optional<IntegerMatrixView> Linear::integer_view() const {
  if (layout_ != Layout::kInt8 && layout_ != Layout::kInt4) return std::nullopt;
  IntegerMatrixView v{};
  v.is_int4 = layout_ == Layout::kInt4;
  if (v.is_int4) v.int4 = int4_view();
  else v.int8 = int8_view();
  v.input_scale = input_scale_;
  v.padded_cols = padded_cols();
  return v;
}

void Linear::apply(const float* x, int ldx, int count, float* y, int ldy, const KernelTable& k) const {
  apply_leading_rows(rows_, x, ldx, count, y, ldy, k);
}

void Linear::apply_leading_rows(int rows, const float* x, int ldx, int count, float* y, int ldy,
                                const KernelTable& k) const {
  if (count <= 0) return;
  if (layout_ == Layout::kF32) {
    k.gemm_f32(f32_view(rows), x, ldx, count, y, ldy);
    return;
  }
  // Converted activations live in per-thread scratch, so one Linear serves many threads.
  thread_local std::vector<uint8_t> converted;
  thread_local std::vector<float> scales;
  const int width = padded_cols();
  if (layout_ == Layout::kBf16) {
    converted.resize(size_t(count) * width * sizeof(uint16_t));
    auto* xb = reinterpret_cast<uint16_t*>(converted.data());
    for (int n = 0; n < count; ++n) k.convert_bf16(x + size_t(n) * ldx, cols_, width, xb + size_t(n) * width);
    k.gemm_bf16(bf16_view(rows), xb, width, count, y, ldy);
    return;
  }
  converted.resize(size_t(count) * width);
  scales.resize(count);
  for (int n = 0; n < count; ++n) {
    scales[n] = k.quantize_u8(x + size_t(n) * ldx, cols_, width, input_scale_, converted.data() + size_t(n) * width);
  }
  if (layout_ == Layout::kInt8) {
    k.gemm_int8(int8_view(rows), converted.data(), width, scales.data(), count, y, ldy);
  } else {
    k.gemm_int4(int4_view(rows), converted.data(), width, scales.data(), count, y, ldy);
  }
}

}  // namespace fastwave::kernels
