#include "io/output_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <random>

#include "fastwave/error.h"

namespace fastwave::io {
namespace {

// Temporaries alive now, readable from a signal handler: fixed storage, a flag per slot.
constexpr int kSlots = 16;
char g_temp_names[kSlots][PATH_MAX];
std::atomic<bool> g_temp_used[kSlots];
std::mutex g_slots_mutex;

int claim_slot(const std::string& name) {
  if (name.size() >= PATH_MAX) return -1;
  std::lock_guard lock(g_slots_mutex);
  for (int i = 0; i < kSlots; ++i) {
    if (!g_temp_used[i].load()) {
      std::memcpy(g_temp_names[i], name.c_str(), name.size() + 1);
      g_temp_used[i].store(true);
      return i;
    }
  }
  return -1;  // more than kSlots at once: still correct, only not cleaned on a signal
}

void release_slot(int slot) {
  if (slot >= 0) g_temp_used[slot].store(false);
}

extern "C" void remove_temporaries_and_die(int signal) {
  for (int i = 0; i < kSlots; ++i) {
    if (g_temp_used[i].load()) ::unlink(g_temp_names[i]);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string random_suffix() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  static const char hex[] = "0123456789abcdef";
  uint64_t bits = generator();
  std::string s;
  for (int i = 0; i < 16; ++i, bits >>= 4) s += hex[bits & 15];
  return s;
}

}  // namespace

void check_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // absent (or unreachable: open will say)
  const char* kind = S_ISLNK(st.st_mode) ? "a symbolic link"
                     : S_ISDIR(st.st_mode) ? "a directory"
                     : S_ISREG(st.st_mode) ? nullptr
                                           : "not a regular file (a device, FIFO or socket)";
  if (kind) throw Error("cannot write '" + path + "': it is " + kind + "; refusing to replace it");
}

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  if (path_.empty() || path_.back() == '/') throw Error("cannot write '" + path_ + "': not a file name");
  check_replaceable(path_);
  // A short prefix of the name keeps the temporary within NAME_MAX.
  const std::string prefix = directory_of(path_) + "/." + base_name_of(path_).substr(0, 100) + ".";
  for (int attempt = 0; attempt < 32 && fd_ < 0; ++attempt) {
    temp_ = prefix + random_suffix() + ".tmp";
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) throw Error("cannot write '" + path_ + "': " + std::strerror(errno));
  slot_ = claim_slot(temp_);
  // A replaced file keeps its permissions (a private 0600 model stays private).
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::fchmod(fd_, st.st_mode & 07777);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) discard();
}

void OutputFile::fail(const std::string& problem) {
  const int saved = errno;
  discard();
  throw Error("failed writing '" + path_ + "': " + problem + (saved ? std::string(": ") + std::strerror(saved) : ""));
}

void OutputFile::write(std::span<const uint8_t> bytes) {
  if (fd_ < 0) throw Error("'" + path_ + "' was already closed");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write failed (disk full?)");
    done += static_cast<size_t>(n);
  }
}

void OutputFile::commit() {
  if (fd_ < 0) throw Error("'" + path_ + "' was already closed");
  errno = 0;
  if (::fsync(fd_) != 0) fail("fsync failed");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close failed");
  try {
    check_replaceable(path_);  // again, just before the rename: the target may have changed
  } catch (const Error&) {
    discard();
    throw;
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int saved = errno;
    discard();
    throw Error("cannot write '" + path_ + "': " + std::strerror(saved));
  }
  release_slot(slot_);
  slot_ = -1;
}

void OutputFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
  release_slot(slot_);
  slot_ = -1;
}

void remove_temporaries_on_signal() {
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction action {};
    action.sa_handler = remove_temporaries_and_die;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, nullptr);
  }
}

}  // namespace fastwave::io
