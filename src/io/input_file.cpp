#include "io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fastwave/error.h"

namespace fastwave::io {

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer; cleared below.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot open " + what + " '" + path + "': " + std::strerror(errno));
  struct stat st {};
  const char* refusal = nullptr;
  if (::fstat(fd_, &st) != 0) refusal = "cannot be examined";
  else if (S_ISDIR(st.st_mode)) refusal = "is a directory";
  else if (!S_ISREG(st.st_mode)) refusal = "is not a regular file (a FIFO, device or socket)";
  else if (::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK) != 0) refusal = "cannot be read";
  if (refusal) {
    ::close(fd_);
    throw Error("cannot open " + what + " '" + path + "': it " + refusal);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

namespace {

// Reads until `bytes` is full or the input ends; returns how many came. A read error
// throws "<what_failed()>: <reason>".
template <class WhatFailed>
size_t read_until_full(int fd, std::span<uint8_t> bytes, WhatFailed what_failed) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(what_failed() + ": " + std::strerror(errno));
    }
    done += size_t(n);
  }
  return done;
}

}  // namespace

InputFile::~InputFile() { ::close(fd_); }

size_t InputFile::read_some(std::span<uint8_t> bytes) {
  for (;;) {
    const ssize_t got = ::read(fd_, bytes.data(), bytes.size());
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) throw Error("cannot read " + what_ + " '" + path_ + "': " + std::strerror(errno));
  }
}

size_t InputFile::read_up_to(std::span<uint8_t> bytes) {
  return read_until_full(fd_, bytes, [&] { return "cannot read " + what_ + " '" + path_ + "'"; });
}

void InputFile::read_exactly(std::span<uint8_t> bytes) {
  if (read_up_to(bytes) < bytes.size()) {
    throw Error(what_ + " '" + path_ + "' is truncated (or shrank while being read)");
  }
}

std::vector<uint8_t> InputFile::read_all(uint64_t max_bytes) {
  if (size_ > max_bytes) {
    throw Error(what_ + " '" + path_ + "' is " + std::to_string(size_) + " bytes, over the limit of " +
                std::to_string(max_bytes));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size_));
  read_exactly(bytes);
  return bytes;
}

std::vector<uint8_t> read_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  return InputFile(path, what).read_all(max_bytes);
}

std::vector<uint8_t> read_standard_input(const std::string& what, uint64_t max_bytes) {
  std::vector<uint8_t> bytes;
  uint8_t block[1 << 16];
  for (;;) {
    const size_t n = read_standard_input_into(block, what);
    if (bytes.size() + n > max_bytes) {
      throw Error(what + " on standard input is larger than " + std::to_string(max_bytes >> 20) + " MB");
    }
    bytes.insert(bytes.end(), block, block + n);
    if (n < sizeof block) return bytes;  // the input ended
  }
}

size_t read_standard_input_into(std::span<uint8_t> bytes, const std::string& what) {
  return read_until_full(STDIN_FILENO, bytes, [&] { return "cannot read " + what + " from standard input"; });
}

}  // namespace fastwave::io
