// What running a model costs in memory, computed from its config before anything is
// allocated, and the process-wide limit that generators and evaluation check. A model
// file can pass every validation and still ask for terabytes (kernel size 16 with 4096
// residual channels needs huge ring buffers; 65,536 classes need huge logits): such a
// model is refused in one line instead of exhausting the machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fastwave/config.h"

namespace fastwave {

struct WorkingMemory {
  uint64_t packed_weights = 0;         // weights as the kernels read them (f32 bound)
  uint64_t fast_generation = 0;        // one fast generator, packed weights included
  uint64_t naive_generation = 0;       // one naive generator, packed weights included
  uint64_t evaluation_per_thread = 0;  // teacher-forced scratch of one worker thread
  int64_t evaluation_chunk = 0;        // positions each worker computes at once
};

// Saturates at UINT64_MAX rather than overflowing, for absurd configs.
WorkingMemory working_memory(const ModelConfig& config);

inline constexpr uint64_t kDefaultMemoryLimit = uint64_t{4} << 30;  // 4 GiB
// Process-wide; 0 means no limit.
void set_memory_limit(uint64_t bytes);
uint64_t memory_limit();
// Throws fastwave::Error "<what> needs N MB, over the memory limit of M MB ..." when
// `bytes` exceed the limit.
void check_memory(uint64_t bytes, const std::string& what);

}  // namespace fastwave
