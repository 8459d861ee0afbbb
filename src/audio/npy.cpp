// float32 .npy files (NumPy format version 1.0), little-endian, C order. The header is a
// Python dict literal; it is parsed by hand with every length bounded, and the shape it
// claims is checked against the file's size before anything is allocated.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>

#include "fastwave/audio.h"
#include "fastwave/error.h"
#include "io/input_file.h"
#include "io/output_file.h"

namespace fastwave {
namespace {

constexpr size_t kPreambleBytes = 10;  // magic (6), version (2), header length (2)
constexpr size_t kMaxDims = 32;        // NumPy's own limit

std::vector<uint8_t> npy_header(const std::vector<int64_t>& shape) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Preamble + header + '\n' is padded to a multiple of 64.
  const size_t total = (kPreambleBytes + header.size() + 1 + 63) / 64 * 64;
  header.resize(total - kPreambleBytes - 1, ' ');
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                uint8_t(header.size() & 0xFF), uint8_t(header.size() >> 8)};
  bytes.insert(bytes.end(), header.begin(), header.end());
  return bytes;
}

// Reads {'descr': '<f4', 'fortran_order': False, 'shape': (d0, d1, ...), } in any key
// order, with either quote; anything else is an error.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : text_(text), path_(name) {}

  std::vector<int64_t> parse() {
    expect('{');
    bool descr = false, order = false, shape = false;
    std::vector<int64_t> dims;
    while (!accept('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr" && !descr) {
        descr = true;
        if (quoted() != "<f4") fail("must hold little-endian float32 ('<f4')");
      } else if (key == "fortran_order" && !order) {
        order = true;
        if (!word("False")) fail("must be in C order (fortran_order False)");
      } else if (key == "shape" && !shape) {
        shape = true;
        dims = tuple();
      } else {
        fail("unexpected or repeated key '" + key + "' in the header");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!descr || !order || !shape) fail("the header lacks descr, fortran_order or shape");
    return dims;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const { throw Error(path_ + ": " + problem); }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n')) ++at_;
  }
  bool accept(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("malformed header: expected '") + c + "'");
  }
  bool word(std::string_view w) {
    skip_space();
    if (text_.substr(at_, w.size()) != w) return false;
    at_ += w.size();
    return true;
  }
  std::string quoted() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) fail("malformed header: expected a string");
    const char quote = text_[at_++];
    const size_t end = text_.find(quote, at_);
    if (end == std::string_view::npos || end - at_ > 64) fail("malformed header: unterminated string");
    std::string s(text_.substr(at_, end - at_));
    at_ = end + 1;
    return s;
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (!accept(')')) {
      if (dims.size() == kMaxDims) fail("more than " + std::to_string(kMaxDims) + " dimensions");
      skip_space();
      int64_t d = -1;
      const auto [end, error] = std::from_chars(text_.data() + at_, text_.data() + text_.size(), d);
      if (error != std::errc() || d < 0) fail("malformed shape");
      at_ = end - text_.data();
      dims.push_back(d);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  std::string_view text_;
  const std::string& path_;
  size_t at_ = 0;
};

}  // namespace

// Standard input (path "-") holds at most this much: an hour of 80-band mel is 72 MB.
constexpr uint64_t kMaxStdinBytes = uint64_t{1} << 30;

void write_npy(const std::string& path, std::span<const float> values, std::vector<int64_t> shape) {
  if (path == "-") {  // standard output: a pipe has no atomic rename, only all or an error
    const std::vector<uint8_t> header = npy_header(shape);
    if (std::fwrite(header.data(), 1, header.size(), stdout) != header.size() ||
        std::fwrite(values.data(), sizeof(float), values.size(), stdout) != values.size() || std::fflush(stdout) != 0) {
      throw Error("cannot write the .npy to standard output");
    }
    return;
  }
  NpyWriter writer(path, std::move(shape));
  writer.append(values);
  writer.commit();
}

namespace {

// The header's length from the preamble (kPreambleBytes of `bytes`).
size_t header_length(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kPreambleBytes) throw Error(name + " is not a .npy file (too short)");
  if (std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0 || bytes[6] != 1) {
    throw Error(name + " is not a version 1 .npy file");
  }
  return bytes[8] | (size_t(bytes[9]) << 8);
}

// The .npy in `bytes`; `name` is how errors call it.
std::vector<float> parse_npy(std::span<const uint8_t> bytes, const std::string& name, std::vector<int64_t>* shape) {
  const size_t header_len = header_length(bytes, name);
  if (kPreambleBytes + header_len > bytes.size()) throw Error(name + ": truncated header");
  const std::string header(reinterpret_cast<const char*>(bytes.data()) + kPreambleBytes, header_len);
  const std::vector<int64_t> dims = HeaderParser(header, name).parse();

  // The data must be exactly what the shape says: compare with the size first.
  const uint64_t data_bytes = bytes.size() - kPreambleBytes - header_len;
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d != 0 && count > data_bytes / 4 / uint64_t(d)) count = UINT64_MAX;  // more than the file holds
    else count *= uint64_t(d);
  }
  if (count == UINT64_MAX || count * 4 != data_bytes) {
    throw Error(name + ": its shape does not match the " + std::to_string(data_bytes) + " data bytes in the file");
  }
  std::vector<float> values(static_cast<size_t>(count));
  std::memcpy(values.data(), bytes.data() + kPreambleBytes + header_len, size_t(data_bytes));
  if (shape) *shape = dims;
  return values;
}

}  // namespace

