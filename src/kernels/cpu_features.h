// What the CPU and the operating system let us run, from cpuid and xgetbv.
#pragma once

namespace fastwave::kernels {

struct CpuFeatures {
  bool avx2_fma = false;     // AVX2 + FMA, and the OS saves YMM state
  bool avx512_core = false;  // F, BW, DQ, VL, and the OS saves ZMM and opmask state
  bool avx512_vnni = false;
  bool avx512_bf16 = false;
};

const CpuFeatures& cpu_features();

}  // namespace fastwave::kernels
