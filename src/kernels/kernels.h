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

// 64-byte aligned float storage, so panels start on cache lines.
struct AlignedFree {
  void operator()(float* p) const;
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;
AlignedFloats allocate_floats(size_t count);

// What a kernel sees of a PackedMatrix. A plain struct with no member functions: the ISA
// files must not instantiate inline or template code shared with baseline files, or the
// linker could keep their AVX-512 copy for everyone.
struct PackedView {
  const float* data;  // panel p, column c, row-in-panel i at (p*cols + c)*16 + i
  const float* bias;  // padded to panels*16
  int rows, cols, panels;
};

// W [rows x cols] plus a bias [rows], packed for the gemm kernels.
class PackedMatrix {
 public:
  PackedMatrix() = default;
  // `row_major` is W[r][c] at r*cols + c; `bias` may be empty (zeros).
  PackedMatrix(int rows, int cols, std::span<const float> row_major, std::span<const float> bias);

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

struct KernelTable {
  const char* name;  // "ref", "avx2", "avx512"
  // y[n*ldy + r] = sum_c W[r][c] * x[n*ldx + c] + bias[r], for n < count, r < rows.
  void (*gemm_f32)(const PackedView& w, const float* x, int ldx, int count, float* y, int ldy);
  // z[i] = tanh(pre[i]) * sigmoid(pre[channels + i]): WaveNet's gated activation.
  void (*gated_activation)(const float* pre, int channels, float* z);
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

}  // namespace fastwave::kernels
