// The sampler behind sample_id(), with the kernel table named: a stream over a Network
// samples with that network's kernels.
#pragma once

#include <span>

#include "fastwave/distribution.h"
#include "kernels/kernels.h"

namespace fastwave {

int sample_id_with(const kernels::KernelTable& kernels, std::span<const float> logits, float temperature,
                   double uniform01);

// sample_code() with the kernel table named (softmax rows run on its exp kernel).
int sample_code_with(const kernels::KernelTable& kernels, const ModelConfig& config, std::span<const float> outputs,
                     float temperature, UniformSource& uniforms);

// The mixture halves of sample_code() and code_nll_bits() (src/engine/mixture.cpp).
int sample_mixture(const ModelConfig& config, std::span<const float> outputs, float temperature,
                   UniformSource& uniforms);
double mixture_nll_bits(const ModelConfig& config, std::span<const float> outputs, int code);
double mixture_kl(const ModelConfig& config, std::span<const float> p, std::span<const float> q,
                  UniformSource& uniforms);
int mixture_mode(const ModelConfig& config, std::span<const float> outputs);

}  // namespace fastwave
