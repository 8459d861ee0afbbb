// The two generator implementations behind make_generator().
#pragma once

#include "fastwave/generator.h"
#include "fastwave/network.h"

namespace fastwave {

std::unique_ptr<Generator> make_naive_generator(std::shared_ptr<const Network> network,
                                                const Conditioning& conditioning);
std::unique_ptr<Generator> make_fast_generator(std::shared_ptr<const Network> network,
                                               const Conditioning& conditioning);

// Throws fastwave::Error if `id` is not a class or local features end before `position`.
void check_push(const ModelConfig& config, const Conditioning& conditioning, int id, int64_t position);
// The same with the end given: positions below `settled` have their features (streamed
// features settle as they arrive; `finished` when no more will).
void check_push(const ModelConfig& config, int id, int64_t position, int64_t settled, bool finished);

}  // namespace fastwave
