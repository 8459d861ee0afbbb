// Config JSON: parsing, validation, and the working-memory estimate of what validates.
#include <string>

#include "fastwave/fastwave.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const fastwave::ModelConfig config =
        fastwave::ModelConfig::from_json(std::string(reinterpret_cast<const char*>(data), size));
    fastwave::working_memory(config);
    if (fastwave::ModelConfig::from_json(config.to_json()).to_json() != config.to_json()) __builtin_trap();
  } catch (const fastwave::Error&) {
  }
  return 0;
}
