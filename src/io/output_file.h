// The one way fastwave writes a file. Bytes go to a temporary file beside the target,
// created exclusively (O_EXCL | O_NOFOLLOW, an unpredictable name), so nothing planted at
// a guessable name can redirect the write; every write, the fsync and the close are
// checked; commit() renames the temporary over the target, so readers see the old file
// or the whole new one. An existing target that is not a regular file (a device such as
// /dev/null, a FIFO, a directory, or a symbolic link) is refused, never replaced.
// A replaced file keeps its permission bits; a new one gets 0666 less the umask. An
// OutputFile destroyed without commit() removes its temporary.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace fastwave::io {

class OutputFile {
 public:
  // Throws fastwave::Error ("cannot write 'path': ...") if the target is refused or the
  // temporary cannot be created.
  explicit OutputFile(std::string path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  void write(std::span<const uint8_t> bytes);
  // Flushes, closes and renames over the target. Throws on any failure (and then removes
  // the temporary).
  void commit();
  // Removes the temporary now (commit() is then an error).
  void discard();

 private:
  [[noreturn]] void fail(const std::string& problem);
  std::string path_, temp_;
  int fd_ = -1;
  int slot_ = -1;  // in the table of temporaries removed on SIGINT/SIGTERM
};

// Throws unless `path` is absent or a regular file (what OutputFile would replace).
void check_replaceable(const std::string& path);

// Installs SIGINT, SIGTERM and SIGHUP handlers that remove every live temporary, then die
// of the signal as before. For programs (the CLI); a library user keeps their handlers.
void remove_temporaries_on_signal();

}  // namespace fastwave::io
