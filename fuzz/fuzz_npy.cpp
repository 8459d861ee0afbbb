// .npy reader: hand-written header parser and size checks.
#include "fastwave/fastwave.h"
#include "memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::vector<int64_t> shape;
    fastwave::read_npy(fastwave::fuzz::as_file(data, size), &shape);
  } catch (const fastwave::Error&) {
  }
  return 0;
}
