// Model loader from a file: the path through io::InputFile and its size checks.
#include "fastwave/fastwave.h"
#include "memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fastwave::Model::load(fastwave::fuzz::as_file(data, size));
  } catch (const fastwave::Error&) {
  }
  return 0;
}
