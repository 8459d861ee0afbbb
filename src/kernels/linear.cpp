#include "kernels/linear.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "fastwave/error.h"

namespace fastwave::kernels {

namespace {

void check_sizes(int rows, int cols, size_t weights, std::span<const float> bias) {
  if (rows <= 0 || cols <= 0 || weights != size_t(rows) * cols || (!bias.empty() && bias.size() != size_t(rows))) {
    throw Error("Linear: sizes do not match");
  }
}

}  // namespace

Linear Linear::f32(int rows, int cols, std::span<const float> w, std::span<const float> bias) {
  check_sizes(rows, cols, w.size(), bias);
  Linear l;
  l.layout_ = Layout::kF32;
  l.rows_ = rows;
  l.cols_ = cols;
  l.f32_ = PackedMatrix(rows, cols, w, bias);
  l.weight_bytes_ = w.size_bytes();
  return l;
}

Linear Linear::bf16(int rows, int cols, std::span<const uint16_t> w, std::span<const float> bias) {
  check_sizes(rows, cols, w.size(), bias);
  Linear l;
  l.layout_ = Layout::kBf16;
  l.rows_ = rows;
  l.cols_ = cols;
  const int pairs = (cols + 1) / 2;
  l.data_ = allocate(size_t(l.panels()) * pairs * kPanelRows * 2 * sizeof(uint16_t));
  l.bias_ = allocate(size_t(l.panels()) * kPanelRows * sizeof(float));
  auto* data = reinterpret_cast<uint16_t*>(l.data_.get());
  auto* b = reinterpret_cast<float*>(l.bias_.get());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      data[((size_t(r / kPanelRows) * pairs + c / 2) * kPanelRows + r % kPanelRows) * 2 + c % 2] = w[size_t(r) * cols + c];
    }
    if (!bias.empty()) b[r] = bias[r];
  }
  l.weight_bytes_ = w.size_bytes();
  return l;
}

Linear Linear::int8(int rows, int cols, std::span<const int8_t> w, std::span<const float> row_scale,
                    std::span<const float> bias, float input_scale) {
  check_sizes(rows, cols, w.size(), bias);
  if (row_scale.size() != size_t(rows)) throw Error("Linear: one scale per row needed");
  Linear l;
  l.layout_ = Layout::kInt8;
  l.rows_ = rows;
  l.cols_ = cols;
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
  for (int r = 0; r < rows; ++r) {
    int32_t sum = 0;
    for (int c = 0; c < cols; ++c) {
      const int8_t v = w[size_t(r) * cols + c];
      data[((size_t(r / kPanelRows) * quads + c / 4) * kPanelRows + r % kPanelRows) * 4 + c % 4] = v;
      sum += v;
    }
    corr[r] = 128 * sum;  // the +128 offset of u8 activations, paid once here
    s[r] = row_scale[r];
    if (!bias.empty()) b[r] = bias[r];
  }
  l.weight_bytes_ = w.size() + row_scale.size_bytes();
  return l;
}

Linear Linear::int4(int rows, int cols, int group_size, std::span<const int8_t> w,
                    std::span<const float> group_scale, std::span<const float> bias, float input_scale) {
  check_sizes(rows, cols, w.size(), bias);
  if (group_size <= 0 || group_size % 8 != 0) throw Error("int4 group size must be a positive multiple of 8");
  Linear l;
  l.layout_ = Layout::kInt4;
  l.rows_ = rows;
  l.cols_ = cols;
  l.group_size_ = group_size;
  l.groups_ = (cols + group_size - 1) / group_size;
  l.input_scale_ = input_scale;
  if (group_scale.size() != size_t(rows) * l.groups_) throw Error("Linear: int4 scales must be [rows][groups]");
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
  for (int r = 0; r < rows; ++r) {
    const int p = r / kPanelRows, i = r % kPanelRows;
    for (int c = 0; c < cols; ++c) {
      const int v = w[size_t(r) * cols + c];
      if (v < -8 || v > 7) throw Error("int4 weight out of range");
      uint8_t& byte = data[((size_t(p) * octets + c / 8) * kPanelRows + i) * 4 + c % 4];
      byte |= (c % 8 < 4) ? uint8_t(v & 0xF) : uint8_t((v & 0xF) << 4);
      corr[(size_t(p) * l.groups_ + c / group_size) * kPanelRows + i] += 128 * v;
    }
    for (int g = 0; g < l.groups_; ++g) s[(size_t(p) * l.groups_ + g) * kPanelRows + i] = group_scale[size_t(r) * l.groups_ + g];
    if (!bias.empty()) b[r] = bias[r];
  }
  l.weight_bytes_ = (w.size() + 1) / 2 + group_scale.size_bytes();
  return l;
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
