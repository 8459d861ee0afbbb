#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fastwave/error.h"
#include "kernels/kernels.h"
#include "kernels/matrix_rows.h"

namespace fastwave::kernels {

void AlignedFree::operator()(void* p) const { std::free(p); }

void* allocate_aligned(size_t bytes) {
  bytes = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return p;
}

AlignedFloats allocate_floats(size_t count) {
  return AlignedFloats(static_cast<float*>(allocate_aligned(count * sizeof(float))));
}

PackedMatrix::PackedMatrix(int rows, int cols, std::span<const float> row_major, std::span<const float> bias) {
  if (row_major.size() != size_t(rows) * cols || (!bias.empty() && bias.size() != size_t(rows))) {
    throw Error("PackedMatrix: sizes do not match");
  }
  *this = PackedMatrix(MatrixRows<float>(cols, {row_major}),
                       bias.empty() ? MatrixRows<float>() : MatrixRows<float>(1, {bias}));
}

PackedMatrix::PackedMatrix(const MatrixRows<float>& w, const MatrixRows<float>& bias) : rows_(w.rows()), cols_(w.cols()) {
  if (!bias.empty() && (bias.rows() != rows_ || bias.cols() != 1)) throw Error("PackedMatrix: sizes do not match");
  data_ = allocate_floats(size_t(panels()) * cols_ * kPanelRows);
  bias_ = allocate_floats(size_t(panels()) * kPanelRows);
  for (int r = 0; r < rows_; ++r) {
    const float* row = w.row(r);
    float* panel_base = data_.get() + size_t(r / kPanelRows) * cols_ * kPanelRows + r % kPanelRows;
    for (int c = 0; c < cols_; ++c) panel_base[size_t(c) * kPanelRows] = row[c];
    if (!bias.empty()) bias_[r] = *bias.row(r);
  }
}

std::vector<const KernelTable*> available_kernels() {
  std::vector<const KernelTable*> tables{&reference_kernels()};
  if (const auto* t = avx2_kernels()) tables.push_back(t);
  if (const auto* t = avx512_kernels()) tables.push_back(t);
  return tables;
}

const KernelTable* find_kernels(const std::string& name) {
  for (const auto* t : available_kernels()) {
    if (name == t->name) return t;
  }
  return nullptr;
}

std::string available_kernel_names() {
  std::string names;
  for (const auto* t : available_kernels()) names += std::string(names.empty() ? "" : ", ") + t->name;
  return names;
}

namespace {

const KernelTable& choose() {
  const char* forced = std::getenv("FASTWAVE_ISA");
  if (!forced || !*forced) return *available_kernels().back();
  if (const KernelTable* t = find_kernels(forced)) return *t;
  throw Error(std::string("FASTWAVE_ISA=") + forced + " is not available on this CPU (choose " +
              available_kernel_names() + ")");
}

}  // namespace

const KernelTable& active_kernels() {
  static const KernelTable& table = choose();
  return table;
}

}  // namespace fastwave::kernels
