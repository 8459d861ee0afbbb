// Fuzz inputs as real files, without touching the disk: a memfd rewritten per input and
// opened by path (/proc/self/fd/N), so the targets go through the same open-and-check
// path as the CLI.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace fastwave::fuzz {

inline std::string as_file(const uint8_t* data, size_t size) {
  static const int fd = [] {
    const int f = ::memfd_create("fastwave-fuzz", MFD_CLOEXEC);
    if (f < 0) std::abort();
    return f;
  }();
  if (::ftruncate(fd, 0) != 0 || (size > 0 && ::pwrite(fd, data, size, 0) != ssize_t(size))) std::abort();
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace fastwave::fuzz
