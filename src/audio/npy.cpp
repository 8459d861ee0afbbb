// float32 .npy files (NumPy format version 1.0), little-endian, C order.
#include <cstring>
#include <fstream>
#include <regex>

#include "fastwave/audio.h"
#include "fastwave/error.h"

namespace fastwave {

void write_npy(const std::string& path, std::span<const float> values, std::vector<int64_t> shape) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.resize(total - 10 - 1, ' ');
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                uint8_t(header.size() & 0xFF), uint8_t(header.size() >> 8)};
  bytes.insert(bytes.end(), header.begin(), header.end());
  const auto* data = reinterpret_cast<const uint8_t*>(values.data());
  bytes.insert(bytes.end(), data, data + values.size_bytes());
  write_file_atomically(path, bytes);
}

std::vector<float> read_npy(const std::string& path, std::vector<int64_t>* shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  char magic[10];
  if (!in.read(magic, 10) || std::memcmp(magic, "\x93NUMPY", 6) != 0 || magic[6] != 1) {
    throw Error("'" + path + "' is not a version 1 .npy file");
  }
  const size_t header_len = uint8_t(magic[8]) | (size_t(uint8_t(magic[9])) << 8);
  std::string header(header_len, '\0');
  if (!in.read(header.data(), std::streamsize(header_len))) throw Error("'" + path + "': truncated header");
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr': *'<f4'")) ||
      !std::regex_search(header, m, std::regex("'fortran_order': *False"))) {
    throw Error("'" + path + "' must hold little-endian float32 in C order");
  }
  if (!std::regex_search(header, m, std::regex("'shape': *\\(([0-9, ]*)\\)"))) {
    throw Error("'" + path + "': no shape");
  }
  std::vector<int64_t> dims;
  const std::string shape_text = m[1];
  const std::regex number("[0-9]+");
  int64_t count = 1;
  for (auto it = std::sregex_iterator(shape_text.begin(), shape_text.end(), number); it != std::sregex_iterator(); ++it) {
    dims.push_back(std::stoll(it->str()));
    if (dims.back() > (int64_t(1) << 34) || count * std::max<int64_t>(dims.back(), 1) > (int64_t(1) << 34)) {
      throw Error("'" + path + "': shape too large");
    }
    count *= dims.back();
  }
  std::vector<float> values(static_cast<size_t>(count));
  if (!in.read(reinterpret_cast<char*>(values.data()), std::streamsize(count * 4))) {
    throw Error("'" + path + "': truncated data");
  }
  if (shape) *shape = dims;
  return values;
}

}  // namespace fastwave
