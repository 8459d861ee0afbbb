// The reference kernels: the specification every optimized kernel is tested against.
#include <cmath>

#include "kernels/kernels.h"

namespace fastwave::kernels {
namespace {

void gemm_f32_ref(const PackedView& w, const float* x, int ldx, int count, float* y, int ldy) {
  for (int n = 0; n < count; ++n) {
    for (int r = 0; r < w.rows; ++r) {
      const float* column0 = w.data + (size_t(r / kPanelRows) * w.cols * kPanelRows) + r % kPanelRows;
      double sum = 0;  // double keeps the reference closer to exact than any fast kernel
      for (int c = 0; c < w.cols; ++c) sum += double(column0[size_t(c) * kPanelRows]) * x[size_t(n) * ldx + c];
      y[size_t(n) * ldy + r] = static_cast<float>(sum + w.bias[r]);
    }
  }
}

void gated_activation_ref(const float* pre, int channels, float* z) {
  for (int i = 0; i < channels; ++i) {
    z[i] = std::tanh(pre[i]) / (1.0f + std::exp(-pre[channels + i]));
  }
}

}  // namespace

const KernelTable& reference_kernels() {
  static const KernelTable table{"ref", gemm_f32_ref, gated_activation_ref};
  return table;
}

}  // namespace fastwave::kernels
