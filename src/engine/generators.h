// The two generator implementations behind make_generator().
#pragma once

#include "fastwave/generator.h"
#include "kernels/kernels.h"

namespace fastwave {

// `kernels` must outlive the generator (the tables are static).
std::unique_ptr<Generator> make_naive_generator(const Model& model, const Conditioning& conditioning,
                                                const kernels::KernelTable& kernels);
std::unique_ptr<Generator> make_fast_generator(const Model& model, const Conditioning& conditioning,
                                               const kernels::KernelTable& kernels);

// Throws fastwave::Error if `id` is not a class or local features end before `position`.
void check_push(const ModelConfig& config, const Conditioning& conditioning, int id, int64_t position);

}  // namespace fastwave
