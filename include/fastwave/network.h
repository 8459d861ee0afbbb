// The immutable, shareable form of a model: weights packed once in their formats for the
// kernel table chosen at build time. Any number of generators, streams and threads run
// over one Network; each keeps only its own per-stream state.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "fastwave/model.h"

namespace fastwave {

struct PackedModel;  // src/engine/packed_model.h
namespace kernels {
struct KernelTable;  // src/kernels/kernels.h
}

class Network {
 public:
  // `isa` picks the kernels: "" = the best this CPU supports (or $FASTWAVE_ISA), else
  // "ref", "avx2" or "avx512"; throws fastwave::Error if that one cannot run here.
  static std::shared_ptr<const Network> build(const Model& model, const std::string& isa = "");
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const ModelConfig& config() const;
  const char* isa() const;
  // Bytes of the layer and end matrices (with their scales) streamed for every sample.
  size_t weight_bytes() const;

  // For the engine (src/engine): the packed weights and the kernels they run with.
  const PackedModel& packed() const { return *packed_; }
  const kernels::KernelTable& kernels() const { return *kernels_; }

 private:
  Network(std::unique_ptr<const PackedModel> packed, const kernels::KernelTable& kernels);
  std::unique_ptr<const PackedModel> packed_;
  const kernels::KernelTable* kernels_;
};

// Names of the kernel tables this CPU can run, reference first.
std::vector<std::string> available_isas();

}  // namespace fastwave
