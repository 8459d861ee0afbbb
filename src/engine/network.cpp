#include "fastwave/network.h"

#include "engine/packed_model.h"
#include "fastwave/error.h"
#include "kernels/kernels.h"

namespace fastwave {
namespace {

const kernels::KernelTable& kernels_named(const std::string& isa) {
  if (isa.empty()) return kernels::active_kernels();
  if (const kernels::KernelTable* t = kernels::find_kernels(isa)) return *t;
  throw Error("ISA '" + isa + "' is not available on this CPU (choose " + kernels::available_kernel_names() + ")");
}

}  // namespace

Network::Network(std::unique_ptr<const PackedModel> packed, const kernels::KernelTable& kernels)
    : packed_(std::move(packed)), kernels_(&kernels) {}

Network::~Network() = default;

std::shared_ptr<const Network> Network::build(const Model& model, const std::string& isa) {
  const auto& table = kernels_named(isa);
  return std::shared_ptr<const Network>(new Network(std::make_unique<const PackedModel>(model), table));
}

const ModelConfig& Network::config() const { return packed_->config; }
const char* Network::isa() const { return kernels_->name; }
size_t Network::weight_bytes() const { return packed_->weight_bytes(); }

std::vector<std::string> available_isas() {
  std::vector<std::string> names;
  for (const auto* t : kernels::available_kernels()) names.emplace_back(t->name);
  return names;
}

}  // namespace fastwave
