// Working memory from the config alone, mirroring the allocations of PackedModel,
// FastGenerator, SequenceForward and teacher-forced evaluation.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <limits>

#include "fastwave/error.h"
#include "fastwave/memory.h"

namespace fastwave {
namespace {

std::atomic<uint64_t> g_limit{kDefaultMemoryLimit};

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();

// Saturating arithmetic: a hostile config must give "huge", never a wrapped small number.
uint64_t mul(uint64_t a, uint64_t b) { return a != 0 && b > kSaturated / a ? kSaturated : a * b; }
uint64_t add(uint64_t a, uint64_t b) { return b > kSaturated - a ? kSaturated : a + b; }

// Each evaluation worker aims at about this much scratch per chunk.
constexpr uint64_t kChunkScratchBytes = uint64_t{128} << 20;
constexpr int64_t kMaxChunkPositions = 16384, kMinChunkPositions = 256;

// Scratch of SequenceForward::run over `window` positions with `outputs` outputs.
uint64_t sequence_scratch(const ModelConfig& c, uint64_t window, uint64_t outputs) {
  const uint64_t res = c.residual_channels, dil = c.dilation_channels, k = c.kernel_size;
  const uint64_t per_window = res + k * res + 2 * dil + dil + res + c.skip_channels;
  const uint64_t per_output = uint64_t(c.skip_channels) + c.end_channels + c.outputs();
  // Quantized matrices convert activations into per-thread bytes: at most one per column.
  const uint64_t floats = add(mul(window, per_window), mul(outputs, per_output));
  uint64_t bytes = add(mul(floats, 4), mul(window, k * res));
  const uint64_t cond_width = uint64_t(c.num_layers()) * 2 * dil;
  // With an upsampling network the terms have one row per sample.
  const uint64_t hop = c.has_upsampling() ? 1 : uint64_t(c.local_hop);
  if (c.has_local()) bytes = add(bytes, mul(mul(window / hop + 2, cond_width), 4));
  else if (c.has_global()) bytes = add(bytes, mul(cond_width, 4));
  return bytes;
}

}  // namespace

WorkingMemory working_memory(const ModelConfig& c) {
  const uint64_t res = c.residual_channels, dil = c.dilation_channels, skip = c.skip_channels, k = c.kernel_size;
  auto matrix = [](uint64_t rows, uint64_t cols) { return mul(mul((rows + 15) / 16 * 16, cols), 4); };
  WorkingMemory m;
  uint64_t weights = matrix(c.input_width() + 1, res);  // start conv as an embedding table
  uint64_t rings = 0;
  for (int n = 0; n < c.num_layers(); ++n) {
    weights = add(weights, add(matrix(2 * dil, k * res), matrix(res + skip, dil)));
    rings = add(rings, mul(mul((k - 1) * uint64_t(c.dilation(n)) + 1, res), 4));
  }
  weights = add(weights, add(matrix(c.end_channels, skip), matrix(c.outputs(), c.end_channels)));
  const uint64_t cond_width = uint64_t(c.num_layers()) * 2 * dil;
  if (c.has_global()) weights = add(weights, add(mul(mul(c.speakers, c.global_channels), 4), matrix(cond_width, c.global_channels)));
  if (c.has_local()) weights = add(weights, matrix(cond_width, c.local_channels));
  m.packed_weights = weights;

  // With upsampling a stream keeps 32 rows of conditioning terms (ConditioningTerms::rows_per_refill).
  const uint64_t step_floats = res + res + skip + dil + k * res + 2 * dil + skip + c.end_channels + 2 * uint64_t(c.outputs()) +
                               cond_width * (c.has_upsampling() ? 32 : 1);
  m.fast_generation = add(add(weights, rings), mul(step_floats, 4));
  const uint64_t field = uint64_t(c.receptive_field());
  m.naive_generation = add(weights, sequence_scratch(c, field, 1));

  const uint64_t per_position = sequence_scratch(c, 1, 1);
  m.evaluation_chunk = std::clamp<int64_t>(int64_t(kChunkScratchBytes / std::max<uint64_t>(per_position, 1)),
                                           kMinChunkPositions, kMaxChunkPositions);
  m.evaluation_per_thread = sequence_scratch(c, add(m.evaluation_chunk, field - 1), m.evaluation_chunk);
  return m;
}

void set_memory_limit(uint64_t bytes) { g_limit.store(bytes); }
uint64_t memory_limit() { return g_limit.load(); }

void check_memory(uint64_t bytes, const std::string& what) {
  const uint64_t limit = memory_limit();
  if (limit == 0 || bytes <= limit) return;
  auto mb = [](uint64_t b) {
    char text[48];
    if (b == kSaturated) return std::string("more than 10^13 MB");
    std::snprintf(text, sizeof text, "%.4g MB", double(b) / 1e6);
    return std::string(text);
  };
  throw Error(what + " needs " + mb(bytes) + ", over the memory limit of " + mb(limit) +
              " (raise it with --max-memory-mb, or fastwave::set_memory_limit)");
}

}  // namespace fastwave
