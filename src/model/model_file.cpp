// Reading and writing the safetensors-layout model file (docs/model-format.md).
// The reader treats the file as hostile: every number is checked before it is used.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "fastwave/audio.h"
#include "fastwave/error.h"
#include "fastwave/model.h"
#include "io/input_file.h"

namespace fastwave {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;
// Version 1 holds float tensors only; version 2 adds quantized tensors and their schemes.
constexpr int kFloatFormatVersion = 1;
constexpr int kQuantizedFormatVersion = 2;
constexpr size_t kDataAlignment = 64;
// Larger than any model this engine could run at a useful speed (the shipped ones are 3 MB).
constexpr uint64_t kMaxModelFileBytes = uint64_t{4} << 30;

DType parse_dtype(const std::string& name, const std::string& tensor) {
  for (DType d : {DType::F32, DType::BF16, DType::I8, DType::U8}) {
    if (name == dtype_name(d)) return d;
  }
  throw Error("tensor '" + tensor + "' has unsupported dtype '" + name + "'");
}

struct Entry {
  std::string name;
  Tensor tensor;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const nlohmann::json& info, uint64_t data_size) {
  if (!info.is_object()) throw Error("tensor '" + name + "': header entry is not an object");
  Entry e;
  e.name = name;
  const auto dtype = info.find("dtype");
  const auto shape = info.find("shape");
  const auto offsets = info.find("data_offsets");
  if (dtype == info.end() || !dtype->is_string()) throw Error("tensor '" + name + "': no dtype");
  if (shape == info.end() || !shape->is_array()) throw Error("tensor '" + name + "': no shape");
  if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2) {
    throw Error("tensor '" + name + "': data_offsets must be [begin, end]");
  }
  e.tensor.dtype = parse_dtype(dtype->get<std::string>(), name);
  uint64_t numel = 1;
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned()) throw Error("tensor '" + name + "': shape holds a non-size");
    const uint64_t dim = d.get<uint64_t>();
    if (dim != 0 && numel > (uint64_t{1} << 40) / dim) throw Error("tensor '" + name + "': shape too large");
    numel *= dim;
    e.tensor.shape.push_back(static_cast<int64_t>(dim));
  }
  for (const auto& o : *offsets) {
    if (!o.is_number_unsigned()) throw Error("tensor '" + name + "': data_offsets must be sizes");
  }
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.begin > e.end || e.end > data_size) {
    throw Error("tensor '" + name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                std::to_string(e.end) + ") lie outside the " + std::to_string(data_size) +
                "-byte data section (truncated file?)");
  }
  if (e.end - e.begin != numel * dtype_size(e.tensor.dtype)) {
    throw Error("tensor '" + name + "': " + std::to_string(e.end - e.begin) +
                " bytes do not match its dtype and shape");
  }
  return e;
}

