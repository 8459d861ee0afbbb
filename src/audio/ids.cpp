// Class-id text files: whitespace-separated decimal integers, read block by block.
#include <charconv>
#include <sstream>

#include "fastwave/audio.h"
#include "fastwave/error.h"
#include "io/input_file.h"

namespace fastwave {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// No class id needs more characters than this; a longer token is an error, not a buffer.
constexpr size_t kMaxTokenChars = 24;

class IdParser {
 public:
  IdParser(int classes, size_t max_ids, const std::string& name) : classes_(classes), max_ids_(max_ids), name_(name) {}

  // Parses the complete tokens of `text`; a token cut by the end of `text` is kept for the
  // next call (or finish()).
  void add(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
      if (is_space(text[i])) {
        if (!pending_.empty()) take_token();
        ++i;
        continue;
      }
      pending_ += text[i++];
      if (pending_.size() > kMaxTokenChars) fail(pending_ + "...");
    }
  }

  std::vector<int> finish() {
    if (!pending_.empty()) take_token();
    if (ids_.empty()) throw Error("'" + name_ + "': no ids");
    return std::move(ids_);
  }

 private:
  void take_token() {
    int value = -1;
    const auto [end, error] = std::from_chars(pending_.data(), pending_.data() + pending_.size(), value);
    if (error != std::errc() || end != pending_.data() + pending_.size() || value < 0 || value >= classes_) {
      fail(pending_);
    }
    if (ids_.size() >= max_ids_) {
      throw Error("'" + name_ + "': more than " + std::to_string(max_ids_) + " ids, the limit for this input");
    }
    ids_.push_back(value);
    pending_.clear();
  }
  [[noreturn]] void fail(const std::string& token) const {
    throw Error("'" + name_ + "': '" + token + "' is not a class id in [0, " + std::to_string(classes_) + ")");
  }

  int classes_;
  size_t max_ids_;
  std::string name_, pending_;
  std::vector<int> ids_;
};

}  // namespace

std::vector<int> parse_ids(std::string_view text, int classes, size_t max_ids, const std::string& name) {
  IdParser parser(classes, max_ids, name);
  parser.add(text);
  return parser.finish();
}

std::vector<int> read_ids(const std::string& path, int classes, size_t max_ids) {
  io::InputFile input(path, "ids file");
  IdParser parser(classes, max_ids, path);
  std::vector<uint8_t> block(1 << 16);
  while (const size_t got = input.read_some(block)) {
    parser.add(std::string_view(reinterpret_cast<const char*>(block.data()), got));
  }
  return parser.finish();
}

void write_ids(const std::string& path, std::span<const int> ids) {
  std::ostringstream text;
  for (size_t i = 0; i < ids.size(); ++i) text << ids[i] << ((i + 1) % 32 == 0 ? '\n' : ' ');
  text << '\n';
  const std::string s = text.str();
  write_file_atomically(path, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

}  // namespace fastwave