std::vector<float> read_npy(const std::string& path, std::vector<int64_t>* shape) {
  if (path == "-") return parse_npy(io::read_standard_input("the .npy", kMaxStdinBytes), "'-' (standard input)", shape);
  io::InputFile input(path, ".npy file");
  return parse_npy(input.read_all(input.size()), "'" + path + "'", shape);
}

struct NpyReader::State {
  std::optional<io::InputFile> file;  // none: standard input
  std::string name;
  std::vector<int64_t> shape;
  int64_t rows = 0, row_values = 1, read = 0;

  size_t fill(std::span<uint8_t> bytes) {
    return file ? file->read_up_to(bytes) : io::read_standard_input_into(bytes, "the .npy");
  }
  void fill_exactly(std::span<uint8_t> bytes, const std::string& where) {
    if (fill(bytes) != bytes.size()) throw Error(name + ": truncated " + where);
  }
};

NpyReader::NpyReader(const std::string& path) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.name = path == "-" ? "'-' (standard input)" : "'" + path + "'";
  if (path != "-") s.file.emplace(path, ".npy file");
  uint8_t preamble[kPreambleBytes];
  if (s.fill(preamble) != kPreambleBytes) throw Error(s.name + " is not a .npy file (too short)");
  const size_t header_len = header_length(preamble, s.name);
  std::string header(header_len, '\0');
  s.fill_exactly({reinterpret_cast<uint8_t*>(header.data()), header.size()}, "header");
  s.shape = HeaderParser(header, s.name).parse();
  if (s.shape.empty()) throw Error(s.name + ": a 0-D array has no rows");
  s.rows = s.shape[0];
  // A row must fit in memory on its own (1 GB): the dimensions are checked one by one.
  constexpr int64_t kMaxRowValues = int64_t{1} << 28;
  for (size_t i = 1; i < s.shape.size(); ++i) {
    if (s.shape[i] != 0 && s.row_values > kMaxRowValues / s.shape[i]) throw Error(s.name + ": rows too large");
    s.row_values *= s.shape[i];
  }
  if (s.file) {
    const uint64_t data_bytes = s.file->size() - std::min<uint64_t>(s.file->size(), kPreambleBytes + header_len);
    const uint64_t row_bytes = uint64_t(s.row_values) * 4;
    if (row_bytes ? data_bytes % row_bytes != 0 || data_bytes / row_bytes != uint64_t(s.rows) : data_bytes != 0) {
      throw Error(s.name + ": its shape does not match the " + std::to_string(data_bytes) + " data bytes in the file");
    }
  }
}

NpyReader::~NpyReader() = default;
const std::vector<int64_t>& NpyReader::shape() const { return state_->shape; }
int64_t NpyReader::rows() const { return state_->rows; }
int64_t NpyReader::row_values() const { return state_->row_values; }

std::vector<float> NpyReader::read_rows(int64_t rows) {
  State& s = *state_;
  const int64_t n = std::clamp<int64_t>(rows, 0, s.rows - s.read);
  std::vector<float> values(size_t(n * s.row_values));
  s.fill_exactly({reinterpret_cast<uint8_t*>(values.data()), values.size() * sizeof(float)},
                 "after " + std::to_string(s.read) + " of " + std::to_string(s.rows) + " rows");
  s.read += n;
  uint8_t extra;
  if (n > 0 && s.read == s.rows && s.fill({&extra, 1}) != 0) {
    throw Error(s.name + ": more data than its shape (" + std::to_string(s.rows) + " rows) says");
  }
  return values;
}

struct NpyWriter::State {
  io::OutputFile output;
  uint64_t expected = 1, written = 0;
  explicit State(const std::string& path) : output(path) {}
};

NpyWriter::NpyWriter(const std::string& path, std::vector<int64_t> shape) : state_(std::make_unique<State>(path)) {
  for (int64_t d : shape) {
    if (d < 0) throw Error("cannot write '" + path + "': negative dimension");
    state_->expected *= uint64_t(d);
  }
  state_->output.write(npy_header(shape));
}

NpyWriter::~NpyWriter() = default;

void NpyWriter::append(std::span<const float> values) {
  state_->output.write({reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()});
  state_->written += values.size();
}

void NpyWriter::commit() {
  if (state_->written != state_->expected) {
    throw Error("'" + state_->output.path() + "': " + std::to_string(state_->written) + " values for a shape of " +
                std::to_string(state_->expected));
  }
  state_->output.commit();
}

}  // namespace fastwave
