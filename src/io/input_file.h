// Opening inputs that may be hostile. Only regular files are read: a FIFO, device,
// directory or socket is refused at once (opened non-blocking, so a FIFO without a writer
// cannot hang us), and the size is known before anything is allocated.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace fastwave::io {

class InputFile {
 public:
  // `what` names the kind of file in errors: "cannot open model file 'x': ...".
  // Throws fastwave::Error naming the path.
  InputFile(const std::string& path, const std::string& what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Up to bytes.size() bytes from the current position; returns how many (0 at the end).
  size_t read_some(std::span<uint8_t> bytes);
  // Until bytes is full or the file ends; returns how many.
  size_t read_up_to(std::span<uint8_t> bytes);
  // Exactly bytes.size() bytes, or throws "truncated".
  void read_exactly(std::span<uint8_t> bytes);
  // The whole file; refused (before allocating) if it is larger than max_bytes.
  std::vector<uint8_t> read_all(uint64_t max_bytes);

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// InputFile(path, what).read_all(max_bytes).
std::vector<uint8_t> read_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// All of standard input (a pipe: `fastwave mel ... -o - | fastwave vocode --mel -`), refused
// as soon as it passes max_bytes, so a runaway writer cannot exhaust memory.
std::vector<uint8_t> read_standard_input(const std::string& what, uint64_t max_bytes);

// Fills `bytes` from standard input as far as it goes; returns how many (fewer only at
// its end). For inputs read piece by piece as a pipe delivers them.
size_t read_standard_input_into(std::span<uint8_t> bytes, const std::string& what);

}  // namespace fastwave::io