SchemeMap parse_schemes(const nlohmann::json& meta) {
  SchemeMap schemes;
  const auto text = meta.find("quantization");
  if (text == meta.end()) return schemes;
  if (!text->is_string()) throw Error("__metadata__.quantization must be a JSON string");
  const auto j = nlohmann::json::parse(text->get<std::string>(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw Error("__metadata__.quantization is not a JSON object");
  for (const auto& [name, entry] : j.items()) {
    if (!entry.is_object() || !entry.contains("scheme") || !entry["scheme"].is_string()) {
      throw Error("quantization entry for '" + name + "' has no scheme");
    }
    TensorScheme scheme;
    scheme.scheme = parse_scheme(entry["scheme"].get<std::string>());
    if (entry.contains("group_size")) {
      // Read as 64 bits and range-checked: 2^32+8 must not wrap to a valid 8.
      const auto& size = entry["group_size"];
      const bool fits = size.is_number_integer() && !(size.is_number_unsigned() && size.get<uint64_t>() > INT32_MAX);
      const int64_t value = fits ? size.get<int64_t>() : -1;
      if (value <= 0 || value > INT32_MAX) {
        throw Error("quantization entry for '" + name + "': group_size " + size.dump() + " is not a positive int32");
      }
      scheme.group_size = static_cast<int>(value);
    }
    schemes.emplace(name, scheme);
  }
  return schemes;
}

}  // namespace

Model Model::load(const std::string& path) {
  // Read once into the buffer the model's tensors then view: no copy of the weights.
  auto file = std::make_shared<const std::vector<uint8_t>>(io::read_file(path, "model file", kMaxModelFileBytes));
  return parse(std::move(file), path);
}

Model Model::parse(std::span<const uint8_t> file, const std::string& name) {
  std::shared_ptr<const std::vector<uint8_t>> copy;
  try {
    copy = std::make_shared<const std::vector<uint8_t>>(file.begin(), file.end());
  } catch (const std::bad_alloc&) {
    throw Error("'" + name + "': out of memory while loading the model");
  }
  return parse(std::move(copy), name);
}

Model Model::parse(std::shared_ptr<const std::vector<uint8_t>> buffer, const std::string& name) {
  try {
    if (!buffer) throw Error("no bytes to parse");
    const std::span<const uint8_t> file(*buffer);
    if (file.size() < 8) throw Error("file is shorter than the 8-byte header length");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[i];
    if (header_len < 2 || header_len > kMaxHeaderBytes || header_len > file.size() - 8) {
      throw Error("header length " + std::to_string(header_len) + " does not fit a " +
                  std::to_string(file.size()) + "-byte file (not a model file, or truncated)");
    }
    const char* header_begin = reinterpret_cast<const char*>(file.data() + 8);
    const auto header = nlohmann::json::parse(header_begin, header_begin + header_len, nullptr,
                                              /*allow_exceptions=*/false);
    if (!header.is_object()) throw Error("header is not a JSON object (corrupt file?)");

    const auto meta = header.find("__metadata__");
    if (meta == header.end() || !meta->is_object()) throw Error("header has no __metadata__");
    const auto format = meta->find("format");
    if (format == meta->end() || !format->is_string() || format->get<std::string>() != "fastwave") throw Error("__metadata__.format is not \"fastwave\"");
    const auto version_field = meta->find("format_version");
    const std::string version =
        version_field != meta->end() && version_field->is_string() ? version_field->get<std::string>() : "";
    if (version != std::to_string(kFloatFormatVersion) && version != std::to_string(kQuantizedFormatVersion)) {
      throw Error("format_version " + (version_field == meta->end() ? "(missing)" : version_field->dump()) + " is not supported (this build reads the strings \"" +
                  std::to_string(kFloatFormatVersion) + "\" and \"" + std::to_string(kQuantizedFormatVersion) + "\")");
    }
    const auto config_text = meta->find("config");
    if (config_text == meta->end() || !config_text->is_string()) {
      throw Error("__metadata__.config is missing");
    }
    const ModelConfig config = ModelConfig::from_json(config_text->get<std::string>());
    const SchemeMap schemes = parse_schemes(*meta);
    const bool float_only = version == std::to_string(kFloatFormatVersion);
    if (float_only && !schemes.empty()) throw Error("format_version 1 holds float tensors only, yet lists quantization schemes");

    const uint64_t data_begin = 8 + header_len;
    const uint64_t data_size = file.size() - data_begin;
    std::vector<Entry> entries;
    for (const auto& [name, info] : header.items()) {
      if (name == "__metadata__") continue;
      entries.push_back(parse_entry(name, info, data_size));
      if (float_only && entries.back().tensor.dtype != DType::F32) {
        throw Error("tensor '" + name + "' is " + dtype_name(entries.back().tensor.dtype) +
                    ", but format_version 1 holds float tensors only");
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
    uint64_t covered = 0;
    for (const auto& e : entries) {
      if (e.begin < covered) throw Error("tensor '" + e.name + "' overlaps another tensor");
      if (e.begin > covered) throw Error("gap in the data section before tensor '" + e.name + "'");
      covered = e.end;
    }
    if (covered != data_size) {
      throw Error(std::to_string(data_size - covered) + " trailing bytes after the last tensor");
    }

    std::map<std::string, Tensor> tensors;
    for (auto& e : entries) {
      const std::span<const uint8_t> bytes = file.subspan(data_begin + e.begin, e.end - e.begin);
      // Views in place need each element aligned, which files that save() writes always
      // are (a 64-byte aligned data section, larger elements first) when the buffer is;
      // a foreign file's misaligned tensor is copied instead.
      if (reinterpret_cast<uintptr_t>(bytes.data()) % dtype_size(e.tensor.dtype) == 0) {
        e.tensor.bytes = TensorBytes(buffer, bytes);
      } else {
        e.tensor.bytes = std::vector<uint8_t>(bytes.begin(), bytes.end());
      }
      tensors.emplace(e.name, std::move(e.tensor));
    }
    return Model(config, std::move(tensors), schemes);
  } catch (const Error& e) {
    throw Error("'" + name + "': " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error("'" + name + "': out of memory while loading the model");
  } catch (const std::exception& e) {
    // Only fastwave::Error leaves the library: JSON type errors and the like become one.
    throw Error("'" + name + "': malformed model file: " + e.what());
  }
}

void Model::save(const std::string& path) const { write_file_atomically(path, serialize()); }

std::vector<uint8_t> Model::serialize() const {
  // Larger elements first keeps every tensor aligned to its element size.
  std::vector<TensorSpec> order = expected_tensors(config_, schemes_);
  std::stable_sort(order.begin(), order.end(), [&](const TensorSpec& a, const TensorSpec& b) {
    return dtype_size(tensor(a.name).dtype) > dtype_size(tensor(b.name).dtype);
  });

  nlohmann::ordered_json header;
  header["__metadata__"] = {
      {"format", "fastwave"},
      {"format_version", std::to_string(schemes_.empty() ? kFloatFormatVersion : kQuantizedFormatVersion)},
      {"config", config_.to_json()}};
  if (!schemes_.empty()) {
    nlohmann::ordered_json q;
    for (const auto& [name, scheme] : schemes_) {
      q[name] = {{"scheme", scheme_name(scheme.scheme)}};
      if (scheme.group_size) q[name]["group_size"] = scheme.group_size;
    }
    header["__metadata__"]["quantization"] = q.dump();
  }
  uint64_t offset = 0;
  for (const auto& spec : order) {
    const Tensor& t = tensor(spec.name);
    header[spec.name] = {{"dtype", dtype_name(t.dtype)},
                         {"shape", t.shape},
                         {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.resize((text.size() + 8 + kDataAlignment - 1) / kDataAlignment * kDataAlignment - 8, ' ');

  std::vector<uint8_t> file(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) file[i] = static_cast<uint8_t>(uint64_t{text.size()} >> (8 * i));
  std::memcpy(file.data() + 8, text.data(), text.size());
  uint8_t* data = file.data() + 8 + text.size();
  for (const auto& spec : order) {
    const Tensor& t = tensor(spec.name);
    std::memcpy(data, t.bytes.data(), t.bytes.size());
    data += t.bytes.size();
  }
  return file;
}

}  // namespace fastwave
