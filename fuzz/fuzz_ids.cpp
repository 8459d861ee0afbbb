// ids reader: from memory, and from a file (block-wise, with tokens cut between blocks).
#include <string_view>

#include "fastwave/fastwave.h"
#include "memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int> from_memory, from_file;
  try {
    from_memory = fastwave::parse_ids(text, 256, 1 << 20, "fuzz");
  } catch (const fastwave::Error&) {
  }
  try {
    from_file = fastwave::read_ids(fastwave::fuzz::as_file(data, size), 256, 1 << 20);
  } catch (const fastwave::Error&) {
  }
  if (from_memory != from_file) __builtin_trap();  // the two paths must agree
  return 0;
}
