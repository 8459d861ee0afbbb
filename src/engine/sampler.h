// The sampler behind sample_id(), with the kernel table named: a stream over a Network
// samples with that network's kernels.
#pragma once

#include <span>

#include "kernels/kernels.h"

namespace fastwave {

int sample_id_with(const kernels::KernelTable& kernels, std::span<const float> logits, float temperature,
                   double uniform01);

}  // namespace fastwave
